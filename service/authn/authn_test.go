package authn

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"connectrpc.com/connect"
)

func TestBearerToken(t *testing.T) {
	t.Parallel()
	b := NewBearerToken("bt-0123456789abcdef0123456789abcdef")
	for _, c := range []struct {
		header string
		ok     bool
	}{
		{"Bearer bt-0123456789abcdef0123456789abcdef", true},
		{"bearer bt-0123456789abcdef0123456789abcdef", true},
		{"Bearer bt-0123456789abcdef0123456789abcde", false},
		{"Basic bt-0123456789abcdef0123456789abcdef", false},
		{"", false},
	} {
		p, err := b.Authenticate(context.Background(), Caller{Header: http.Header{"Authorization": {c.header}}})
		if (err == nil) != c.ok || p != nil || (err != nil && connect.CodeOf(err) != connect.CodeUnauthenticated) {
			t.Errorf("%q: principal %v, err %v", c.header, p, err)
		}
	}
	b.Set("bt-fedcba9876543210fedcba9876543210")
	if _, err := b.Authenticate(context.Background(), Caller{Header: http.Header{"Authorization": {"Bearer bt-0123456789abcdef0123456789abcdef"}}}); err == nil {
		t.Error("the old token still works after Set")
	}
}

// Refusal adds the default challenge to unauthenticated errors that set
// none, keeps one an Authenticator set, and keeps other codes as they are.
func TestRefusal(t *testing.T) {
	t.Parallel()
	if r := Refusal(errors.New("no")); r.Code() != connect.CodeUnauthenticated || r.Meta().Get("WWW-Authenticate") != Challenge || r.Message() != "no" {
		t.Errorf("plain error: %v %q", r, r.Meta())
	}
	own := connect.NewError(connect.CodeUnauthenticated, errors.New("expired"))
	own.Meta().Set("WWW-Authenticate", `Bearer realm="lktoken", error="invalid_token", error_description="expired"`)
	if r := Refusal(own); r.Meta().Get("WWW-Authenticate") != own.Meta().Get("WWW-Authenticate") {
		t.Errorf("own challenge replaced: %q", r.Meta())
	}
	if r := Refusal(connect.NewError(connect.CodeUnavailable, errors.New("provider down"))); r.Code() != connect.CodeUnavailable || r.Meta().Get("WWW-Authenticate") != "" {
		t.Errorf("unavailable: %v %q", r, r.Meta())
	}
}
