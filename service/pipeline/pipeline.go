// Package pipeline is the one mint operation every route calls. A route
// decodes its request into a [Call] and hands it to [Operation.Mint] with the
// caller that [Operation.Authenticate] verified before the body was read
// (the [Verified] value travels in the Call, explicitly), after
// [Operation.Admit] took one request from that caller's rate limit budget
// (package ratelimit). Mint, in this order, derives the caller's LiveKit identity under the identity mode
// (package identity) and binds it to the request, applies the contract's
// rules (package
// contract), asks the room policy ([RoomPolicy]), lets the Issuer (package
// mint) apply the server's policy and sign, and returns the outcome as a
// value. Audit, metrics and tracing wrap that once, for every route, and
// learn the outcome from the return value.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/durationpb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/audit"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/contract"
	"github.com/lktoken/lktoken/service/identity"
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
	// Identity derives a verified caller's LiveKit identity
	// (LKTOKEN_IDENTITY_MODE); nil is exclusive mode: the claim itself.
	Identity *identity.Binder
	// Log receives the audit lines and the causes of signing failures.
	Log *slog.Logger
	// AuditLines, when set, is the writer under Log's JSON handler, where
	// the audit log writes its mint lines directly (audit.New;
	// logging.Logs.Lines). nil writes them through Log.
	AuditLines io.Writer
	Now        func() time.Time
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
	identity  *identity.Binder
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
		identity:  opts.Identity,
		audit:     audit.New(opts.Log, opts.Now, opts.AuditLines),
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
	// Peer is the caller's address; Header its request headers, for the
	// tracer's propagation only (the caller was authenticated already).
	Peer   string
	Header http.Header
	// Caller is what Authenticate verified for this request. An operation
	// that authenticates refuses a call without one (fail closed): a route
	// must be behind the authentication, never beside it.
	Caller Verified
	// Request is the GenerateTokenRequest to mint for; the operation may fill
	// in its identity (and, with GenerateMissing, its room).
	Request *lktokenv1.GenerateTokenRequest
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
	// The caller as the identity mode shows it (Authenticate bound it): the
	// audit line, the policy and the route see a pseudonymous caller's
	// pseudonyms.
	bound := call.Caller.bound
	p := bound.Principal
	if op.authn != nil && !call.Caller.ok {
		// Wiring fault, never the caller's: audited like any refusal.
		call.Err = connect.NewError(connect.CodeInternal, errors.New("this route is not behind the caller's authentication; this is a server fault"))
	} else if op.limiter != nil && !call.Caller.admitted {
		// A route that did not admit the caller before the body: admitted
		// now, so that no route mints past the limit.
		if _, _, err := op.Admit(ctx, authn.Caller{Header: call.Header, Peer: call.Peer}, call.Caller, call.Route); err != nil {
			return Result{}, err
		}
	}
	entry := audit.Entry{RequestID: requestid.From(ctx), Peer: call.Peer, Route: call.Route, Started: op.now()}
	if p != nil {
		entry.Issuer, entry.Subject = p.Issuer, p.Subject
	}
	for _, a := range call.Request.GetRoomConfig().GetAgents() {
		entry.Agents = append(entry.Agents, a.GetAgentName())
	}
	res, err = op.mint(ctx, &call, bound, &entry)
	entry.Lifetime, entry.Err = res.Token.Lifetime, err
	op.audit.Mint(ctx, entry)
	return res, err
}

