// Package api holds lktoken's routes: thin adapters that decode a request,
// hand it to the one mint operation (package pipeline) and encode its
// outcome. The Connect route serves GenerateToken over Connect, gRPC and
// gRPC-Web, with a JSON codec that writes the hot path's messages directly;
// the token endpoint speaks LiveKit's standard TokenSource format.
package api

import (
	"context"
	"errors"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// Route is a token route: it serves a request whose caller
// pipeline.Operation.Authenticate verified before the body was read, and
// hands that caller to the mint operation in its Call. ServeHTTP serves it
// with no verified caller, which an operation that authenticates refuses.
type Route interface {
	http.Handler
	Serve(w http.ResponseWriter, r *http.Request, caller pipeline.Verified)
}

// ConnectRoute is the TokenService: GenerateToken over Connect, gRPC and
// gRPC-Web.
type ConnectRoute struct {
	// Path is the service's path prefix, for a mux.
	Path string
	h    http.Handler
	op   *pipeline.Operation
}

// Connect returns the TokenService route. opts come first (the server's
// recovery and read limits), then the codecs of CodecOptions. Answers carry
// Cache-Control: no-store, and connect-go's bare 405 and 415 refusals get a
// body that says what to change.
func Connect(op *pipeline.Operation, opts ...connect.HandlerOption) *ConnectRoute {
	path, h := lktokenv1connect.NewTokenServiceHandler(tokenService{op: op},
		connect.WithHandlerOptions(opts...), connect.WithHandlerOptions(CodecOptions()...))
	return &ConnectRoute{Path: path, h: h, op: op}
}

func (c *ConnectRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.Serve(w, r, pipeline.Verified{})
}

// Serve serves r for caller. connect-go hands GenerateToken only a context
// and the message, so the caller crosses connect-go in the request's
// context, which is this request's connectCall: made here, read at the top
// of GenerateToken and put in the Call, explicitly, from there on.
//
// A request connect-go refuses before GenerateToken runs (a body that is not
// JSON or not the message, too large, compressed with an unknown algorithm,
// a wrong method or media type) never reaches the operation; Serve then
// audits it through the operation with the code the caller got, as
// /api/token audits the same refusals, so every refusal leaves its one line.
func (c *ConnectRoute) Serve(w http.ResponseWriter, r *http.Request, caller pipeline.Verified) {
	w.Header()["Cache-Control"] = []string{"no-store"} // Set, without canonicalizing the key
	call := &connectCall{Context: r.Context(), caller: caller}
	call.rec.Reset(w, r, true)
	call.explain = explainWriter{ResponseWriter: &call.rec, r: r}
	c.h.ServeHTTP(&call.explain, r.WithContext(call))
	if call.reached || r.URL.Path != lktokenv1connect.TokenServiceGenerateTokenProcedure {
		return
	}
	code := call.rec.Code()
	if code == "ok" {
		return
	}
	var cc connect.Code
	if cc.UnmarshalText([]byte(code)) != nil {
		cc = connect.CodeUnknown
	}
	_, _ = c.op.Mint(r.Context(), pipeline.Call{Route: lktokenv1connect.TokenServiceGenerateTokenProcedure,
		Peer: r.RemoteAddr, Header: r.Header, Caller: caller,
		Err: connect.NewError(cc, errors.New("refused before the request was decoded"))})
}

// connectCall is one request on the Connect route: the context connect-go
// passes to GenerateToken (answering the caller for callerKey), the caller
// it carries, whether GenerateToken ran, and the writers the answer goes
// through, all in one allocation.
type connectCall struct {
	context.Context
	caller  pipeline.Verified
	reached bool
	rec     rpcerr.Recorder
	explain explainWriter
}

type callerKey struct{}

// Value answers callerKey with the call itself; other keys are the
// request's.
func (c *connectCall) Value(key any) any {
	if key == (callerKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// tokenService adapts GenerateToken onto the mint operation.
type tokenService struct{ op *pipeline.Operation }

// GenerateToken mints a join token for one participant in one room.
func (s tokenService) GenerateToken(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	call := pipeline.Call{Route: lktokenv1connect.TokenServiceGenerateTokenProcedure, Request: req}
	if cc, ok := ctx.Value(callerKey{}).(*connectCall); ok {
		cc.reached = true
		call.Caller = cc.caller
	}
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		call.Peer, call.Header = ci.Peer().Addr, ci.RequestHeader()
	}
	res, err := s.op.Mint(ctx, call)
	if err != nil {
		return nil, err
	}
	// The answer and its timestamp in one allocation.
	a := &answer{}
	a.expires.Seconds, a.expires.Nanos = res.Token.ExpiresAt.Unix(), int32(res.Token.ExpiresAt.Nanosecond()) // timestamppb.New
	a.resp.Token = res.Token.JWT
	a.resp.ExpiresAt = &a.expires
	a.resp.ServerUrl = res.ServerURL
	a.resp.RoomName = res.Token.Room
	a.resp.ParticipantIdentity = res.Token.Identity
	return &a.resp, nil
}

type answer struct {
	resp    lktokenv1.GenerateTokenResponse
	expires timestamppb.Timestamp
}
