#!/usr/bin/env bash
# npm run example: the example app against a local lktoken in dev mode.
#   1. builds the package (build:lib; the example imports it by name) and,
#      unless LKTOKEN_BIN is set, lktoken (go build);
#   2. starts `lktoken --dev` on 127.0.0.1:8080 (LiveKit's dev key pair,
#      tokens for ws://localhost:7880, CORS for http://localhost:4200);
#   3. starts `livekit-server --dev --bind 127.0.0.1` if one is found
#      ($LIVEKIT_BIN, e2e/livekit/bin/, or on PATH) so Join connects;
#   4. serves the app with `ng serve` on http://localhost:4200 (live reload
#      of example/; after changing src/, run `npm run build:lib` again).
# Ctrl-C stops all of it. EXAMPLE_CHECK=1 starts everything, checks that the
# page is served and that a token can be had from the page's origin, and exits
# (what `make test-web` runs).
set -euo pipefail
web="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo="$(dirname "$web")"
cd "$web"
pids=()
tmp="$(mktemp -d)"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

npm run --silent build:lib
lktoken="${LKTOKEN_BIN:-}"
if [[ -z "$lktoken" ]]; then
  lktoken="$tmp/lktoken"
  (cd "$repo" && go build -o "$lktoken" ./cmd/lktoken)
fi
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
if [[ -n "${EXAMPLE_CHECK:-}" ]]; then
  # Tests take free ports, never the well-known ones.
  port="${EXAMPLE_PORT:-$(free_port)}"
  api="${EXAMPLE_API:-127.0.0.1:$(free_port)}"
else
  port="${EXAMPLE_PORT:-4200}"
  api="${EXAMPLE_API:-127.0.0.1:8080}"
fi
# Without the shell's LIVEKIT_*/LKTOKEN_* settings: the example pairs lktoken
# --dev with the local livekit-server --dev, whatever a developer exported.
unset_own=()
for v in $(compgen -e); do [[ $v == LIVEKIT_* || $v == LKTOKEN_* ]] && unset_own+=(-u "$v"); done
env "${unset_own[@]}" "$lktoken" --dev --listen "$api" --allowed-origins "http://localhost:$port" 2> >(sed 's/^/[lktoken] /' >&2) &
pids+=($!)

lk="${LIVEKIT_BIN:-}"
[[ -z "$lk" && -x "$repo/e2e/livekit/bin/livekit-server" ]] && lk="$repo/e2e/livekit/bin/livekit-server"
[[ -z "$lk" ]] && lk="$(command -v livekit-server || true)"
if [[ -n "${EXAMPLE_CHECK:-}" ]]; then
  : # the check needs no LiveKit server
elif [[ -n "$lk" ]]; then
  "$lk" --dev --bind 127.0.0.1 > >(sed 's/^/[livekit] /') 2>&1 &
  pids+=($!)
else
  echo "example: no livekit-server found (make deps builds one into e2e/livekit/bin): tokens work, Join will not connect" >&2
fi

node_modules/.bin/ng serve example --port "$port" --host localhost > >(sed 's/^/[ng serve] /') 2>&1 &
pids+=($!)

url="http://localhost:$port/?tokens=http://$api"
for _ in $(seq 1 120); do
  curl -fsS -o /dev/null "http://localhost:$port/" 2>/dev/null && break
  sleep 1
done
if [[ -n "${EXAMPLE_CHECK:-}" ]]; then
  curl -fsS "http://localhost:$port/" | grep -q "<app-root" || { echo "example: the page is not served" >&2; exit 1; }
  answer="$(curl -fsS -H "Origin: http://localhost:$port" -H 'Content-Type: application/json' \
    -D "$tmp/headers" -d '{"roomName":"example","participantIdentity":"dev"}' \
    "http://$api/lktoken.v1.TokenService/GenerateToken")"
  grep -qi "^access-control-allow-origin: http://localhost:$port" "$tmp/headers" || { echo "example: no CORS answer for the page's origin" >&2; exit 1; }
  grep -q '"serverUrl":"ws://localhost:7880"' <<<"$answer" || { echo "example: unexpected answer: ${answer//eyJ*([^\"])/[token]}" >&2; exit 1; }
  # And in Chromium, as served by ng serve (Vite): a bad room is refused by
  # the lazily loaded validation, a good one gets a token (Join then fails
  # to connect: the check starts no LiveKit server).
  EXAMPLE_URL="$url" node --input-type=module <<'JS'
import { chromium } from "playwright-core";
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
try {
  const page = await browser.newPage();
  await page.goto(process.env.EXAMPLE_URL);
  await page.fill("#room", "   ");
  await page.fill("#identity", "dev");
  await page.click("button[type=submit]");
  const err = await page.getByTestId("error-roomName").textContent({ timeout: 30_000 });
  if (err !== "must not be only whitespace") throw new Error(`field error: ${err}`);
  await page.fill("#room", "example");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.querySelector("[data-testid=expires]")?.textContent !== "-", undefined, { timeout: 30_000 });
} finally {
  await browser.close();
}
JS
  echo "example: OK (ng serve on http://localhost:$port: field errors and a token from lktoken --dev on $api, in Chromium)"
  exit 0
fi
echo
echo "  open $url"
echo "  (Ctrl-C stops ng serve, lktoken and livekit-server)"
echo
wait -n "${pids[@]}"
