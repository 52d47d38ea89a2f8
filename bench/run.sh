#!/usr/bin/env bash
# Load benchmark of lktoken against the connect-go floor (and a bare net/http
# ceiling), in one run.
# `make bench` runs it; docs/BENCHMARKS.md explains the figures.
#
# Each round starts a fresh server per scenario (so its peak RSS is that
# scenario's), pinned to one core, and drives it from the other core:
#   h1-c100   wrk, HTTP/1.1, Connect JSON POST, 100 connections
#   h1-c1000  wrk, HTTP/1.1, Connect JSON POST, 1000 connections
#   h2-c100   h2load, cleartext HTTP/2, Connect binary (application/proto), 100 connections
# Both send Accept-Encoding: gzip, as browsers and connect-go clients do.
# for each target: lktoken; connect-floor (bench/connectfloor: lktoken's
# generated handler with its Connect options answering a prepared message, no
# middleware, no interceptors: what connect-go itself costs); ceiling
# (bench/ceiling: a bare net/http handler answering a static body of
# lktoken's answer size). lktoken is reported against the floor (the targets
# of issue 10 are ratios to it) and, for reference, against the ceiling.
# Every measured run follows a warm-up run. Two throughput ratios are
# reported: of req/s in the same round, and of CPU time per request (the
# server's user+system time over the requests answered). On a shared machine
# the second holds best: it does not depend on how much of its core the
# server was given. Then start-up: exec to first token, median of
# STARTUP_RUNS, for lktoken and for the floor.
#
# The audit log is on (info level) and goes to a file, not /dev/null: the
# writes are real, and the number of "mint" lines is checked against the
# requests the load generator saw answered. The file is on tmpfs (/dev/shm,
# when there is one): on a shared machine another process's disk writeback
# can otherwise throttle ours for seconds (lktoken blocks rather than drops
# audit lines), which would measure the disk, not the service.
#
# Knobs (environment): ROUNDS (3), DURATION seconds per run (5), WARMUP (1),
# SERVER_CPU (0), LOAD_CPU (1), STARTUP_RUNS (10), OUT (a temp dir),
# LKTOKEN_BIN (a binary to measure instead of building ./cmd/lktoken),
# LKTOKEN_GOGC (GOGC for lktoken alone, e.g. 100 to measure it with Go's
# default instead of its own, cmd/lktoken/gc.go),
# TARGETS ("ceiling connect-floor lktoken"; the summary needs connect-floor
# and ceiling for its ratios and leaves out those it cannot compute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
STARTUP_RUNS=${STARTUP_RUNS:-10}
TARGETS=${TARGETS:-ceiling connect-floor lktoken}
OUT=${OUT:-$(mktemp -d /tmp/lktoken-bench.XXXXXX)}
mkdir -p "$OUT"

for tool in wrk h2load taskset curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run 'make bench-deps' (as root) or install wrk nghttp2-client util-linux curl" >&2; exit 1; }
done
# 1000 connections need more than the usual 1024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TICK=$(getconf CLK_TCK)

export LIVEKIT_API_KEY=bench-key
export LIVEKIT_API_SECRET=bench-secret-0123456789abcdef0123456789abcdef
export LIVEKIT_URL=wss://livekit.example.test
export LKTOKEN_ALLOWED_ORIGINS=http://localhost:4200
export LKTOKEN_DRAIN_DELAY=0 # no balancer here: stop at once after SIGTERM
export LKTOKEN_LOG_LEVEL=info

echo "== building into $OUT"
if [ -n "${LKTOKEN_BIN:-}" ]; then
  cp "$LKTOKEN_BIN" "$OUT/lktoken"
else
  go build -trimpath -o "$OUT/lktoken" ./cmd/lktoken
fi
go build -trimpath -o "$OUT/ceiling" ./bench/ceiling
go build -trimpath -o "$OUT/connectfloor" ./bench/connectfloor
go build -trimpath -o "$OUT/startup" ./bench/startup
# The Connect binary request: the same fields as the JSON one.
printf '\x0a\x0fstandup-room-42\x12\x13user-42@example.com\x1a\x0cAda Lovelace' >"$OUT/request.bin"
ROUTE=/lktoken.v1.TokenService/GenerateToken

