package roompolicy

import (
	"context"
	"log/slog"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/requestid"
)

// Hook is the policy as the mint operation asks it (pipeline.RoomPolicy):
// the claims are the principal's (none when the authentication mode proves
// no identity), and a failed evaluation is logged here, with where in the
// policy it failed and the kind of error (never a value), while the caller
// learns only that the policy refused.
type Hook struct {
	Policy *Policy
	Log    *slog.Logger
}

// Reasons the caller and the audit log get. They name the outcome, never a
// claim.
const (
	ReasonFalse  = "the policy is false for this caller and room"
	ReasonFailed = "the policy could not be evaluated for this caller; the server log has the cause"
)

// Allow evaluates the policy for req and p.
func (h Hook) Allow(ctx context.Context, req *lktokenv1.GenerateTokenRequest, p *authn.Principal) (bool, string) {
	var claims map[string]any
	if p != nil {
		claims = p.Claims
	}
	d := h.Policy.Evaluate(ctx, req, claims)
	switch d.Outcome {
	case Allowed:
		return true, ""
	case Denied:
		return false, ReasonFalse
	}
	if h.Log != nil {
		attrs := []slog.Attr{slog.String("request_id", requestid.From(ctx)), slog.String("error", d.Err.Error())}
		if p != nil {
			attrs = append(attrs, slog.String("principal_subject", p.Subject))
		}
		h.Log.LogAttrs(ctx, slog.LevelWarn, "room policy failed, denying", attrs...)
	}
	return false, ReasonFailed
}