// mint is Mint after authentication; entry learns room, identity and policy
// as soon as they are known, so that refusals are audited with them.
func (op *Operation) mint(ctx context.Context, call *Call, bound identity.Bound, entry *audit.Entry) (Result, error) {
	if call.Err != nil {
		return Result{}, call.Err
	}
	req := call.Request
	if req == nil {
		req = &lktokenv1.GenerateTokenRequest{}
	}
	p := bound.Principal
	bindErr := bindIdentity(req, bound)
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
	tok, err := op.decide(ctx, req, p, entry)
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
func (op *Operation) decide(ctx context.Context, req *lktokenv1.GenerateTokenRequest, p *authn.Principal, entry *audit.Entry) (mint.Token, error) {
	if op.rooms != nil {
		allow, reason := op.rooms.Allow(ctx, req, p)
		entry.Policy = "allowed"
		if !allow {
			entry.Policy = "denied: " + reason
			return mint.Token{}, connect.NewError(connect.CodePermissionDenied, fmt.Errorf("room_name: the room policy does not allow this room (%s)", reason))
		}
	}
	tok, err := op.issuer.Issue(req)
	if err != nil && errors.Is(err, mint.ErrSigning) {
		// The cause goes to the log; the caller learns only that it is ours.
		id := requestid.From(ctx)
		op.log.ErrorContext(ctx, "signing failed", slog.String("request_id", id), slog.String("error", err.Error()))
		return mint.Token{}, connect.NewError(connect.CodeInternal, fmt.Errorf(
			"the server could not sign the token; this is a server fault, not your request (request id %s)", id))
	}
	return tok, err
}

// Verified is a caller that Authenticate let in: the principal it proved,
// nil when the mode proves no identity (the static bearer token) or no
// authentication is configured. Only Authenticate makes one that Mint
// accepts when callers must authenticate.
type Verified struct {
	// bound is the principal as the identity mode shows it, bound once
	// here so that everything after authentication (the rate limit's
	// refusal, the audit line, the policy, the token) sees the same one.
	bound identity.Bound
	ok    bool
	// admitted: Admit took this request from the caller's budget.
	admitted bool
}

// Principal is the verified caller as the identity mode shows it (a
// pseudonymous caller's pseudonyms), nil when the mode proves no identity.
func (v Verified) Principal() *authn.Principal { return v.bound.Principal }

// Authenticate verifies the caller of route from its headers and peer, before
// any body is read (nil Authenticator: everyone is let in, with no
// principal). A refusal is audited as a "refused" line and returned as the
// caller gets it, with a WWW-Authenticate challenge. The route hands the
// Verified on to Mint in its Call.
func (op *Operation) Authenticate(ctx context.Context, c authn.Caller, route string) (Verified, error) {
	if op.authn == nil {
		return Verified{ok: true}, nil
	}
	p, err := op.authn.Authenticate(ctx, c)
	if err != nil {
		cerr := authn.Refusal(err)
		op.audit.Refused(ctx, requestid.From(ctx), c.Peer, route, cerr)
		return Verified{}, cerr
	}
	bound := identity.Bound{Principal: p}
	if p != nil && p.Identity != "" {
		bound = op.identity.Bind(p)
	}
	return Verified{bound: bound, ok: true}, nil
}

// Limits reports whether callers are rate limited.
func (op *Operation) Limits() bool { return op.limiter != nil }

// Admit takes one request from the budget of the caller v (what
// Authenticate verified): the verified subject's, the bearer token caller's,
// or, when the mode proves no identity, the client address's (behind
// trusted proxies, the address they forwarded). It runs after
// authentication, so a refused or forged credential never draws from a
// verified subject's budget. A refusal is audited (outcome rate_limited) and
// returned as resource_exhausted with a google.rpc.RetryInfo detail; while
// the store is unreachable and the limiter fails closed, as unavailable. It
// returns v marked admitted, for the Call, and the decision, for
// [Operation.RateLimitHeaders]. Without a limiter every caller is admitted.
func (op *Operation) Admit(ctx context.Context, c authn.Caller, v Verified, route string) (Verified, ratelimit.Decision, error) {
	v.admitted = true
	if op.limiter == nil {
		return v, ratelimit.Decision{Allowed: true, Unchecked: true}, nil
	}
	var key ratelimit.Key
	p := v.bound.Principal
	switch {
	case p != nil:
		key = ratelimit.SubjectKey(p.Issuer, p.Subject)
	case op.authn != nil:
		key = ratelimit.BearerKey()
	default:
		addr, ok := op.proxies.Client(c.Peer, c.Header)
		if !ok {
			return v, ratelimit.Decision{Allowed: true, Unchecked: true}, nil // no address to count by
		}
		key = ratelimit.AddrKey(addr)
	}
	d, err := op.limiter.Take(ctx, key)
	switch {
	case errors.Is(err, ratelimit.ErrStoreUnavailable):
		cerr := connect.NewError(connect.CodeUnavailable, errors.New("the rate limit store is unreachable and this server refuses unchecked requests; try again shortly"))
		op.audit.Refused(ctx, requestid.From(ctx), c.Peer, route, cerr)
		return Verified{}, d, cerr
	case err != nil:
		return Verified{}, d, connect.NewError(connect.CodeOf(err), err) // the caller went away
	case d.Allowed:
		return v, d, nil
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
	return Verified{}, d, cerr
}

// RateLimitHeaders writes d into h: the RateLimit-Policy and RateLimit
// headers, and Retry-After on a refusal (see [ratelimit.Limiter.SetHeaders]).
func (op *Operation) RateLimitHeaders(h http.Header, d ratelimit.Decision) {
	if op.limiter != nil {
		op.limiter.SetHeaders(h, d)
	}
}

// bindIdentity makes the verified identity the participant's: a request that
// names none, or names the verified claim, gets the identity the mode derives
// (in per-session mode with the SubjectAttribute attribute); one that names
// another is refused. A request without a display name gets the principal's,
// if it has one. Attributes only lktoken sets are refused in every mode.
func bindIdentity(req *lktokenv1.GenerateTokenRequest, bound identity.Bound) error {
	if k := identity.CheckAttributes(req.ParticipantAttributes); k != "" {
		return connect.NewError(connect.CodePermissionDenied, fmt.Errorf(
			"participant_attributes: %q is set by this server, a request may not set it (attribute names starting with %q are lktoken's)", k, identity.ReservedAttributePrefix))
	}
	p := bound.Principal
	if p == nil || bound.Identity == "" {
		return nil
	}
	if req.ParticipantName == nil && p.Name != "" {
		name := p.Name // the principal may be shared between requests
		req.ParticipantName = &name
	}
	if !bound.Accepts(req.GetParticipantIdentity()) {
		return connect.NewError(connect.CodePermissionDenied, errors.New(
			"participant_identity: must be your verified identity, or left out to be filled in with it"))
	}
	req.ParticipantIdentity = bound.Identity
	if bound.Subject != "" {
		attrs := maps.Clone(req.ParticipantAttributes) // the request's map may be shared
		if attrs == nil {
			attrs = make(map[string]string, 1)
		}
		attrs[identity.SubjectAttribute] = bound.Subject
		req.ParticipantAttributes = attrs
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
		req.RoomName = GeneratedRoomPrefix + identity.RandomBase62(nil, generatedSuffixLen)
	}
	if req.ParticipantIdentity == "" {
		req.ParticipantIdentity = GeneratedIdentityPrefix + identity.RandomBase62(nil, generatedSuffixLen)
	}
}
