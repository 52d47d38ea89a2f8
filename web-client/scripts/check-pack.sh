#!/usr/bin/env bash
# Proves the package as published works for a consumer: packs it (npm pack
# runs prepack = build:lib), unpacks it into a scratch project's
# node_modules next to this package's dependencies (linked, no network), then
# imports both entry points with Node and type-checks a consumer with
# TypeScript under NodeNext and Bundler resolution.
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

tarball="$(cd "$web" && npm pack --silent --pack-destination "$tmp" | tail -1)"
mkdir -p "$tmp/app/node_modules/@lktoken/web-client"
tar -xzf "$tmp/$tarball" -C "$tmp/app/node_modules/@lktoken/web-client" --strip-components=1
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
export { pending, roomError, wrong, expires, violationsFromError, GenerateTokenRequestSchema, provideTokenClient, TOKEN_CLIENT };
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
  const got = JSON.stringify(v.validateTokenRequest({ roomName: " ", participantIdentity: "a#b" }));
  const want = JSON.stringify({ roomName: "must not be only whitespace", participantIdentity: "must not contain \x27#\x27 (LiveKit reserves it in identities)" });
  if (got !== want) { console.error("check-pack: got", got); process.exit(1); }
  if (typeof m.createTokenClient !== "function" || typeof a.provideTokenClient !== "function") process.exit(1);
'
echo "check-pack: $tarball imports and type-checks as a dependency ($(tar -tzf "$tmp/$tarball" | wc -l) files)"
