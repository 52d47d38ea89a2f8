package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// Issuer turns validated requests into signed tokens under one policy and one
// set of credentials. It is the minting core every route shares.
type Issuer struct {
	creds  Credentials
	keys   *Keyring // when set, wins over creds (see UseKeyring)
	policy Policy
	now    func() time.Time
	log    *slog.Logger
}

// NewIssuer returns an Issuer. now is the clock; pass time.Now in production.
func NewIssuer(creds Credentials, policy Policy, now func() time.Time, log *slog.Logger) *Issuer {
	return &Issuer{creds: creds, policy: policy, now: now, log: log}
}

// Issue applies the policy to a request that already passed the contract's
// rules and mints its token. Errors are *connect.Error values safe to send.
func (is *Issuer) Issue(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (MintedToken, error) {
	lifetime, ok := is.policy.lifetime(req.ExpirationSeconds)
	if !ok {
		return MintedToken{}, violationsError(validate.Violations_builder{Violations: []*validate.Violation{
			fieldViolation("expiration_seconds", "lktoken.policy.lifetime", fmt.Sprintf(
				"must be between %d and %d on this server", int64(is.policy.MinLifetime/time.Second), int64(is.policy.MaxLifetime/time.Second))),
		}}.Build())
	}
	minted, err := MintToken(is.credentials(), TokenRequest{
		Room:     req.GetRoomName(),
		Identity: req.GetParticipantIdentity(),
		Name:     req.GetParticipantName(),
		Lifetime: lifetime,
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
	if req == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("empty request"))
	}
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
