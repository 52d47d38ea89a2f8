#!/usr/bin/env bash
# Builds livekit-server (the version pinned in go.mod here) into bin/ unless it
# is already there, and prints its path. A cold build takes 3-6 minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../cached-build.sh"
cached_build "$here" livekit-server github.com/livekit/livekit-server \
  github.com/livekit/livekit-server/cmd/server "3-6 minutes" \
  go build -buildvcs=false -trimpath
