package oidc

import (
	"net/http"
	"strings"
)

// Kind classifies why a caller's token was refused.
type Kind int

// The kinds of refusal. Every one but KindUnavailable is the caller's
// fault (401, invalid_token); KindUnavailable means the server cannot
// verify anything yet (503).
const (
	// KindMissing: no Authorization header, or another scheme than Bearer.
	KindMissing Kind = iota + 1
	KindMalformed
	KindTooLarge
	KindAlgorithm
	KindUnknownKey
	KindSignature
	KindIssuer
	KindAudience
	KindExpired
	KindNotYetValid
	KindIssuedInFuture
	KindIdentity
	KindUnavailable
	KindNotAccessToken
)

var kindNames = map[Kind]string{
	KindMissing:        "missing",
	KindMalformed:      "malformed",
	KindTooLarge:       "too_large",
	KindAlgorithm:      "algorithm",
	KindUnknownKey:     "unknown_key",
	KindSignature:      "bad_signature",
	KindIssuer:         "wrong_issuer",
	KindAudience:       "wrong_audience",
	KindExpired:        "expired",
	KindNotYetValid:    "not_yet_valid",
	KindIssuedInFuture: "issued_in_future",
	KindIdentity:       "no_identity",
	KindUnavailable:    "provider_unavailable",
	KindNotAccessToken: "not_access_token",
}

// String is a short stable name, for logs and metrics.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// Error is a refused token. Its Description says what is wrong in words a
// developer can act on; it never contains the token or its claims beyond
// the names of the settings it failed.
type Error struct {
	Kind        Kind
	Description string
}

func (e *Error) Error() string { return e.Description }

// Status is the HTTP status the refusal answers with: 401, or 503 when
// the provider's keys are not loaded yet.
func (e *Error) Status() int {
	if e.Kind == KindUnavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusUnauthorized
}

// Challenge is the RFC 6750 WWW-Authenticate value for this refusal:
// `Bearer realm="..."` alone when no bearer token was sent (RFC 6750 3.1:
// no error code then), otherwise with error="invalid_token" and the
// description. The description is quoted-string safe by construction.
func (e *Error) Challenge(realm string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quotable(realm))
	b.WriteByte('"')
	if e.Kind != KindMissing && e.Kind != KindUnavailable {
		b.WriteString(`, error="invalid_token", error_description="`)
		b.WriteString(quotable(e.Description))
		b.WriteByte('"')
	}
	return b.String()
}

// quotable keeps only the characters RFC 6750 allows in error_description
// (%x20-21 / %x23-5B / %x5D-7E): printable ASCII without `"` and `\`.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

func refuse(k Kind, description string) *Error { return &Error{Kind: k, Description: description} }
