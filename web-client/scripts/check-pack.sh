#!/usr/bin/env bash
# Proves the package as published works for a consumer: packs it
# (scripts/pack.sh: build:lib, a clean package.json, PROVENANCE.json), checks
# the published package.json and `npm publish --dry-run`, unpacks it into a
# scratch project's node_modules next to this package's dependencies (linked,
# no network), then imports every entry point with Node and type-checks a
# consumer with TypeScript under NodeNext and Bundler resolution.
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tarball="$(basename "$("$web/scripts/pack.sh" "$tmp")")"
mkdir -p "$tmp/app/node_modules/@lktoken/web-client"
tar -xzf "$tmp/$tarball" -C "$tmp/app/node_modules/@lktoken/web-client" --strip-components=1

# The published package.json: only what a consumer's npm reads.
node --input-type=module - "$tmp/app/node_modules/@lktoken/web-client" <<'JS'
import { readFileSync } from "node:fs";
const dir = process.argv[2];
const pkg = JSON.parse(readFileSync(`${dir}/package.json`, "utf8"));
const fail = (m) => { console.error(`check-pack: published package.json: ${m}`); process.exit(1); };
for (const k of ["scripts", "devDependencies", "overrides"]) if (k in pkg) fail(`has ${k}`);
if (JSON.stringify(pkg).includes("../gen")) fail("points at ../gen");
for (const e of [".", "./angular", "./validation", "./livekit"]) {
  const x = pkg.exports?.[e];
  if (!x?.types || !x?.default) fail(`exports ${e} lacks types or default`);
  for (const f of [x.types, x.default]) readFileSync(`${dir}/${f}`);
}
if (!pkg.engines?.node) fail("no engines.node");
for (const p of ["@angular/core", "livekit-client"]) if (!pkg.peerDependenciesMeta?.[p]?.optional) fail(`${p} is not an optional peer`);
const prov = JSON.parse(readFileSync(`${dir}/PROVENANCE.json`, "utf8"));
if (!prov.proto?.["proto/lktoken/v1/token_service.proto"] || !prov.generators?.["@bufbuild/protoc-gen-es"]) fail("PROVENANCE.json incomplete");
JS
(cd "$tmp" && npm publish --dry-run --silent "./$tarball" >/dev/null 2>&1) || { echo "check-pack: npm publish --dry-run failed" >&2; exit 1; }
for dep in "$web"/node_modules/* "$web"/node_modules/@*/*; do
  name="${dep#"$web"/node_modules/}"
  [[ "$name" == @lktoken/* || -e "$tmp/app/node_modules/$name" ]] && continue
  mkdir -p "$(dirname "$tmp/app/node_modules/$name")"
  ln -s "$dep" "$tmp/app/node_modules/$name"
done
if find "$tmp/app/node_modules/@lktoken/web-client" -name '*.ts' ! -name '*.d.ts' | grep -q .; then
  echo "check-pack: TypeScript sources in the package" >&2; exit 1
fi

cd "$tmp/app"
echo '{ "name": "consumer", "private": true, "type": "module" }' > package.json
cat > consumer.ts <<'TS'
import { createTokenClient, violationsFromError, expiresAtDate, GenerateTokenRequestSchema, type GenerateTokenResponse, type FieldErrors } from "@lktoken/web-client";
import { validateTokenRequest } from "@lktoken/web-client/validation";
import { provideTokenClient, TOKEN_CLIENT } from "@lktoken/web-client/angular";
import { tokenSource } from "@lktoken/web-client/livekit";
import type { TokenSourceConfigurable } from "livekit-client";
const source: TokenSourceConfigurable = tokenSource(createTokenClient("/"), { participantIdentity: "u" });
const client = createTokenClient("http://127.0.0.1:8080", { validate: () => import("@lktoken/web-client/validation"), getAccessToken: () => "t" });
const expires: (res: GenerateTokenResponse) => Date = expiresAtDate;
const pending: Promise<GenerateTokenResponse> = client.generateToken({ roomName: "r", participantIdentity: "u" });
const errors: FieldErrors = validateTokenRequest({ roomName: " ", participantIdentity: "u" });
const roomError: string | undefined = errors.roomName;
// Guards against types silently degrading to any (an unresolved import):
// @ts-expect-error roomName is a string
const wrong: number = errors.roomName;
// @ts-expect-error generateToken takes the typed request
void client.generateToken({ roomName: 1 });
export { pending, roomError, wrong, expires, source, violationsFromError, GenerateTokenRequestSchema, provideTokenClient, TOKEN_CLIENT };
TS
for res in NodeNext Bundler; do
  mod=NodeNext; [[ $res == Bundler ]] && mod=ES2022
  "$web/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck --target ES2022 --lib ES2022,DOM \
    --module "$mod" --moduleResolution "$res" consumer.ts
done
node --input-type=module -e '
  const m = await import("@lktoken/web-client");
  const a = await import("@lktoken/web-client/angular");
  const v = await import("@lktoken/web-client/validation");
  const l = await import("@lktoken/web-client/livekit");
  if (typeof l.tokenSource !== "function") process.exit(1);
  const got = JSON.stringify(v.validateTokenRequest({ roomName: " ", participantIdentity: "a#b" }));
  const want = JSON.stringify({ roomName: "must not be only whitespace", participantIdentity: "must not contain \x27#\x27 (LiveKit reserves it in identities)" });
  if (got !== want) { console.error("check-pack: got", got); process.exit(1); }
  if (typeof m.createTokenClient !== "function" || typeof a.provideTokenClient !== "function") process.exit(1);
'
echo "check-pack: $tarball imports and type-checks as a dependency ($(tar -tzf "$tmp/$tarball" | wc -l) files)"
