// Package authn is how lktoken learns who calls it. An [Authenticator] looks
// at a call's headers and peer and returns the verified [Principal], or an
// unauthenticated error; [BearerToken] (the static bearer token setting) is the mode for
// trusted backends. The mint operation (package pipeline) runs it first.
package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"connectrpc.com/connect"
)

// Caller is what an Authenticator may look at: the request's headers and
// the peer's address. The body is not read yet.
type Caller struct {
	Header http.Header
	Peer   string
}

// Principal is a verified caller.
type Principal struct {
	// Issuer and Subject name the caller as its identity provider does.
	Issuer  string
	Subject string
	// Identity is the LiveKit participant identity the caller proved ("" when
	// the mode proves none): a request that leaves participant_identity out
	// gets it, one that names another is refused.
	Identity string
	// Name is the display name the caller's token gives ("" for none): a
	// request that sends no participant_name gets it.
	Name string
	// Claims are the verified token's claims, for the room policy. Shared
	// between the requests of one token: read-only.
	Claims map[string]any
}

// Authenticator verifies callers. It returns the principal, nil and no error
// for a caller that is trusted but proves no identity (the static bearer
// token), or an error. A *connect.Error keeps its code and its metadata
// (a WWW-Authenticate challenge, say); anything else becomes unauthenticated.
// Its messages reach the caller: they must never echo a credential.
type Authenticator interface {
	Authenticate(ctx context.Context, c Caller) (*Principal, error)
}

// Challenge is the WWW-Authenticate value of a refusal that sets none.
const Challenge = `Bearer realm="lktoken"`

// Refusal is err as the caller gets it: a *connect.Error, unauthenticated
// unless err chose another code, with a WWW-Authenticate challenge on
// unauthenticated.
func Refusal(err error) *connect.Error {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		cerr = connect.NewError(connect.CodeUnauthenticated, err)
	}
	if cerr.Code() == connect.CodeUnauthenticated && cerr.Meta().Get("WWW-Authenticate") == "" {
		cerr.Meta().Set("WWW-Authenticate", Challenge)
	}
	return cerr
}

// BearerToken is the mode for a deployment where only a trusted backend, or
// a gateway that authenticates users, calls lktoken: every caller sends the
// same static token (configured by package config).
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
// leak through timing. A caller that has it proves no identity: the
// principal is nil.
func (b *BearerToken) Authenticate(_ context.Context, c Caller) (*Principal, error) {
	h := c.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, connect.NewError(connect.CodeUnauthenticated, errNoBearer)
	}
	got := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(got[:], b.digest.Load()[:]) != 1 {
		return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("the bearer token is not valid"))
	}
	return nil, nil
}
