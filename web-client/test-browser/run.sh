#!/usr/bin/env bash
# Runs the real-browser suite inside a network namespace that has only `lo`
# (Chromium pairs loopback ICE candidates only then; see e2e/README.md). Builds
# what it needs first, outside the namespace: lktoken (unless LKTOKEN_BIN is
# set) and livekit-server (e2e/livekit/build.sh, cached). Needs the example
# app built (`npm run build`), Debian's chromium, and root or user namespaces.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
web="$(dirname "$here")"
repo="$(dirname "$web")"

if [[ -z "${LKTOKEN_IN_NETNS:-}" ]]; then
  test -f "$web/dist/example/browser/index.html" || { echo "test:browser: run 'npm run build' first" >&2; exit 1; }
  test -x "${CHROMIUM_BIN:-/usr/bin/chromium}" || { echo "test:browser: no Chromium at ${CHROMIUM_BIN:-/usr/bin/chromium} (apt-get install chromium; make deps)" >&2; exit 1; }
  if [[ -z "${LKTOKEN_BIN:-}" ]]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$repo" && go build -o "$tmp/lktoken" ./cmd/lktoken)
    export LKTOKEN_BIN="$tmp/lktoken"
  fi
  LIVEKIT_BIN="$("$repo/e2e/livekit/build.sh")"
  export LIVEKIT_BIN
  if [[ -z "${HYDRA_BIN:-}" ]]; then
    HYDRA_BIN="$("$repo/e2e/hydra/build.sh")" # Ory Hydra for the sign-in test (cached)
    export HYDRA_BIN
  fi
  userns=()
  [[ "$(id -u)" == 0 ]] || userns=(--user --map-root-user)
  # Not exec: the trap above removes the temporary lktoken afterwards.
  LKTOKEN_IN_NETNS=1 unshare "${userns[@]}" --net "$0" "$@"
  exit $?
fi

ip link set lo up
cd "$web"
exec node_modules/.bin/vitest run --config vitest.browser.config.ts "$@"
