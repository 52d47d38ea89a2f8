package app

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/ratelimit"
)

// slowLimit allows a burst of n, then one request an hour: a refusal's
// Retry-After is then about 1200 s, far from any timing noise.
func slowLimit(n int) config.RateLimitConfig {
	return config.RateLimitConfig{Policy: ratelimit.Policy{Count: 3, Per: time.Hour, Burst: n}}
}

// post sends body to path with the headers hdr and returns the answer.
func post(t *testing.T, url, contentType, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	r, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const (
	connectPath = "/lktoken.v1.TokenService/GenerateToken"
	connectBody = `{"roomName":"lobby","participantIdentity":"ann"}`
)

// TestRateLimitEveryProtocol: one caller (an address) has one budget on
// both token routes and every protocol; past it, each answers
// resource_exhausted in its own way (429 with Retry-After and the RateLimit
// headers; RetryInfo on gRPC), audited as rate_limited; probes are never
// limited.
func TestRateLimitEveryProtocol(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.TokenEndpointPath = "/api/token"
	cfg.RateLimit = slowLimit(3)
	srv := startServer(t, cfg)

	resp, body := post(t, srv.URL+connectPath, "application/json", connectBody, nil)
	if resp.StatusCode != 200 || resp.Header.Get("RateLimit-Policy") != `"lktoken";q=3;w=3600` || resp.Header.Get("RateLimit") != `"lktoken";r=2;t=1200` {
		t.Fatalf("1st: %d %s, headers %v", resp.StatusCode, body, resp.Header)
	}
	if resp, body := post(t, srv.URL+"/api/token", "application/json", `{}`, nil); resp.StatusCode != 201 || resp.Header.Get("RateLimit") != `"lktoken";r=1;t=2400` {
		t.Fatalf("2nd, /api/token: %d %s, headers %v", resp.StatusCode, body, resp.Header)
	}
	if _, err := protocols(srv.URL)["grpc"](context.Background(), req("lobby", "ann")); err != nil {
		t.Fatalf("3rd, gRPC: %v", err)
	}
	// The budget is spent, on every route and protocol.
	for _, path := range []string{connectPath, "/api/token"} {
		body := connectBody
		if path == "/api/token" {
			body = `{}`
		}
		resp, got := post(t, srv.URL+path, "application/json", body, nil)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1200" ||
			resp.Header.Get("RateLimit") != `"lktoken";r=0;t=3600` || resp.Header.Get("RateLimit-Policy") != `"lktoken";q=3;w=3600` {
			t.Errorf("%s: %d %s, headers %v; want 429 with Retry-After 1200", path, resp.StatusCode, got, resp.Header)
		}
		if !strings.Contains(got, `"code":"resource_exhausted","message":"rate limited: too many tokens requested (3/1h0m0s burst 3); try again in 1200 s"`) ||
			!strings.Contains(got, `"type":"google.rpc.RetryInfo"`) {
			t.Errorf("%s: body %s", path, got)
		}
	}
	for name, call := range protocols(srv.URL) {
		if name == "curl-json" {
			continue // the raw POSTs above
		}
		_, err := call(context.Background(), req("lobby", "ann"))
		if connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Errorf("%s: %v, want resource_exhausted", name, err)
			continue
		}
		var cerr *connect.Error
		if !errors.As(err, &cerr) {
			continue
		}
		var retry *errdetails.RetryInfo
		for _, d := range cerr.Details() {
			if v, err := d.Value(); err == nil {
				retry, _ = v.(*errdetails.RetryInfo)
			}
		}
		if retry == nil || retry.GetRetryDelay().AsDuration() < 1199*time.Second || retry.GetRetryDelay().AsDuration() > 1200*time.Second {
			t.Errorf("%s: RetryInfo %v, want a delay of about 1200 s", name, retry)
		}
		if got := cerr.Meta().Get("Retry-After"); got != "1200" {
			t.Errorf("%s: Retry-After %q", name, got)
		}
	}
	for range 5 {
		for _, path := range []string{"/healthz", "/readyz"} {
			if resp, err := http.Get(srv.URL + path); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%s: %v %v, want probes never limited", path, resp, err)
			} else {
				resp.Body.Close()
			}
		}
	}
	waitLog(t, srv.Log, `"msg":"refused","request_id":`)
	waitLog(t, srv.Log, `"outcome":"rate_limited","retry_after_s":`)
}

