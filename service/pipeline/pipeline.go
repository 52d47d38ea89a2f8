// Package pipeline is the one mint operation every route calls. A route
// decodes its request into a [Call] and hands it to [Operation.Mint], which,
// in this order, authenticates the caller (an authn.Authenticator, unless the
// HTTP server did so before reading the body), takes one request from the
// caller's rate limit budget (package ratelimit; likewise), binds the
// verified identity to the request, applies the contract's rules (package
// contract), asks the room policy ([RoomPolicy]), lets the Issuer (package
// mint) apply the server's policy and sign, and returns the outcome as a
// value. Audit, metrics and tracing wrap that once, for every route, and
// learn the outcome from the return value.
package pipeline

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/audit"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/contract"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/ratelimit"
	"github.com/lktoken/lktoken/service/requestid"
)

// RoomPolicy decides whether a verified caller may join the room a request
// names (LKTOKEN_POLICY). It sees the request after the caller's identity was
// bound to it, and the principal (nil when the authentication mode proves no
// identity). allow false refuses with permission_denied; reason says which
// rule decided, for the caller and the audit log, and must never reveal a
// claim. A policy that fails to evaluate denies.
type RoomPolicy interface {
	Allow(ctx context.Context, req *lktokenv1.GenerateTokenRequest, p *authn.Principal) (allow bool, reason string)
}

// Observer learns the time and outcome (the Connect code name, or "issued")
// of every mint: from a valid request to a signed token or its refusal.
type Observer interface {
	ObserveMint(elapsed time.Duration, outcome string)
}

// Tracer opens a span around one call; end is called with its outcome.
type Tracer interface {
	Start(ctx context.Context, call *Call) (_ context.Context, end func(err error))
}

// Options are what New composes. Issuer, Log and Now are required.
type Options struct {
	Issuer *mint.Issuer
	// Authenticator verifies callers; nil lets every caller in.
	Authenticator authn.Authenticator
	// RoomPolicy chooses rooms; nil allows every room.
	RoomPolicy RoomPolicy
	// Log receives the audit lines and the causes of signing failures.
	Log *slog.Logger
	Now func() time.Time
	// Observer and Tracer are optional.
	Observer Observer
	Tracer   Tracer
	// Limiter limits how fast each caller mints; nil limits nothing.
	// Proxies say where an unauthenticated caller's address comes from.
	Limiter *ratelimit.Limiter
	Proxies ratelimit.Proxies
}

// Operation is the mint operation. It is safe for concurrent use.
type Operation struct {
	issuer    *mint.Issuer
	validator *contract.Validator
	authn     authn.Authenticator
	rooms     RoomPolicy
	audit     *audit.Log
	log       *slog.Logger
	now       func() time.Time
	observer  Observer
	tracer    Tracer
	limiter   *ratelimit.Limiter
	proxies   ratelimit.Proxies
}

// New returns the operation opts compose.
func New(opts Options) *Operation {
	return &Operation{
		issuer:    opts.Issuer,
		validator: contract.NewValidator(),
		authn:     opts.Authenticator,
		rooms:     opts.RoomPolicy,
		audit:     audit.New(opts.Log, opts.Now),
		log:       opts.Log,
		now:       opts.Now,
		observer:  opts.Observer,
		tracer:    opts.Tracer,
		limiter:   opts.Limiter,
		proxies:   opts.Proxies,
	}
}

// Call is one request to mint, as a route decoded it.
type Call struct {
	// Route names the call in the audit log, the metrics and spans: the RPC
	// procedure, or the path of a plain HTTP route.
	Route string
	// Peer is the caller's address; Header its request headers.
	Peer   string
	Header http.Header
	// Request is the GenerateTokenRequest to mint for; the operation may fill
	// in its identity (and, with GenerateMissing, its room).
	Request *lktokenv1.GenerateTokenRequest
	// RoomConfig is LiveKit's room_config (/api/token only); nil for none.
	RoomConfig *livekit.RoomConfiguration
	// GenerateMissing fills an empty room name and participant identity with
	// generated ones, as LiveKit's token endpoint does.
	GenerateMissing bool
	// Err, when set, is why the route could not decode a request (a body too
	// large, not JSON, the wrong media type...): the operation audits it as
	// the attempt's outcome and returns it.
	Err error
}

// Result is a minted token and what a route needs to answer with it.
type Result struct {
	Token mint.Token
	// ServerURL is the LiveKit URL clients connect to with the token.
	ServerURL string
	// Principal is the verified caller, nil when the mode proves no identity.
	Principal *authn.Principal
}

