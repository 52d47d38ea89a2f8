package mint

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	livekitagent "github.com/livekit/protocol/agent"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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
// rules and mints its token. rc is LiveKit's room_config (nil for none): only
// agent dispatch is honoured, and only for agents in the policy's allowlist.
//
// A refusal is a *connect.Error safe to send (invalid_argument naming each
// field over this server's bounds, permission_denied for room settings it does
// not grant); a failure to sign wraps ErrSigning and may name its cause, which
// is for the log, never for the caller.
func (is *Issuer) Issue(req *lktokenv1.GenerateTokenRequest, rc *livekit.RoomConfiguration) (Token, error) {
	lifetime, violations := is.policyViolations(req, rc)
	if len(violations) > 0 {
		return Token{}, rpcerr.Violations(validate.Violations_builder{Violations: violations}.Build())
	}
	if err := is.checkRoomConfig(rc); err != nil {
		return Token{}, err
	}
	return Sign(is.keys.Signing(), Request{
		Room:       req.GetRoomName(),
		Identity:   req.GetParticipantIdentity(),
		Name:       req.GetParticipantName(),
		Lifetime:   lifetime,
		Metadata:   req.GetParticipantMetadata(),
		Attributes: req.GetParticipantAttributes(),
		Agents:     rc.GetAgents(),
	}, is.now())
}

// policyViolations checks what this server's configuration narrows beyond the
// contract: the lifetime bounds and the byte caps. It returns the lifetime to
// grant and every violation, so a caller learns all of them at once.
func (is *Issuer) policyViolations(req *lktokenv1.GenerateTokenRequest, rc *livekit.RoomConfiguration) (time.Duration, []*validate.Violation) {
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
	for i, a := range rc.GetAgents() {
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

// setFields lists the populated fields of m in field-number order, so that
// messages naming them are stable.
func setFields(m proto.Message) []protoreflect.FieldDescriptor {
	var fields []protoreflect.FieldDescriptor
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	slices.SortFunc(fields, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number() - b.Number()) })
	return fields
}

// honouredAgentFields are the RoomAgentDispatch fields a request may set.
var honouredAgentFields = []protoreflect.Name{"agent_name", "metadata", "deployment"}

// checkRoomConfig refuses, with permission_denied, every room setting other
// than agent dispatch and every agent outside the allowlist, naming each.
func (is *Issuer) checkRoomConfig(rc *livekit.RoomConfiguration) error {
	if rc == nil {
		return nil
	}
	var refused []string
	for _, fd := range setFields(rc) {
		if fd.Name() != "agents" {
			refused = append(refused, "room_config."+string(fd.Name())+" is not allowed (this server honours only room_config.agents)")
		}
	}
	for i, a := range rc.GetAgents() {
		for _, fd := range setFields(a) {
			if !slices.Contains(honouredAgentFields, fd.Name()) {
				refused = append(refused, fmt.Sprintf("room_config.agents[%d].%s is not allowed (only agent_name, metadata and deployment are)", i, fd.Name()))
			}
		}
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
