#!/usr/bin/env bash
# Builds the publishable package: compiles it (build:lib), stages what npm
# publishes in dist/package/ with a clean package.json (no scripts, no dev
# dependencies, no overrides: nothing that points at ../gen or this
# repository's tooling) and a PROVENANCE.json naming the commit, the proto
# files (SHA-256) and the generators the code in dist/gen came from, then
# packs it into <outdir>/lktoken-web-client-<version>.tgz and prints that path.
#
#   scripts/pack.sh [outdir]      (default: dist/ of this package)
#   npm publish dist/package      # when the time comes
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(dirname "$web")"
out="$(mkdir -p "${1:-$web/dist}" && cd "${1:-$web/dist}" && pwd)"
stage="$web/dist/package"

cd "$web"
npm run --silent build:lib >&2
rm -rf "$stage"
mkdir -p "$stage/dist"
cp -R dist/web-client dist/gen "$stage/dist/"
cp README.md "$stage/"

node --input-type=module - "$stage" "$repo" <<'JS'
import { readFileSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { join, relative } from "node:path";
const [stage, repo] = process.argv.slice(2);
const src = JSON.parse(readFileSync("package.json", "utf8"));
// Only what a consumer's npm reads. Versions of the runtime dependencies stay
// as the source pins them.
const keep = ["name", "version", "description", "license", "keywords", "type", "sideEffects", "exports",
  "dependencies", "peerDependencies", "peerDependenciesMeta", "engines", "repository", "publishConfig"];
const pkg = Object.fromEntries(keep.filter((k) => k in src).map((k) => [k, src[k]]));
pkg.files = ["dist/", "README.md", "PROVENANCE.json"];
writeFileSync(join(stage, "package.json"), JSON.stringify(pkg, null, 2) + "\n");

const git = (...args) => { try { return execFileSync("git", ["-C", repo, ...args], { encoding: "utf8" }).trim(); } catch { return ""; } };
const files = [];
const walk = (d) => { for (const n of readdirSync(d).sort()) { const p = join(d, n); statSync(p).isDirectory() ? walk(p) : p.endsWith(".proto") && files.push(p); } };
walk(join(repo, "proto"));
const lock = JSON.parse(readFileSync("package-lock.json", "utf8")).packages;
const provenance = {
  note: "dist/gen holds code generated from these proto files by `make generate` (buf.gen.yaml, buf.gen.web-core.yaml); never edited by hand",
  commit: git("rev-parse", "HEAD") || null,
  dirty: git("status", "--porcelain", "--", "proto", "gen", "web-client/src") !== "",
  proto: Object.fromEntries(files.map((f) => [relative(repo, f), createHash("sha256").update(readFileSync(f)).digest("hex")])),
  generators: {
    "@bufbuild/buf": lock["node_modules/@bufbuild/buf"]?.version,
    "@bufbuild/protoc-gen-es": lock["node_modules/@bufbuild/protoc-gen-es"]?.version,
  },
};
writeFileSync(join(stage, "PROVENANCE.json"), JSON.stringify(provenance, null, 2) + "\n");
JS

tarball="$(cd "$out" && npm pack --silent "$stage" | tail -1)"
echo "$out/$tarball"