// Mint runs the operation on call. Every error is a *connect.Error safe to
// send (a route may keep one it set in call.Err).
func (op *Operation) Mint(ctx context.Context, call Call) (res Result, err error) {
	if op.tracer != nil {
		var end func(error)
		ctx, end = op.tracer.Start(ctx, &call)
		defer func() { end(err) }()
	}
	c := authn.Caller{Header: call.Header, Peer: call.Peer}
	p, ok := authenticated(ctx)
	if !ok {
		if p, err = op.Authenticate(ctx, c, call.Route); err != nil {
			return Result{}, err
		}
	}
	if op.limiter != nil && !admitted(ctx) {
		if _, err = op.Admit(ctx, c, p, call.Route); err != nil {
			return Result{}, err
		}
	}
	entry := audit.Entry{RequestID: requestid.From(ctx), Peer: call.Peer, Route: call.Route, Started: op.now()}
	if p != nil {
		entry.Issuer, entry.Subject = p.Issuer, p.Subject
	}
	for _, a := range call.RoomConfig.GetAgents() {
		entry.Agents = append(entry.Agents, a.GetAgentName())
	}
	res, err = op.mint(ctx, &call, p, &entry)
	entry.Lifetime, entry.Err = res.Token.Lifetime, err
	op.audit.Mint(ctx, entry)
	return res, err
}

// mint is Mint after authentication; entry learns room, identity and policy
// as soon as they are known, so that refusals are audited with them.
func (op *Operation) mint(ctx context.Context, call *Call, p *authn.Principal, entry *audit.Entry) (Result, error) {
	if call.Err != nil {
		return Result{}, call.Err
	}
	req := call.Request
	if req == nil {
		req = &lktokenv1.GenerateTokenRequest{}
	}
	bindErr := bindIdentity(req, p)
	if call.GenerateMissing {
		generateMissing(req)
	}
	entry.Room, entry.Identity = req.GetRoomName(), req.GetParticipantIdentity()
	if bindErr != nil {
		return Result{}, bindErr
	}
	if err := op.validator.Check(req); err != nil {
		return Result{}, err
	}
	// Timed from a valid request to a signed token (or its refusal).
	start := time.Now()
	tok, err := op.decide(ctx, req, call.RoomConfig, p, entry)
	if op.observer != nil {
		outcome := "issued"
		if err != nil {
			outcome = connect.CodeOf(err).String()
		}
		op.observer.ObserveMint(time.Since(start), outcome)
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Token: tok, ServerURL: op.issuer.ServerURL(), Principal: p}, nil
}

// decide asks the room policy, then the Issuer.
func (op *Operation) decide(ctx context.Context, req *lktokenv1.GenerateTokenRequest, rc *livekit.RoomConfiguration, p *authn.Principal, entry *audit.Entry) (mint.Token, error) {
	if op.rooms != nil {
		allow, reason := op.rooms.Allow(ctx, req, p)
		entry.Policy = "allowed"
		if !allow {
			entry.Policy = "denied: " + reason
			return mint.Token{}, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("room_name: the room policy does not allow this room (%s)", reason))
		}
	}
	tok, err := op.issuer.Issue(req, rc)
	if err != nil && errors.Is(err, mint.ErrSigning) {
		// The cause goes to the log; the caller learns only that it is ours.
		id := requestid.From(ctx)
		op.log.ErrorContext(ctx, "signing failed", slog.String("request_id", id), slog.String("error", err.Error()))
		return mint.Token{}, connect.NewError(connect.CodeInternal, fmt.Errorf(
			"the server could not sign the token; this is a server fault, not your request (request id %s)", id))
	}
	return tok, err
}

// Authenticate verifies the caller of route (nil Authenticator: everyone is
// let in, with no principal). A refusal is logged as a "refused" line and
// returned as the caller gets it, with a WWW-Authenticate challenge.
//
// Mint calls it first, unless the HTTP server already did: the server
// authenticates every API request before its body is read, whatever its path
// (reflection and unknown paths included, so every route refuses the same
// way), and hands the principal on with [Authenticated].
func (op *Operation) Authenticate(ctx context.Context, c authn.Caller, route string) (*authn.Principal, error) {
	if op.authn == nil {
		return nil, nil
	}
	p, err := op.authn.Authenticate(ctx, c)
	if err != nil {
		cerr := authn.Refusal(err)
		op.audit.Refused(ctx, requestid.From(ctx), c.Peer, route, cerr)
		return nil, cerr
	}
	return p, nil
}

// Authenticates reports whether callers must authenticate.
func (op *Operation) Authenticates() bool { return op.authn != nil }

// Limits reports whether callers are rate limited.
func (op *Operation) Limits() bool { return op.limiter != nil }