LOGDIR=$OUT
if [ -d /dev/shm ] && [ -w /dev/shm ]; then LOGDIR=$(mktemp -d /dev/shm/lktoken-bench.XXXXXX); fi

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap 'stop_server; [ "$LOGDIR" = "$OUT" ] || rm -rf "$LOGDIR"' EXIT

# start_server lktoken|ceiling|connect-floor LOGFILE: starts it pinned, sets SERVER_PID and ADDR.
start_server() {
  local kind=$1 log=$2
  : >"$log"
  case $kind in
    lktoken) ${LKTOKEN_GOGC:+env GOGC=$LKTOKEN_GOGC} taskset -c "$SERVER_CPU" "$OUT/lktoken" --listen 127.0.0.1:0 2>"$log" & ;;
    ceiling) taskset -c "$SERVER_CPU" "$OUT/ceiling" -json-size "$JSON_SIZE" -proto-size "$PROTO_SIZE" 2>"$log" & ;;
    connect-floor) taskset -c "$SERVER_CPU" "$OUT/connectfloor" -json-size "$JSON_SIZE" 2>"$log" & ;;
  esac
  SERVER_PID=$!
  ADDR=
  for _ in $(seq 1 500); do
    ADDR=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$log" | head -1)
    [ -n "$ADDR" ] && return 0
    sleep 0.02
  done
  echo "bench: $kind did not start:" >&2; cat "$log" >&2; exit 1
}

peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status"; }
# cpu_ticks: the server's user + system time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

# The ceiling answers with bodies of exactly lktoken's answer sizes.
start_server lktoken "$OUT/sizes.log"
JSON_SIZE=$(curl -sS -o /dev/null -w '%{size_download}' -H 'Content-Type: application/json' \
  --data-binary '{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}' "http://$ADDR$ROUTE")
PROTO_SIZE=$(curl -sS -o /dev/null -w '%{size_download}' -H 'Content-Type: application/proto' --data-binary @"$OUT/request.bin" "http://$ADDR$ROUTE")
stop_server
echo "== answer sizes: JSON $JSON_SIZE bytes, binary $PROTO_SIZE bytes"

# run_wrk CONNS URL: prints "rps p50 p99 max non2xx socket_errors answered cpu_us_per_request".
run_wrk() {
  local conns=$1 url=$2 line t0 t1
  taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${WARMUP}s" -s bench/connect-json.lua "$url" >/dev/null
  t0=$(cpu_ticks)
  line=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" -s bench/connect-json.lua "$url" | grep '^RESULT')
  t1=$(cpu_ticks)
  echo "$line" >>"$OUT/wrk-results.txt" # with the socket errors by kind
  echo "$line" | awk -v ticks="$((t1 - t0))" -v hz="$TICK" '{for (i = 2; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
    print v["rps"], v["p50_ms"], v["p99_ms"], v["max_ms"], v["non2xx"], v["socket_errors"], v["requests"], ticks / hz * 1e6 / v["requests"]}'
}

