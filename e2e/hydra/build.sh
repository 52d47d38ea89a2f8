#!/usr/bin/env bash
# Builds Ory Hydra (the version pinned in go.mod here) into bin/ unless it is
# already there, and prints its path. cgo and the sqlite tags are needed: the
# suite runs Hydra on a throwaway sqlite file. A cold build takes a few minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/hydra"
want="$(cd "$here" && go list -m -f '{{.Version}}' github.com/ory/hydra/v2)"
if [[ -x "$bin" && -f "$bin.version" && "$(cat "$bin.version")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi
echo "building Ory Hydra $want (first time only, a few minutes)..." >&2
mkdir -p "$here/bin"
(cd "$here" && CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension -o "$bin.tmp" github.com/ory/hydra/v2)
mv "$bin.tmp" "$bin"
echo "$want" > "$bin.version"
echo "$bin"
