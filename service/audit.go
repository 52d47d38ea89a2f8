package service

import (
	"context"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// Auditor writes one line per mint attempt: time, request id, peer, route,
// room, identity, lifetime, outcome and latency. It never sees the token or
// the secret: it is handed only the request and, on success, the lifetime.
type Auditor struct {
	log *slog.Logger
	now func() time.Time
}

// NewAuditor returns an Auditor writing to log.
func NewAuditor(log *slog.Logger, now func() time.Time) *Auditor {
	return &Auditor{log: log, now: now}
}

// AuditEntry is one mint attempt as the audit log records it.
type AuditEntry struct {
	RequestID string
	Peer      string
	Route     string
	Room      string
	Identity  string
	// Agents are the agent names dispatched through room_config, if any.
	Agents []string
	// Lifetime is the granted lifetime; zero when nothing was minted.
	Lifetime time.Duration
	// Err is nil on success; otherwise its Connect code is the outcome.
	Err     error
	Started time.Time
}

// Record writes e. Outcome is "issued" or the Connect code of the error.
func (a *Auditor) Record(ctx context.Context, e AuditEntry) {
	outcome, level := "issued", slog.LevelInfo
	if e.Err != nil {
		outcome, level = connect.CodeOf(e.Err).String(), slog.LevelWarn
		if connect.CodeOf(e.Err) == connect.CodeInternal {
			level = slog.LevelError
		}
	}
	attrs := []slog.Attr{
		slog.String("request_id", e.RequestID),
		slog.String("peer", e.Peer),
		slog.String("route", e.Route),
		slog.String("room", auditText(e.Room)),
		slog.String("identity", auditText(e.Identity)),
	}
	if len(e.Agents) > 0 {
		agents := make([]string, len(e.Agents))
		for i, n := range e.Agents {
			agents[i] = auditText(n)
		}
		attrs = append(attrs, slog.Any("agents", agents))
	}
	attrs = append(attrs,
		slog.Int64("lifetime_s", int64(e.Lifetime/time.Second)),
		slog.String("outcome", outcome),
		slog.Float64("latency_ms", float64(a.now().Sub(e.Started).Microseconds())/1000),
	)
	a.log.LogAttrs(ctx, level, "mint", attrs...)
}

// maxAuditText bounds what a caller's strings can add to a log line; valid
// values are at most 256 bytes, refused ones can be as long as the body cap.
const maxAuditText = 300

// auditText keeps caller-supplied text short and valid UTF-8 (the JSON
// handler escapes control characters itself).
func auditText(s string) string {
	if len(s) > maxAuditText {
		cut := maxAuditText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// grantedKey carries the lifetime a handler granted back to the audit
// interceptor, so the log shows what was minted without seeing the token.
type grantedKey struct{}

type granted struct{ lifetime time.Duration }

// withGrantedNote prepares ctx so that noteGranted can report the lifetime a
// handler granted; the returned *granted holds it afterwards.
func withGrantedNote(ctx context.Context) (context.Context, *granted) {
	g := &granted{}
	return context.WithValue(ctx, grantedKey{}, g), g
}

// noteGranted records the granted lifetime for the audit line of ctx's request.
func noteGranted(ctx context.Context, lifetime time.Duration) {
	if g, ok := ctx.Value(grantedKey{}).(*granted); ok {
		g.lifetime = lifetime
	}
}

// Interceptor audits every unary call, whatever its outcome, including calls
// refused by interceptors that run inside it (validation).
func (a *Auditor) Interceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			started := a.now()
			gctx, g := withGrantedNote(ctx)
			resp, err := next(gctx, req)
			e := AuditEntry{
				RequestID: RequestID(ctx),
				Peer:      req.Peer().Addr,
				Route:     req.Spec().Procedure,
				Lifetime:  g.lifetime,
				Err:       err,
				Started:   started,
			}
			if m, ok := req.Any().(*lktokenv1.GenerateTokenRequest); ok {
				e.Room, e.Identity = m.GetRoomName(), m.GetParticipantIdentity()
			}
			a.Record(ctx, e)
			return resp, err
		}
	}
}