// TestRateLimitAfterAuthentication: a forged, expired or missing token is
// refused before the limit, so it never draws from the budget of the
// subject it names; distinct subjects have distinct budgets.
func TestRateLimitAfterAuthentication(t *testing.T) {
	t.Parallel()
	p := newOIDCProvider(t)
	forger := newOIDCProvider(t) // same claims, another key
	forger.issuer = p.issuer
	cfg := testConfig()
	cfg.Auth = config.AuthConfig{OIDC: oidc.Config{Issuer: p.issuer, Audience: "lktoken-test"}}
	cfg.RateLimit = slowLimit(2)
	srv := startServer(t, cfg)
	waitReady(t, srv.URL)

	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	for _, tok := range []string{forger.token(t, nil), p.token(t, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), "garbage"} {
		for range 5 {
			if resp, body := post(t, srv.URL+connectPath, "application/json", `{"roomName":"lobby"}`, bearer(tok)); resp.StatusCode != 401 {
				t.Fatalf("bad token: %d %s, want 401", resp.StatusCode, body)
			}
		}
	}
	for range 5 {
		if resp, _ := post(t, srv.URL+connectPath, "application/json", `{"roomName":"lobby"}`, nil); resp.StatusCode != 401 {
			t.Fatalf("no token: %d, want 401", resp.StatusCode)
		}
	}
	good := p.token(t, nil)
	for i, want := range []int{200, 200, 429} {
		if resp, body := post(t, srv.URL+connectPath, "application/json", `{"roomName":"lobby"}`, bearer(good)); resp.StatusCode != want {
			t.Fatalf("user-7's request %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
	other := p.token(t, map[string]any{"sub": "user-8"})
	if resp, body := post(t, srv.URL+connectPath, "application/json", `{"roomName":"lobby"}`, bearer(other)); resp.StatusCode != 200 {
		t.Fatalf("user-8: %d %s, want its own budget", resp.StatusCode, body)
	}
	waitLog(t, srv.Log, `"outcome":"rate_limited","retry_after_s":1200,"principal_issuer":"`+p.issuer+`","principal_subject":"user-7"`)
}

// TestRateLimitTrustedProxies: behind a trusted proxy each forwarded client
// has its own budget; the bearer token's caller has one.
func TestRateLimitTrustedProxies(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.RateLimit = slowLimit(1)
	cfg.RateLimit.Proxies, _ = ratelimit.NewProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, ratelimit.XForwardedFor)
	srv := startServer(t, cfg)
	for _, c := range []struct {
		xff  string
		want int
	}{{"192.0.2.1", 200}, {"192.0.2.2", 200}, {"192.0.2.1", 429}, {"198.51.100.1, 192.0.2.2", 429}, {"192.0.2.2, 192.0.2.3", 200}} {
		if resp, body := post(t, srv.URL+connectPath, "application/json", connectBody, map[string]string{"X-Forwarded-For": c.xff}); resp.StatusCode != c.want {
			t.Errorf("X-Forwarded-For %s: %d %s, want %d", c.xff, resp.StatusCode, body, c.want)
		}
	}

	cfg = testConfig()
	cfg.RateLimit = slowLimit(1)
	cfg.Ops.BearerToken = "bearer-token-0123456789abcdefghijklmnop"
	srv = startServer(t, cfg)
	auth := map[string]string{"Authorization": "Bearer " + string(cfg.Ops.BearerToken)}
	for i, want := range []int{200, 429} {
		auth["X-Forwarded-For"] = []string{"192.0.2.1", "192.0.2.2"}[i] // ignored: the caller is the bearer
		if resp, body := post(t, srv.URL+connectPath, "application/json", connectBody, auth); resp.StatusCode != want {
			t.Errorf("bearer caller %d: %d %s, want %d", i+1, resp.StatusCode, body, want)
		}
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := getReadyz(t, base); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRateLimitStoreDown: with Redis unreachable a request fails open (and
// /readyz stays ready, saying since when), or, failing closed, gets 503.
func TestRateLimitStoreDown(t *testing.T) {
	t.Parallel()
	for _, closed := range []bool{false, true} {
		cfg := testConfig()
		cfg.RateLimit = slowLimit(1)
		cfg.RateLimit.RedisURL = "redis://127.0.0.1:1" // nothing listens on port 1
		cfg.RateLimit.FailClosed = closed
		srv := startServer(t, cfg)
		want := map[bool]int{false: 200, true: 503}[closed]
		for range 3 {
			if resp, body := post(t, srv.URL+connectPath, "application/json", connectBody, nil); resp.StatusCode != want {
				t.Fatalf("fail closed %v: %d %s, want %d", closed, resp.StatusCode, body, want)
			} else if closed && !strings.Contains(body, `"code":"unavailable","message":"the rate limit store is unreachable and this server refuses unchecked requests; try again shortly"`) {
				t.Fatalf("fail closed: body %s", body)
			}
		}
		code, body := getReadyz(t, srv.URL)
		if code != 200 || !strings.HasPrefix(body, "ready\nrate limit store unreachable since 20") {
			t.Errorf("readyz: %d %q, want ready, saying the store is unreachable", code, body)
		}
		if n := strings.Count(srv.Log.String(), `"msg":"rate limit store unreachable"`); n != 1 {
			t.Errorf("%d lines say the store is unreachable, want 1", n)
		}
	}
}
