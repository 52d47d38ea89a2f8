package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"
)

// Authenticator is the seam for caller authentication. One Authenticator
// guards every API route (Connect, gRPC, gRPC-Web and any plain HTTP route
// mounted on the API mux), before a request body is read. It returns the
// context to continue with (a later iteration may put the caller's identity
// there) or an error; a *connect.Error keeps its code, anything else becomes
// unauthenticated.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (context.Context, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, r *http.Request) (context.Context, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, r *http.Request) (context.Context, error) {
	return f(ctx, r)
}

// BearerToken is the one mode usable today: every caller sends the same
// static token (LKTOKEN_BEARER_TOKEN), for a deployment where only a trusted
// backend, or a gateway that authenticates users, calls lktoken.
type BearerToken struct {
	digest atomic.Pointer[[sha256.Size]byte]
}

// NewBearerToken returns an Authenticator that requires token.
func NewBearerToken(token string) *BearerToken {
	b := &BearerToken{}
	b.Set(token)
	return b
}

// Set replaces the token; requests in flight finish with either one.
func (b *BearerToken) Set(token string) {
	d := sha256.Sum256([]byte(token))
	b.digest.Store(&d)
}

var errNoBearer = errors.New(`this server requires "Authorization: Bearer <token>"`)

// Authenticate accepts exactly "Bearer <token>". The comparison is of SHA-256
// digests in constant time, so neither the bytes nor the length of the token
// leak through timing.
func (b *BearerToken) Authenticate(ctx context.Context, r *http.Request) (context.Context, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, connect.NewError(connect.CodeUnauthenticated, errNoBearer)
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], b.digest.Load()[:]) != 1 {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("the bearer token is not valid"))
	}
	return ctx, nil
}

// requireAuth runs authn before next, answering a refusal in the request's
// own protocol (Connect, gRPC, gRPC-Web; JSON otherwise) with 401 and a
// WWW-Authenticate challenge. CORS preflights pass: browsers never send
// credentials with them, and CORS answers them before this runs anyway.
func requireAuth(authn Authenticator, log *slog.Logger, next http.Handler) http.Handler {
	if authn == nil {
		return next
	}
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		ctx, err := authn.Authenticate(r.Context(), r)
		if err != nil {
			var cerr *connect.Error
			if !errors.As(err, &cerr) {
				cerr = connect.NewError(connect.CodeUnauthenticated, err)
			}
			if cerr.Code() == connect.CodeUnauthenticated {
				w.Header().Set("WWW-Authenticate", `Bearer realm="lktoken"`)
			}
			// Refused callers never reach the audit interceptor: note them here.
			log.LogAttrs(r.Context(), slog.LevelWarn, "refused",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("peer", r.RemoteAddr),
				slog.String("path", auditText(r.URL.Path)),
				slog.String("outcome", cerr.Code().String()),
				slog.String("reason", cerr.Message()))
			_ = ew.Write(w, r, cerr)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
