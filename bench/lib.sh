# Sourced by bench/oidc.sh and bench/ratelimit.sh (not run itself): the
# setting up, the server's lifecycle and the medians, shared by the A/B runs.

# bench_prepare NAME TOOLS...: checks the tools, exports lktoken's settings,
# builds lktoken into $OUT (or copies $LKTOKEN_BIN) and sets TICK, ROUTE and
# LOGDIR (on tmpfs when there is one); bench_cleanup PIDS... stops those
# processes and removes LOGDIR (call it from an EXIT trap).
bench_prepare() {
  local name=$1 tool
  shift
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run 'make bench-deps'" >&2; exit 1; }
  done
  TICK=$(getconf CLK_TCK)
  export LIVEKIT_API_KEY=bench-key
  export LIVEKIT_API_SECRET=bench-secret-0123456789abcdef0123456789abcdef
  export LIVEKIT_URL=wss://livekit.example.test
  export LKTOKEN_LOG_LEVEL=info
  export LKTOKEN_ALLOWED_ORIGINS=http://localhost:4200 # required outside --dev
  export LKTOKEN_DRAIN_DELAY=0                         # no balancer here: stop at once after SIGTERM
  echo "== building into $OUT"
  if [ -n "${LKTOKEN_BIN:-}" ]; then cp "$LKTOKEN_BIN" "$OUT/lktoken"; else go build -trimpath -o "$OUT/lktoken" ./cmd/lktoken; fi
  ROUTE=/lktoken.v1.TokenService/GenerateToken
  LOGDIR=$OUT
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then LOGDIR=$(mktemp -d "/dev/shm/lktoken-bench-$name.XXXXXX"); fi
}
bench_cleanup() {
  local p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  [ "$LOGDIR" = "$OUT" ] || rm -rf "$LOGDIR"
}

# wait_server KIND LOG: after lktoken was started in the background with
# `--listen 127.0.0.1:0 2>LOG`, sets SERVER_PID and ADDR once its
# "listening" line is logged and /readyz answers 200; exits otherwise.
wait_server() {
  local kind=$1 log=$2
  SERVER_PID=$!
  ADDR=
  for _ in $(seq 1 500); do
    ADDR=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$log" | head -1)
    if [ -n "$ADDR" ] && curl -fsS -o /dev/null "http://$ADDR/readyz"; then return 0; fi
    sleep 0.02
  done
  echo "bench: lktoken ($kind) did not become ready:" >&2; cat "$log" >&2; exit 1
}
stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
# ticks PID: the process's user+system time so far, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# median_ratio RESULTS BASE KIND COLUMN: the median over rounds of KIND/BASE
# for column 3 (req/s) or BASE/KIND for any other (CPU per request), where
# RESULTS holds "round kind columns..." lines.
median_ratio() {
  awk -v b="$2" -v k="$3" -v c="$4" '{v[$1, $2] = $c; r[$1] = 1} END {for (x in r) print (c == 3 ? v[x, k] / v[x, b] : v[x, b] / v[x, k])}' "$1" |
    sort -g | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)]}'
}
