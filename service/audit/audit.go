// Package audit writes lktoken's audit log: one "mint" line per mint attempt
// (time, request id, peer, route, room, identity, lifetime, outcome,
// latency) and one "refused" line per caller that failed authentication or
// was rate limited.
// It is handed requests and outcomes only, never a token or a secret.
package audit

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
)

// Log writes audit lines to a slog.Logger.
type Log struct {
	log *slog.Logger
	now func() time.Time
	// lines, when set, takes the mint lines directly (jsonline.go).
	lines io.Writer
}

// New returns a Log writing to log; now is the clock that times each attempt.
//
// lines, when not nil, is the writer under log's JSON handler: mint lines are
// then written to it directly, as that handler would write them but cheaper
// (jsonline.go). Each Write must be one whole line, written atomically with
// respect to the handler's own lines; logging.New returns such a pair. The
// choice is made here, explicitly, and nothing done to log later (log.With,
// say) turns it off; direct lines carry exactly the entry's fields, so give
// lines only with a logger that adds none. nil writes every line through log.
func New(log *slog.Logger, now func() time.Time, lines io.Writer) *Log {
	return &Log{log: log, now: now, lines: lines}
}

// Entry is one mint attempt as the audit log records it.
type Entry struct {
	RequestID string
	Peer      string
	Route     string
	Room      string
	Identity  string
	// Agents are the agent names dispatched through room_config, if any.
	Agents []string
	// Issuer and Subject name the verified caller, when the authentication
	// mode verifies one.
	Issuer, Subject string
	// Policy is the room policy's decision, when a policy is configured.
	Policy string
	// Lifetime is the granted lifetime; zero when nothing was minted.
	Lifetime time.Duration
	// Err is nil on success; otherwise its Connect code is the outcome.
	Err     error
	Started time.Time
}

// Mint writes e. The outcome is "issued" or the Connect code of the error.
func (a *Log) Mint(ctx context.Context, e Entry) {
	outcome, level := "issued", slog.LevelInfo
	if e.Err != nil {
		outcome, level = connect.CodeOf(e.Err).String(), slog.LevelWarn
		if connect.CodeOf(e.Err) == connect.CodeInternal {
			level = slog.LevelError
		}
	}
	latencyMS := float64(a.now().Sub(e.Started).Microseconds()) / 1000
	if !a.mintFast(ctx, &e, outcome, level, latencyMS) {
		a.mintSlog(ctx, &e, outcome, level, latencyMS)
	}
}

// mintSlog writes e's line through slog; writeMint (jsonline.go) writes the
// same line directly, and TestFastMintLineMatchesSlog compares the two.
func (a *Log) mintSlog(ctx context.Context, e *Entry, outcome string, level slog.Level, latencyMS float64) {
	attrs := make([]slog.Attr, 0, 12)
	attrs = append(attrs,
		slog.String("request_id", e.RequestID),
		slog.String("peer", e.Peer),
		slog.String("route", e.Route),
		slog.String("room", Text(e.Room)),
		slog.String("identity", Text(e.Identity)),
	)
	if len(e.Agents) > 0 {
		agents := make([]string, len(e.Agents))
		for i, n := range e.Agents {
			agents[i] = Text(n)
		}
		attrs = append(attrs, slog.Any("agents", agents))
	}
	if e.Issuer != "" || e.Subject != "" {
		attrs = append(attrs, slog.String("principal_issuer", Text(e.Issuer)), slog.String("principal_subject", Text(e.Subject)))
	}
	if e.Policy != "" {
		attrs = append(attrs, slog.String("policy", Text(e.Policy)))
	}
	attrs = append(attrs,
		slog.Int64("lifetime_s", int64(e.Lifetime/time.Second)),
		slog.String("outcome", outcome),
		slog.Float64("latency_ms", latencyMS),
	)
	a.log.LogAttrs(ctx, level, "mint", attrs...)
}

// Refused notes a caller that failed authentication on path: refused callers
// mint nothing, so they get this line instead of a mint line.
func (a *Log) Refused(ctx context.Context, requestID, peer, path string, err *connect.Error) {
	a.log.LogAttrs(ctx, slog.LevelWarn, "refused",
		slog.String("request_id", requestID),
		slog.String("peer", peer),
		slog.String("path", Text(path)),
		slog.String("outcome", err.Code().String()),
		slog.String("reason", err.Message()))
}

// RateLimited notes a caller refused by the rate limit on path (outcome
// "rate_limited"), with the verified subject when there is one and the
// delay it was told to wait: such callers mint nothing, and their bodies
// are not read.
func (a *Log) RateLimited(ctx context.Context, requestID, peer, path, issuer, subject string, retryAfter time.Duration) {
	attrs := []slog.Attr{
		slog.String("request_id", requestID),
		slog.String("peer", peer),
		slog.String("path", Text(path)),
		slog.String("outcome", "rate_limited"),
		slog.Int64("retry_after_s", int64(math.Ceil(retryAfter.Seconds()))), // as Retry-After says
	}
	if subject != "" {
		attrs = append(attrs, slog.String("principal_issuer", Text(issuer)), slog.String("principal_subject", Text(subject)))
	}
	a.log.LogAttrs(ctx, slog.LevelWarn, "refused", attrs...)
}

// maxText bounds what a caller's strings can add to a log line; valid
// values are at most 256 bytes, refused ones can be as long as the body cap.
const maxText = 300

// Text keeps caller-supplied text short and valid UTF-8 (the JSON handler
// escapes control characters itself).
func Text(s string) string {
	if len(s) > maxText {
		cut := maxText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
