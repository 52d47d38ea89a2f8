package oidc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/lktoken/lktoken/service/authn"
)

func TestAuthenticateReadsTheBearerHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tok := sign(t, f.p.key("rsa-1"), f.claims())
	for _, c := range []struct {
		name   string
		header []string
		code   connect.Code // 0: accepted
		says   string
	}{
		{"Bearer", []string{"Bearer " + tok}, 0, ""},
		{"bearer in lower case", []string{"bearer " + tok}, 0, ""},
		{"no header", nil, connect.CodeUnauthenticated, `Bearer realm="lktoken"`},
		{"Basic", []string{"Basic dXNlcjpwYXNz"}, connect.CodeUnauthenticated, `Bearer realm="lktoken"`},
		{"Bearer alone", []string{"Bearer"}, connect.CodeUnauthenticated, `error="invalid_token"`},
		{"two spaces", []string{"Bearer  " + tok}, connect.CodeUnauthenticated, "one token of base64url characters"},
		{"two headers", []string{"Bearer " + tok, "Bearer " + tok}, connect.CodeUnauthenticated, "more than one Authorization header"},
		{"a quote in the token", []string{`Bearer a"b.c.d`}, connect.CodeUnauthenticated, "one token of base64url characters"},
	} {
		h := http.Header{}
		for _, v := range c.header {
			h.Add("Authorization", v)
		}
		p, err := f.v.Authenticate(context.Background(), authn.Caller{Header: h})
		if c.code == 0 {
			if err != nil || p.Identity != "user-1" || p.Issuer != f.p.issuer || p.Name != "Ada" || p.Claims["org"] != "acme" {
				t.Errorf("%s: %+v %v", c.name, p, err)
			}
			continue
		}
		var cerr *connect.Error
		if !errors.As(err, &cerr) || cerr.Code() != c.code {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if ch := cerr.Meta().Get("WWW-Authenticate"); !strings.Contains(ch, c.says) && !strings.Contains(cerr.Message(), c.says) {
			t.Errorf("%s: challenge %q, message %q; want %q", c.name, ch, cerr.Message(), c.says)
		}
		if strings.Contains(cerr.Message(), tok) {
			t.Errorf("%s: the message echoes the token", c.name)
		}
	}
}

func TestDisplayName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Ada Lovelace": "Ada Lovelace", "": "", "   ": "", "a\u202eb": "", "a\nb": "",
		strings.Repeat("x", 257): "", strings.Repeat("é", 128): strings.Repeat("é", 128), "\xff": "",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}
