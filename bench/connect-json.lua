-- wrk script for `make bench`: the Connect unary JSON POST a browser sends,
-- and one machine-readable RESULT line at the end. wrk counts answers
-- with status >= 400 in errors.status; socket errors are connect, read,
-- write and timeout (no answer within wrk's 2 s).
wrk.method = "POST"
wrk.body = '{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}'
wrk.headers["Content-Type"] = "application/json"
-- What every browser sends; it lets the server compress its answer.
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d socket_errors=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
end
