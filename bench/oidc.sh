#!/usr/bin/env bash
# `make bench`'s OpenID Connect run (issue 11): lktoken with caller
# authentication on (a verified RS256 access token on every request, the
# room policy evaluated) against the same binary with authentication off, in
# the same rounds, for callers that reuse their token as a browser does.
# Target: throughput with OIDC >= 0.7 x without.
#
# The provider is bench/oidcprovider (discovery + JWKS on 127.0.0.1, one
# token). Server pinned to SERVER_CPU, wrk (HTTP/1.1, Connect JSON, 100
# connections) on LOAD_CPU. Knobs: ROUNDS (3), DURATION (5), WARMUP (1),
# SERVER_CPU (0), LOAD_CPU (1), CONNS (100), OUT, LKTOKEN_BIN.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
CONNS=${CONNS:-100}
OUT=${OUT:-$(mktemp -d /tmp/lktoken-bench-oidc.XXXXXX)}
mkdir -p "$OUT"
bench_prepare oidc wrk taskset curl
go build -trimpath -o "$OUT/oidcprovider" ./bench/oidcprovider

PROVIDER_PID= SERVER_PID=
cleanup() { bench_cleanup $SERVER_PID $PROVIDER_PID; }
trap cleanup EXIT

# The provider's subject is the identity the request names: allowed.
"$OUT/oidcprovider" -audience lktoken-bench -subject user-42@example.com >"$OUT/provider.out" 2>&1 &
PROVIDER_PID=$!
for _ in $(seq 1 250); do grep -q '^issuer=' "$OUT/provider.out" && break; sleep 0.02; done
ISSUER=$(sed -n 's/^issuer=\([^ ]*\) .*/\1/p' "$OUT/provider.out")
TOKEN=$(sed -n 's/.* token=\(.*\)$/\1/p' "$OUT/provider.out")
[ -n "$TOKEN" ] || { echo "bench: the provider did not start" >&2; cat "$OUT/provider.out" >&2; exit 1; }

# start_server off|oidc LOGFILE: sets SERVER_PID and ADDR.
start_server() {
  local kind=$1 log=$2
  : >"$log"
  if [ "$kind" = oidc ]; then
    LKTOKEN_OIDC_ISSUER=$ISSUER LKTOKEN_OIDC_AUDIENCE=lktoken-bench \
      LKTOKEN_POLICY='request.room_name.startsWith(claims.org + "-") || request.room_name == "lobby"' \
      taskset -c "$SERVER_CPU" "$OUT/lktoken" --listen 127.0.0.1:0 2>"$log" &
  else
    taskset -c "$SERVER_CPU" "$OUT/lktoken" --listen 127.0.0.1:0 2>"$log" &
  fi
  wait_server "$kind" "$log"
}
cpu_ticks() { ticks "$SERVER_PID"; }

# run KIND: prints "rps p99_ms non2xx socket_errors requests cpu_us_per_request".
run() {
  local kind=$1 auth=() line t0 t1
  [ "$kind" = oidc ] && auth=(-H "Authorization: Bearer $TOKEN")
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${auth[@]}" -s bench/connect-json.lua "http://$ADDR$ROUTE" >/dev/null
  t0=$(cpu_ticks)
  line=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${DURATION}s" "${auth[@]}" -s bench/connect-json.lua "http://$ADDR$ROUTE" | grep '^RESULT')
  t1=$(cpu_ticks)
  echo "$line" | awk -v ticks="$((t1 - t0))" -v hz="$TICK" '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
    print v["rps"], v["p99_ms"], v["non2xx"], v["socket_errors"], v["requests"], ticks / hz * 1e6 / v["requests"]}'
}

RESULTS=$OUT/results.txt
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for kind in off oidc; do
    log=$LOGDIR/$kind.log
    start_server "$kind" "$log"
    # A request that must succeed before measuring (the token verifies, the policy allows).
    auth=()
    [ "$kind" = oidc ] && auth=(-H "Authorization: Bearer $TOKEN")
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "${auth[@]}" \
      --data-binary '{"roomName":"standup-room-42","participantIdentity":"user-42@example.com"}' "http://$ADDR$ROUTE")
    [ "$code" = 200 ] || { echo "bench: lktoken ($kind) answered $code" >&2; cat "$log" >&2; exit 1; }
    fig=$(run "$kind")
    stop_server
    issued=$(grep -c '"outcome":"issued"' "$log" || true)
    rm -f "$log"
    echo "$round $kind $fig $issued" | tee -a "$RESULTS" | awk '{printf "round %s auth %-4s %6.0f req/s  %5.1f us CPU/req  p99 %7.2f ms  non-2xx %d  socket errors %d  issued %d\n", $1, $2, $3, $8, $4, $5, $6, $9}'
  done
done

# Medians over rounds of: oidc/off req/s, and off/oidc CPU per request.
ratio() { median_ratio "$RESULTS" off oidc "$1"; } # COLUMN: 3 (req/s) or 8 (CPU per request)
echo "== OIDC on / auth off, medians over $ROUNDS rounds: req/s ratio $(ratio 3), CPU-per-request ratio $(ratio 8) (target >= 0.70)"
echo "raw results: $RESULTS"