# run_h2load CONNS URL: the same figures from h2load's summary and per-request log.
run_h2load() {
  local conns=$1 url=$2 out log=$OUT/h2load-requests.log t0 t1
  local args=(-t1 -c"$conns" -m1 -d "$OUT/request.bin" -H 'content-type: application/proto' -H 'accept-encoding: gzip')
  taskset -c "$LOAD_CPU" h2load "${args[@]}" -D "$WARMUP" "$url" >/dev/null
  t0=$(cpu_ticks)
  out=$(taskset -c "$LOAD_CPU" h2load "${args[@]}" -D "$DURATION" --log-file="$log" "$url")
  t1=$(cpu_ticks)
  local rps errored timeout non2xx done
  rps=$(echo "$out" | sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p')
  done=$(echo "$out" | sed -n 's/^requests: .* \([0-9][0-9]*\) done.*/\1/p')
  errored=$(echo "$out" | sed -n 's/^requests: .* \([0-9][0-9]*\) errored.*/\1/p')
  timeout=$(echo "$out" | sed -n 's/^requests: .* \([0-9][0-9]*\) timeout.*/\1/p')
  non2xx=$(echo "$out" | awk '/^status codes:/ {print $5 + $7 + $9}')
  cut -f3 "$log" | sort -n | awk -v rps="$rps" -v non2xx="$non2xx" -v sock="$((errored + timeout))" -v done="$done" \
    -v ticks="$((t1 - t0))" -v hz="$TICK" \
    '{v[NR] = $1} END {printf "%.0f %.3f %.3f %.3f %d %d %d %.1f\n", rps, v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000, v[NR]/1000, non2xx, sock, done, ticks / hz * 1e6 / done}'
  rm -f "$log"
}

# Columns of results.txt: round scenario target rps p50 p99 max non2xx
# socket_errors answered cpu_us_per_request peak_rss_kib audit_lines
RESULTS=$OUT/results.txt
: >"$RESULTS"
for round in $(seq 1 "$ROUNDS"); do
  for scenario in h1-c100 h1-c1000 h2-c100; do
    for target in $TARGETS; do
      log=$LOGDIR/$target-$scenario.log
      start_server "$target" "$log"
      case $scenario in
        h1-c100) fig=$(run_wrk 100 "http://$ADDR$ROUTE") ;;
        h1-c1000) fig=$(run_wrk 1000 "http://$ADDR$ROUTE") ;;
        h2-c100) fig=$(run_h2load 100 "http://$ADDR$ROUTE") ;;
      esac
      rss=$(peak_rss_kib)
      stop_server
      audit=-
      if [ "$target" = lktoken ]; then
        # Every answered request has its audit line, flushed by the shutdown.
        audit=$(grep -c '"msg":"mint"' "$log" || true)
        answered=$(echo "$fig" | awk '{print $7}')
        if [ "$audit" -lt "$answered" ]; then
          echo "bench: $audit audit lines for $answered answered requests" >&2; exit 1
        fi
      fi
      rm -f "$log"
      echo "$round $scenario $target $fig $rss $audit" | tee -a "$RESULTS" | awk '{
        printf "round %s %-8s %-13s %6.0f req/s  %5.1f us CPU/req  p50 %6.2f ms  p99 %7.2f ms  max %7.2f ms  non-2xx %d  socket errors %d  peak RSS %5.1f MiB  audit lines %s\n",
          $1, $2, $3, $4, $11, $5, $6, $7, $8, $9, $12/1024, $13}'
    done
  done
done

echo "== start-up: exec to first token, $STARTUP_RUNS cold starts"
STARTUP=$(taskset -c "$LOAD_CPU" "$OUT/startup" -bin "$OUT/lktoken" -runs "$STARTUP_RUNS" -taskset "$SERVER_CPU")
echo "lktoken:       $STARTUP"
FLOOR_STARTUP=
if [[ " $TARGETS " == *" connect-floor "* ]]; then
  FLOOR_STARTUP=$(taskset -c "$LOAD_CPU" "$OUT/startup" -bin "$OUT/connectfloor" -runs "$STARTUP_RUNS" -taskset "$SERVER_CPU" -expect '"token":"')
  echo "connect-floor: $FLOOR_STARTUP"
fi