// Admit takes one request from the budget of the caller Authenticate
// verified as p: the verified subject's, the bearer token caller's, or,
// when the mode proves no identity, the client address's (behind trusted
// proxies, the address they forwarded). It runs after authentication, so a
// refused or forged credential never draws from a verified subject's
// budget. A refusal is audited (outcome rate_limited) and returned as
// resource_exhausted with a google.rpc.RetryInfo detail; while the store is
// unreachable and the limiter fails closed, as unavailable. The decision
// is for [Operation.RateLimitHeaders]. Without a limiter every caller is
// admitted.
func (op *Operation) Admit(ctx context.Context, c authn.Caller, p *authn.Principal, route string) (ratelimit.Decision, error) {
	if op.limiter == nil {
		return ratelimit.Decision{Allowed: true, Unchecked: true}, nil
	}
	var key ratelimit.Key
	switch {
	case p != nil:
		key = ratelimit.SubjectKey(p.Issuer, p.Subject)
	case op.authn != nil:
		key = ratelimit.BearerKey()
	default:
		addr, ok := op.proxies.Client(c.Peer, c.Header)
		if !ok {
			return ratelimit.Decision{Allowed: true, Unchecked: true}, nil // no address to count by
		}
		key = ratelimit.AddrKey(addr)
	}
	d, err := op.limiter.Take(ctx, key)
	switch {
	case errors.Is(err, ratelimit.ErrStoreUnavailable):
		cerr := connect.NewError(connect.CodeUnavailable, errors.New("the rate limit store is unreachable and this server refuses unchecked requests; try again shortly"))
		op.audit.Refused(ctx, requestid.From(ctx), c.Peer, route, cerr)
		return d, cerr
	case err != nil:
		return d, connect.NewError(connect.CodeOf(err), err) // the caller went away
	case d.Allowed:
		return d, nil
	}
	var iss, sub string
	if p != nil {
		iss, sub = p.Issuer, p.Subject
	}
	op.audit.RateLimited(ctx, requestid.From(ctx), c.Peer, route, iss, sub, d.RetryAfter)
	cerr := connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"rate limited: too many tokens requested (%s); try again in %s s", op.limiter.Policy(), ratelimit.RetryAfterSeconds(d.RetryAfter)))
	if detail, err := connect.NewErrorDetail(&errdetails.RetryInfo{RetryDelay: durationpb.New(d.RetryAfter)}); err == nil {
		cerr.AddDetail(detail)
	}
	return d, cerr
}

// RateLimitHeaders writes d into h: the RateLimit-Policy and RateLimit
// headers, and Retry-After on a refusal (see [ratelimit.Limiter.SetHeaders]).
func (op *Operation) RateLimitHeaders(h http.Header, d ratelimit.Decision) {
	if op.limiter != nil {
		op.limiter.SetHeaders(h, d)
	}
}

type principalKey struct{}

// Authenticated returns ctx carrying the outcome of a successful
// Authenticate (p may be nil), so that Mint does not verify the caller twice.
func Authenticated(ctx context.Context, p *authn.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

type admittedKey struct{}

// Admitted returns ctx marking that Admit let the caller in, so that Mint
// does not count the request twice.
func Admitted(ctx context.Context) context.Context {
	return context.WithValue(ctx, admittedKey{}, true)
}

func admitted(ctx context.Context) bool { return ctx.Value(admittedKey{}) != nil }

func authenticated(ctx context.Context) (*authn.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*authn.Principal)
	return p, ok
}

// bindIdentity makes the verified identity the participant's: a request that
// names none gets it; one that names another is refused. A request without a
// display name gets the principal's, if it has one.
func bindIdentity(req *lktokenv1.GenerateTokenRequest, p *authn.Principal) error {
	if p == nil || p.Identity == "" {
		return nil
	}
	if req.ParticipantName == nil && p.Name != "" {
		name := p.Name // the principal may be shared between requests
		req.ParticipantName = &name
	}
	switch req.GetParticipantIdentity() {
	case "":
		req.ParticipantIdentity = p.Identity
	case p.Identity:
	default:
		return connect.NewError(connect.CodePermissionDenied, errors.New(
			"participant_identity: must be your verified identity, or left out to be filled in with it"))
	}
	return nil
}

// Prefixes of the identity and room generated when a request to LiveKit's
// token endpoint names none: the prefix and 12 random base62 characters
// (about 71 bits), for example "identity-3fG7kQ9zLm2X" and "room-Vb81TqYc0aZe".
const (
	GeneratedIdentityPrefix = "identity-"
	GeneratedRoomPrefix     = "room-"
	generatedSuffixLen      = 12
)

func generateMissing(req *lktokenv1.GenerateTokenRequest) {
	if req.RoomName == "" {
		req.RoomName = GeneratedRoomPrefix + randomBase62(generatedSuffixLen)
	}
	if req.ParticipantIdentity == "" {
		req.ParticipantIdentity = GeneratedIdentityPrefix + randomBase62(generatedSuffixLen)
	}
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails on Linux (Go 1.24+ panics instead)
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps the draw uniform.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}
