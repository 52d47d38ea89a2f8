package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/pipeline"
)

// TestRefusalsSendOneChallengeAndNoStore: a refused caller gets exactly one
// WWW-Authenticate and Cache-Control: no-store, on every route and
// protocol, with 401 as with 503; a refused gRPC call logs no warning about
// trailers (the challenge once went into them, which net/http refuses).
func TestRefusalsSendOneChallengeAndNoStore(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TokenEndpointPath = "/api/token"
	cfg.Ops.BearerToken = config.Secret("0123456789abcdef0123456789abcdef-bearer")
	srv := startServer(t, cfg)

	check := func(name string, h http.Header, wantStatus, status int) {
		t.Helper()
		if status != wantStatus {
			t.Errorf("%s: status %d, want %d", name, status, wantStatus)
		}
		if ch := h.Values("Www-Authenticate"); len(ch) != 1 || ch[0] != `Bearer realm="lktoken"` {
			t.Errorf("%s: WWW-Authenticate %q, want it once", name, ch)
		}
		if cc := h.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
			t.Errorf("%s: Cache-Control %q", name, cc)
		}
	}
	for name, r := range map[string]struct{ path, ctype, body string }{
		"connect json":   {lktokenv1connect.TokenServiceGenerateTokenProcedure, "application/json", `{"roomName":"r","participantIdentity":"u"}`},
		"token endpoint": {"/api/token", "application/json", `{"room_name":"r","participant_identity":"u"}`},
		"unknown path":   {"/nothing", "application/json", `{}`},
	} {
		resp, err := http.Post(srv.URL+r.path, r.ctype, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(name, resp.Header, http.StatusUnauthorized, resp.StatusCode)
	}
	_, err := oidcClients(srv.URL, "wrong")["grpc"].GenerateToken(context.Background(), req("r", "u"))
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeUnauthenticated {
		t.Fatalf("grpc: %v", err)
	}
	if ch := cerr.Meta().Values("Www-Authenticate"); len(ch) != 1 {
		t.Errorf("grpc: WWW-Authenticate %q (headers and trailers), want it once", ch)
	}
	srv.Log.WaitFor(t, `"msg":"refused"`)
	if strings.Contains(srv.Log.String(), "invalid trailer") {
		t.Errorf("a refused gRPC call logged a trailer warning:\n%s", srv.Log.String())
	}

	// 503: the authenticator cannot decide (OpenID Connect misconfigured).
	h := testHandler(testConfig(), srv.Srv.log, nil, &pipeline.Options{Authenticator: refuseAll{errors.New("x")}})
	base := testserver.Handler(t, h)
	resp, err := http.Post(base+lktokenv1connect.TokenServiceGenerateTokenProcedure, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("503: %d, Cache-Control %q", resp.StatusCode, resp.Header.Values("Cache-Control"))
	}
}
