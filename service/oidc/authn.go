package oidc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/lktoken/lktoken/service/authn"
)

// Realm is the realm of every challenge lktoken sends.
const Realm = "lktoken"

// Authenticate makes the Verifier an authn.Authenticator: it takes the
// bearer token of the call's Authorization header, verifies it and returns
// the principal, or a *connect.Error (unauthenticated, or unavailable before
// the keys are loaded) carrying the RFC 6750 WWW-Authenticate challenge.
func (v *Verifier) Authenticate(ctx context.Context, c authn.Caller) (*authn.Principal, error) {
	raw, rerr := BearerToken(c.Header)
	if rerr == nil {
		p, err := v.Verify(ctx, raw)
		if err == nil {
			return p.authn, nil
		}
		if !errors.As(err, &rerr) {
			rerr = refuse(KindMalformed, "the token could not be verified")
		}
	}
	code := connect.CodeUnauthenticated
	if rerr.Kind == KindUnavailable {
		code = connect.CodeUnavailable
	}
	cerr := connect.NewError(code, rerr)
	cerr.Meta().Set("WWW-Authenticate", rerr.Challenge(Realm))
	return nil, cerr
}

// errMissing is the refusal of a call without a bearer token.
var errMissing = refuse(KindMissing, `this server requires "Authorization: Bearer <access token>" from the identity provider`)

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header (RFC 6750 2.1: one header, the scheme in any case, one space, a
// b64token), or a refusal: KindMissing when there is no bearer token at all,
// KindMalformed when the header is there but not well formed.
func BearerToken(h http.Header) (string, *Error) {
	values := h.Values("Authorization")
	switch len(values) {
	case 0:
		return "", errMissing
	case 1:
	default:
		return "", refuse(KindMalformed, "the request has more than one Authorization header")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errMissing
	}
	if token == "" || !isB64Token(token) {
		return "", refuse(KindMalformed, `the Authorization header is not "Bearer <token>" with one token of base64url characters`)
	}
	return token, nil
}

// b64tokenChars marks the bytes of RFC 6750's b64token (a table: the check
// runs over every byte of every caller's token).
var b64tokenChars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// isB64Token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !b64tokenChars[s[i]] {
			return false
		}
	}
	return true
}

// displayName keeps a name claim only if it can be a LiveKit display name
// as the contract has it (1..256 bytes of UTF-8, not blank, no control or
// bidi-override characters): a token's odd name must not turn a request
// that sent none into an invalid one.
func displayName(s string) string {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) || strings.TrimSpace(s) == "" {
		return ""
	}
	for _, r := range s {
		if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return ""
		}
	}
	return s
}
