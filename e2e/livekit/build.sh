#!/usr/bin/env bash
# Builds livekit-server (the version pinned in go.mod here) into bin/ unless it
# is already there, and prints its path. A cold build takes 3-6 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin/livekit-server"
want="$(cd "$here" && go list -m -f '{{.Version}}' github.com/livekit/livekit-server)"
if [[ -x "$bin" && -f "$bin.version" && "$(cat "$bin.version")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi
echo "building livekit-server $want (first time only, 3-6 minutes)..." >&2
mkdir -p "$here/bin"
(cd "$here" && go build -buildvcs=false -trimpath -o "$bin.tmp" github.com/livekit/livekit-server/cmd/server)
mv "$bin.tmp" "$bin"
echo "$want" > "$bin.version"
echo "$bin"