has() { [[ " $TARGETS " == *" $1 "* ]]; }
# med TARGET COLUMN: the median of a column over the rounds of $scenario.
med() {
  awk -v s="$scenario" -v t="$1" -v c="$2" '$2 == s && $3 == t {print $c}' "$RESULTS" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
# ratio TARGET BASE KIND: the median over rounds of TARGET against BASE in
# the same round: rps (TARGET req/s / BASE req/s), cpu (BASE CPU per request
# / TARGET's: the throughput ratio on a core of their own) or p99 (TARGET
# p99 / BASE p99: lower is better).
ratio() {
  awk -v s="$scenario" -v t="$1" -v b="$2" -v k="$3" '$2 == s {rps[$1, $3] = $4; p99[$1, $3] = $6; cpu[$1, $3] = $11; rounds[$1] = 1}
    END {for (r in rounds) {
      if (k == "rps") print rps[r, t] / rps[r, b]
      else if (k == "cpu") print cpu[r, b] / cpu[r, t]
      else print p99[r, t] / p99[r, b]}}' "$RESULTS" | sort -g | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)]}'
}
worst() { awk -v s="$scenario" -v t="${2:-lktoken}" -v c="$1" '$2 == s && $3 == t {if ($c > m) m = $c} END {print m + 0}' "$RESULTS"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

echo
echo "== medians over $ROUNDS rounds (server on CPU $SERVER_CPU, load on CPU $LOAD_CPU, ${DURATION}s per run)"
printf '%-9s %-13s %8s %9s %7s %7s %7s %7s %7s %8s\n' scenario target req/s CPU/req_us p50_ms p99_ms max_ms non2xx sockerr rss_MiB
for scenario in h1-c100 h1-c1000 h2-c100; do
  for target in $TARGETS; do
    printf '%-9s %-13s %8.0f %9.1f %7.2f %7.2f %7.2f %7d %7d %8s\n' "$scenario" "$target" "$(med "$target" 4)" "$(med "$target" 11)" \
      "$(med "$target" 5)" "$(med "$target" 6)" "$(med "$target" 7)" "$(worst 8 "$target")" "$(worst 9 "$target")" "$(mib "$(med "$target" 12)")"
  done
done
echo "(medians over rounds, peak RSS included; errors are the worst round)"
if has lktoken && has connect-floor; then
  echo
  echo "== lktoken against the connect-go floor (medians over rounds of same-round ratios)"
  printf '%-9s %9s %9s %9s   %s\n' scenario rps-ratio cpu-ratio p99-ratio "(ceiling: rps-ratio cpu-ratio of lktoken, of the floor)"
  for scenario in h1-c100 h1-c1000 h2-c100; do
    c=
    if has ceiling; then
      c="$(ratio lktoken ceiling rps) $(ratio lktoken ceiling cpu), $(ratio connect-floor ceiling rps) $(ratio connect-floor ceiling cpu)"
    fi
    printf '%-9s %9s %9s %9s   %s\n' "$scenario" "$(ratio lktoken connect-floor rps)" "$(ratio lktoken connect-floor cpu)" "$(ratio lktoken connect-floor p99)" "$c"
  done
  echo "(rps-ratio: lktoken req/s / the floor's in the same round; cpu-ratio: the floor's CPU time per"
  echo " request / lktoken's, i.e. the throughput ratio on a core of its own; p99-ratio: lktoken's p99 /"
  echo " the floor's, lower is better)"
  echo
  echo "== targets (issue 10)"
  check() { if awk -v a="$2" -v op="$3" -v b="$4" 'BEGIN {exit !((op == ">=") ? a >= b : a <= b)}'; then echo "met     $1: $2 (target $3 $4)"; else echo "MISSED  $1: $2 (target $3 $4)"; fi; }
  for scenario in h1-c100 h1-c1000; do
    check "throughput/floor, $scenario (req/s)" "$(ratio lktoken connect-floor rps)" '>=' 0.8
    check "throughput/floor, $scenario (CPU per request)" "$(ratio lktoken connect-floor cpu)" '>=' 0.8
    check "errors, $scenario" "$(($(worst 8) + $(worst 9)))" '<=' 0
  done
  scenario=h1-c100
  check "p99/floor p99, h1-c100" "$(ratio lktoken connect-floor p99)" '<=' 1.3
  check "exec to first token, ms" "$(echo "$STARTUP" | sed 's/^startup_ms median=\([0-9.]*\).*/\1/')" '<=' 20
  check "peak RSS, h1-c100, MiB" "$(mib "$(med lktoken 12)")" '<=' 26
fi
echo
echo "$STARTUP" | sed 's/^startup_ms median=\([0-9.]*\).*cpu_median=\([0-9.]*\).*/lktoken start-up, exec to first token: median \1 ms (CPU time of the process: median \2 ms)/'
[ -z "$FLOOR_STARTUP" ] || echo "$FLOOR_STARTUP" | sed 's/^startup_ms median=\([0-9.]*\).*cpu_median=\([0-9.]*\).*/connect-floor start-up:                median \1 ms (CPU time of the process: median \2 ms)/'
echo "raw results: $RESULTS"
