package mint

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	livekitagent "github.com/livekit/protocol/agent"
	"github.com/livekit/protocol/livekit"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// Issuer turns requests that passed the contract's rules into signed tokens,
// under one policy and with whatever signing key its keyring holds at each
// request.
type Issuer struct {
	keys   *keys.Ring
	policy Policy
	now    func() time.Time
}

// NewIssuer returns an Issuer signing with the keys of ring under policy. now
// is the clock; pass time.Now in production.
func NewIssuer(ring *keys.Ring, policy Policy, now func() time.Time) *Issuer {
	return &Issuer{keys: ring, policy: policy, now: now}
}

// Issue applies the policy to a request that already passed the contract's
// rules and mints its token. Of room_config only agent dispatch exists in the
// contract, and only agents in the policy's allowlist are dispatched; every
// route reaches these rules through here.
//
// A refusal is a *connect.Error safe to send (invalid_argument naming each
// field over this server's bounds, permission_denied for agents it does not
// allow); a failure to sign wraps ErrSigning and may name its cause, which is
// for the log, never for the caller.
func (is *Issuer) Issue(req *lktokenv1.GenerateTokenRequest) (Token, error) {
	lifetime, violations := is.policyViolations(req)
	if len(violations) > 0 {
		return Token{}, rpcerr.Violations(validate.Violations_builder{Violations: violations}.Build())
	}
	agents := req.GetRoomConfig().GetAgents()
	if err := is.checkAgents(agents); err != nil {
		return Token{}, err
	}
	var dispatch []*livekit.RoomAgentDispatch
	for _, a := range agents {
		dispatch = append(dispatch, &livekit.RoomAgentDispatch{AgentName: a.GetAgentName(), Metadata: a.GetMetadata(), Deployment: a.GetDeployment()})
	}
	return Sign(is.keys.Signing(), Request{
		Room:       req.GetRoomName(),
		Identity:   req.GetParticipantIdentity(),
		Name:       req.GetParticipantName(),
		Lifetime:   lifetime,
		Metadata:   req.GetParticipantMetadata(),
		Attributes: req.GetParticipantAttributes(),
		Agents:     dispatch,
	}, is.now())
}

// policyViolations checks what this server's configuration narrows beyond the
// contract: the lifetime bounds and the byte caps. It returns the lifetime to
// grant and every violation, so a caller learns all of them at once.
func (is *Issuer) policyViolations(req *lktokenv1.GenerateTokenRequest) (time.Duration, []*validate.Violation) {
	var violations []*validate.Violation
	lifetime, ok := is.policy.lifetime(req.ExpirationSeconds)
	if !ok {
		violations = append(violations, rpcerr.Violation("lktoken.policy.lifetime", fmt.Sprintf(
			"must be between %d and %d on this server", int64(is.policy.MinLifetime/time.Second), int64(is.policy.MaxLifetime/time.Second)),
			rpcerr.Field("expiration_seconds")))
	}
	if n := len(req.GetParticipantMetadata()); n > is.policy.MaxMetadataBytes {
		violations = append(violations, rpcerr.Violation("lktoken.policy.max_metadata_bytes",
			fmt.Sprintf("must be at most %d bytes (server limit)", is.policy.MaxMetadataBytes), rpcerr.Field("participant_metadata")))
	}
	if n := attributesBytes(req.GetParticipantAttributes()); n > is.policy.MaxAttributesBytes {
		violations = append(violations, rpcerr.Violation("lktoken.policy.max_attributes_bytes",
			fmt.Sprintf("keys and values must total at most %d bytes (server limit); these total %d", is.policy.MaxAttributesBytes, n),
			rpcerr.Field("participant_attributes")))
	}
	for i, a := range req.GetRoomConfig().GetAgents() {
		agent := func(field string) []rpcerr.Element {
			return []rpcerr.Element{rpcerr.Field("room_config"), rpcerr.Index("agents", i), rpcerr.Field(field)}
		}
		if len(a.GetMetadata()) > is.policy.MaxMetadataBytes {
			violations = append(violations, rpcerr.Violation("lktoken.policy.max_metadata_bytes",
				fmt.Sprintf("must be at most %d bytes (server limit)", is.policy.MaxMetadataBytes), agent("metadata")...))
		}
		// LiveKit's own rule: the server silently drops a dispatch that breaks it.
		if err := livekitagent.ValidateDeployment(a.GetDeployment()); err != nil {
			violations = append(violations, rpcerr.Violation("livekit.agent.deployment", err.Error(), agent("deployment")...))
		}
	}
	return lifetime, violations
}

// checkAgents refuses, with permission_denied, every agent outside the
// allowlist, naming each.
func (is *Issuer) checkAgents(agents []*lktokenv1.RoomAgentDispatch) error {
	var refused []string
	for i, a := range agents {
		if !is.policy.agentAllowed(a.GetAgentName()) {
			refused = append(refused, fmt.Sprintf("room_config.agents[%d].agent_name: agent %q is not in the agent allowlist of this server", i, a.GetAgentName()))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, errors.New(strings.Join(refused, "; ")))
}

// ServerURL is the LiveKit URL handed to clients with each token.
func (is *Issuer) ServerURL() string { return is.policy.ServerURL }
