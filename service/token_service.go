package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/livekit/protocol/agent"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// Issuer turns validated requests into signed tokens under one policy and the
// keys of a Keyring. It is the minting core every route shares.
type Issuer struct {
	keys   *Keyring
	policy Policy
	now    func() time.Time
	log    *slog.Logger
}

// NewIssuer returns an Issuer that signs with creds (a keyring of one key; see
// UseKeyring for reloadable keys). now is the clock; pass time.Now in production.
func NewIssuer(creds Credentials, policy Policy, now func() time.Time, log *slog.Logger) *Issuer {
	return &Issuer{keys: NewKeyring(Keyset{Signing: creds}), policy: policy, now: now, log: log}
}

// Issue applies the policy to a request that already passed the contract's
// rules and mints its token. Errors are *connect.Error values safe to send.
func (is *Issuer) Issue(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (MintedToken, error) {
	return is.IssueWithRoomConfig(ctx, req, nil)
}

// IssueWithRoomConfig is Issue for a request that also asks for room settings
// (LiveKit's room_config). Only agent dispatch is honoured, and only for agents
// in the policy's allowlist; anything else is refused with permission_denied.
// rc may be nil.
func (is *Issuer) IssueWithRoomConfig(ctx context.Context, req *lktokenv1.GenerateTokenRequest, rc *livekit.RoomConfiguration) (MintedToken, error) {
	lifetime, violations := is.policyViolations(req, rc)
	if len(violations) > 0 {
		return MintedToken{}, violationsError(validate.Violations_builder{Violations: violations}.Build())
	}
	if err := is.checkRoomConfig(rc); err != nil {
		return MintedToken{}, err
	}
	minted, err := MintToken(is.keys.Signing(), TokenRequest{
		Room:       req.GetRoomName(),
		Identity:   req.GetParticipantIdentity(),
		Name:       req.GetParticipantName(),
		Lifetime:   lifetime,
		Metadata:   req.GetParticipantMetadata(),
		Attributes: req.GetParticipantAttributes(),
		Agents:     rc.GetAgents(),
	}, is.now())
	if err != nil {
		// The cause goes to the log; the caller learns only that it is ours.
		is.log.ErrorContext(ctx, "signing failed", slog.String("request_id", RequestID(ctx)), slog.String("error", err.Error()))
		return MintedToken{}, connect.NewError(connect.CodeInternal, fmt.Errorf(
			"the server could not sign the token; this is a server fault, not your request (request id %s)", RequestID(ctx)))
	}
	noteGranted(ctx, lifetime)
	return minted, nil
}

// policyViolations checks what this server's configuration narrows beyond the
// contract: the lifetime bounds and the byte caps. It returns the lifetime to
// grant and every violation, so a caller learns all of them at once.
func (is *Issuer) policyViolations(req *lktokenv1.GenerateTokenRequest, rc *livekit.RoomConfiguration) (time.Duration, []*validate.Violation) {
	var violations []*validate.Violation
	lifetime, ok := is.policy.lifetime(req.ExpirationSeconds)
	if !ok {
		violations = append(violations, fieldViolation("expiration_seconds", "lktoken.policy.lifetime", fmt.Sprintf(
			"must be between %d and %d on this server", int64(is.policy.MinLifetime/time.Second), int64(is.policy.MaxLifetime/time.Second))))
	}
	if n := len(req.GetParticipantMetadata()); n > is.policy.MaxMetadataBytes {
		violations = append(violations, fieldViolation("participant_metadata", "lktoken.policy.max_metadata_bytes",
			fmt.Sprintf("must be at most %d bytes (server limit)", is.policy.MaxMetadataBytes)))
	}
	if n := attributesBytes(req.GetParticipantAttributes()); n > is.policy.MaxAttributesBytes {
		violations = append(violations, fieldViolation("participant_attributes", "lktoken.policy.max_attributes_bytes",
			fmt.Sprintf("keys and values must total at most %d bytes (server limit); these total %d", is.policy.MaxAttributesBytes, n)))
	}
	for i, a := range rc.GetAgents() {
		if len(a.GetMetadata()) > is.policy.MaxMetadataBytes {
			violations = append(violations, agentViolation(i, "metadata", "lktoken.policy.max_metadata_bytes",
				fmt.Sprintf("must be at most %d bytes (server limit)", is.policy.MaxMetadataBytes)))
		}
		// LiveKit's own rule: the server silently drops a dispatch that breaks it.
		if err := agent.ValidateDeployment(a.GetDeployment()); err != nil {
			violations = append(violations, agentViolation(i, "deployment", "livekit.agent.deployment", err.Error()))
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
			refused = append(refused, fmt.Sprintf("room_config.agents[%d].agent_name: agent %q is not allowed on this server (see LKTOKEN_ALLOWED_AGENTS)", i, a.GetAgentName()))
		}
	}
	if len(refused) == 0 {
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, errors.New(strings.Join(refused, "; ")))
}

// ServerURL is the LiveKit URL handed to clients with each token.
func (is *Issuer) ServerURL() string { return is.policy.ServerURL }

// tokenService implements the generated TokenServiceHandler.
type tokenService struct {
	issuer *Issuer
}

// NewTokenService returns the GenerateToken handler. Validation and audit are
// interceptors (see NewHandler), so the handler sees only valid requests.
func NewTokenService(issuer *Issuer) lktokenv1connect.TokenServiceHandler {
	return &tokenService{issuer: issuer}
}

// GenerateToken mints a join token for one participant in one room.
func (s *tokenService) GenerateToken(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	minted, err := s.issuer.Issue(ctx, req)
	if err != nil {
		return nil, err
	}
	return &lktokenv1.GenerateTokenResponse{
		Token:               minted.JWT,
		ExpiresAt:           timestamppb.New(minted.ExpiresAt),
		ServerUrl:           s.issuer.ServerURL(),
		RoomName:            minted.Room,
		ParticipantIdentity: minted.Identity,
	}, nil
}
