#!/usr/bin/env bash
# Builds Ory Hydra (the version pinned in go.mod here) into bin/ unless it is
# already there, and prints its path. cgo and the sqlite tags are needed: the
# suite runs Hydra on a throwaway sqlite file. A cold build takes a few minutes.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../cached-build.sh"
cached_build "$here" hydra github.com/ory/hydra/v2 github.com/ory/hydra/v2 "a few minutes" \
  env CGO_ENABLED=1 go build -tags sqlite,sqlite_omit_load_extension
