#!/usr/bin/env bash
# Puts a static linux/amd64 lktoken next to host.json, ready for
# `func azure functionapp publish <app>` (Azure Functions Core Tools) or a zip
# deployment of this directory. Run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=auto -ldflags '-s -w' -o "$here/lktoken" ./cmd/lktoken
echo "$here/lktoken"
