package app

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/roompolicy"
)

// oidcProvider serves discovery and a JWKS for one RSA key on 127.0.0.1;
// down makes both answer 503.
type oidcProvider struct {
	issuer string
	key    *rsa.PrivateKey
	down   chan bool
}

func newOIDCProvider(t *testing.T) *oidcProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &oidcProvider{key: key, down: make(chan bool, 1)}
	p.down <- false
	isDown := func() bool { d := <-p.down; p.down <- d; return d }
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isDown() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.issuer, "jwks_uri": p.issuer + "jwks"})
		case "/jwks":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	p.issuer = srv.URL + "/"
	return p
}

func (p *oidcProvider) setDown(d bool) { <-p.down; p.down <- d }

func (p *oidcProvider) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]any{"iss": p.issuer, "aud": "lktoken-test", "sub": "user-7", "name": "Grace", "org": "acme",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	jws, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := jws.CompactSerialize()
	return out
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func oidcClients(base, token string) map[string]lktokenv1connect.TokenServiceClient {
	h1 := &http.Client{Timeout: 10 * time.Second, Transport: bearer{token, http.DefaultTransport}}
	h2 := h2cClient()
	h2.Transport = bearer{token, h2.Transport}
	return map[string]lktokenv1connect.TokenServiceClient{
		"connect-json":   lktokenv1connect.NewTokenServiceClient(h1, base, connect.WithProtoJSON()),
		"connect-binary": lktokenv1connect.NewTokenServiceClient(h1, base),
		"grpc":           lktokenv1connect.NewTokenServiceClient(h2, base, connect.WithGRPC()),
		"grpc-web":       lktokenv1connect.NewTokenServiceClient(h1, base, connect.WithGRPCWeb()),
	}
}

func getReadyz(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOIDCEveryProtocol: the verified subject becomes the identity, the
// same way on Connect (JSON and binary), gRPC and gRPC-Web; refusals have
// the same codes everywhere; readiness follows the provider's keys.
func TestOIDCEveryProtocol(t *testing.T) {
	t.Parallel()
	p := newOIDCProvider(t)
	p.setDown(true)
	pol, err := roompolicy.Compile(`request.room_name.startsWith(claims.org + "-")`)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Auth = config.AuthConfig{OIDC: oidc.Config{Issuer: p.issuer, Audience: "lktoken-test", MaxBackoff: 20 * time.Millisecond}, Policy: pol}
	srv := startServer(t, cfg)

	// Provider down at start: not ready, and calls get unavailable.
	time.Sleep(100 * time.Millisecond)
	if code, body := getReadyz(t, srv.URL); code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: oidc: discovery") {
		t.Errorf("readyz with the provider down: %d %q", code, body)
	}
	_, err = oidcClients(srv.URL, p.token(t, nil))["connect-binary"].GenerateToken(context.Background(), req("acme-room", ""))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Errorf("before the keys load: %v", err)
	}
	p.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := getReadyz(t, srv.URL)
		if code == http.StatusOK {
			if body != "ready\noidc: ready, 1 keys\n" {
				t.Errorf("readyz body %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %d %q", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}

	good := p.token(t, nil)
	for name, c := range oidcClients(srv.URL, good) {
		resp, err := c.GenerateToken(context.Background(), req("acme-room", ""))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.ParticipantIdentity != "user-7" {
			t.Errorf("%s: identity %q, want the subject", name, resp.ParticipantIdentity)
		}
		if claims := cases.JWTPayload(t, resp.Token); claims["name"] != "Grace" || claims["sub"] != "user-7" {
			t.Errorf("%s: token claims %v", name, claims)
		}
		// The request's own name wins over the token's.
		r := req("acme-room", "user-7")
		r.ParticipantName = new(string)
		*r.ParticipantName = "G."
		if resp, err := c.GenerateToken(context.Background(), r); err != nil || cases.JWTPayload(t, resp.Token)["name"] != "G." {
			t.Errorf("%s: own name: %v", name, err)
		}
		_, err = c.GenerateToken(context.Background(), req("acme-room", "someone-else"))
		if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "participant_identity") {
			t.Errorf("%s: other identity: %v", name, err)
		}
		_, err = c.GenerateToken(context.Background(), req("globex-room", ""))
		if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), roompolicy.ReasonFalse) {
			t.Errorf("%s: policy: %v", name, err)
		}
	}
	for name, c := range oidcClients(srv.URL, p.token(t, map[string]any{"aud": "other"})) {
		_, err := c.GenerateToken(context.Background(), req("acme-room", ""))
		var cerr *connect.Error
		if !errors.As(err, &cerr) || cerr.Code() != connect.CodeUnauthenticated ||
			!strings.Contains(cerr.Meta().Get("WWW-Authenticate"), `error="invalid_token", error_description="the token is not meant for this server`) {
			t.Errorf("%s: wrong audience: %v (meta %v)", name, err, cerrMeta(cerr))
		}
	}
	// A claim the policy needs and the token lacks: denied, the cause logged.
	_, err = oidcClients(srv.URL, p.token(t, map[string]any{"org": nil}))["connect-json"].GenerateToken(context.Background(), req("acme-room", ""))
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), roompolicy.ReasonFailed) {
		t.Errorf("policy error: %v", err)
	}
	waitLog(t, srv.Log, `"msg":"room policy failed, denying"`)
	waitLog(t, srv.Log, `"principal_subject":"user-7","policy":"allowed"`)
	if strings.Contains(srv.Log.String(), good) {
		t.Error("the log holds a caller's token")
	}
}

func cerrMeta(c *connect.Error) http.Header {
	if c == nil {
		return nil
	}
	return c.Meta()
}

func waitLog(t *testing.T, logs *testserver.Log, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %s in:\n%s", want, logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestReloadRefreshesTheProvidersKeys: SIGHUP's Reload loads the provider's
// key set at once; a failure keeps the keys and says so.
func TestReloadRefreshesTheProvidersKeys(t *testing.T) {
	t.Parallel()
	p := newOIDCProvider(t)
	cfg := testConfig()
	cfg.Auth = config.AuthConfig{OIDC: oidc.Config{Issuer: p.issuer, Audience: "lktoken-test", RefreshInterval: time.Hour}}
	srv := startServer(t, cfg)
	srv.Log.WaitFor(t, `"msg":"oidc provider discovered"`)
	deadline := time.Now().Add(10 * time.Second)
	for srv.Srv.oidc.State().Keys == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the provider's keys never loaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.setDown(true)
	if err := srv.Srv.Reload(); err == nil || !strings.Contains(err.Error(), "key set fetch failed: HTTP 503") {
		t.Errorf("reload with the provider down: %v", err)
	}
	srv.Log.WaitFor(t, `"msg":"oidc key set refresh failed, keeping the current keys"`)
	p.setDown(false)
	if err := srv.Srv.Reload(); err != nil {
		t.Errorf("reload: %v", err)
	}
	srv.Log.WaitFor(t, `"msg":"oidc key set refreshed","issuer":"`+p.issuer+`","keys":1`)
}
