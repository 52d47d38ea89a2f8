package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	jose "github.com/go-jose/go-jose/v4"
)

// refusedAs verifies tok and fails unless it is refused with want.
func refusedAs(t *testing.T, v *Verifier, name, tok string, want Kind) {
	t.Helper()
	p, err := v.Verify(context.Background(), tok)
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("%s: got %+v, %v; want a refusal of kind %s", name, p, err, want)
		return
	}
	if e.Kind != want {
		t.Errorf("%s: kind %s (%q), want %s", name, e.Kind, e.Description, want)
	}
}

// signTyped is sign with the JOSE header's typ set to typ ("" for none).
func signTyped(t testing.TB, k signingKey, typ string, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	return signPayload(t, k, typ, b)
}

// signRaw signs payload, as written, with typ JWT.
func signRaw(t testing.TB, k signingKey, payload string) string {
	return signPayload(t, k, "JWT", []byte(payload))
}

// TestIDTokensAreNotAccessTokens: a token with an ID token's claims is
// refused even when its aud is ours (a provider that issues ID tokens to a
// client whose id is the configured audience).
func TestIDTokensAreNotAccessTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	k := f.p.key("rsa-1")
	for _, claim := range []string{"nonce", "at_hash", "c_hash", "s_hash"} {
		refusedAs(t, f.v, claim, sign(t, k, with(f.claims(), claim, "x")), KindNotAccessToken)
	}
	// typ is not required by default.
	if _, err := f.v.Verify(context.Background(), signTyped(t, k, "JWT", f.claims())); err != nil {
		t.Errorf("typ JWT without the option: %v", err)
	}

	g := newFixture(t, func(c *Config) { c.RequireAccessTokenType = true })
	k = g.p.key("rsa-1")
	for _, typ := range []string{"at+jwt", "application/at+jwt", "AT+JWT"} {
		if _, err := g.v.Verify(context.Background(), signTyped(t, k, typ, g.claims())); err != nil {
			t.Errorf("typ %s with the option: %v", typ, err)
		}
	}
	refusedAs(t, g.v, "typ JWT with the option", signTyped(t, k, "JWT", g.claims()), KindNotAccessToken)
	refusedAs(t, g.v, "no typ with the option", signTyped(t, k, "", g.claims()), KindNotAccessToken)
}

// TestOneExactClaimMap: every claim comes from the payload's exact keys, so
// the subject the audit logs is the identity minted; a key that only folds
// to "sub" (U+017F, long s) is not sub.
func TestOneExactClaimMap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	k := f.p.key("rsa-1")
	rest := `"iss":"` + f.p.issuer + `","aud":"` + testAudience + `","exp":` + jsonInt(epoch.Add(time.Hour).Unix())
	for _, payload := range []string{
		`{` + rest + `,"sub":"user-1","ſub":"admin"}`,
		`{"ſub":"admin",` + rest + `,"sub":"user-1"}`,
	} {
		p, err := f.v.Verify(context.Background(), signRaw(t, k, payload))
		if err != nil {
			t.Fatalf("%s: %v", payload, err)
		}
		if p.Subject != "user-1" || p.Identity != "user-1" || p.authn.Subject != "user-1" || p.authn.Identity != "user-1" {
			t.Errorf("%s: subject %q, identity %q: want both user-1", payload, p.Subject, p.Identity)
		}
	}
	refusedAs(t, f.v, "ſub alone", signRaw(t, k, `{`+rest+`,"ſub":"admin"}`), KindIdentity)
	refusedAs(t, f.v, "ISS instead of iss", signRaw(t, k, `{"ISS":"`+f.p.issuer+`","aud":"`+testAudience+`","sub":"u","exp":`+jsonInt(epoch.Add(time.Hour).Unix())+`}`), KindIssuer)
	refusedAs(t, f.v, "sub a number", sign(t, k, with(f.claims(), "sub", 42)), KindMalformed)
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestTimeClaimsMustBeNumbers: exp, nbf and iat, when present, are JSON
// numbers; anything else is malformed, whatever its value says.
func TestTimeClaimsMustBeNumbers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	k := f.p.key("rsa-1")
	future := jsonInt(epoch.Add(24 * time.Hour).Unix())
	for name, claims := range map[string]map[string]any{
		"iat a numeric string in the future": with(f.claims(), "iat", future),
		"iat a numeric string in the past":   with(f.claims(), "iat", jsonInt(epoch.Unix())),
		"iat true":                           with(f.claims(), "iat", true),
		"nbf a numeric string":               with(f.claims(), "nbf", jsonInt(epoch.Unix())),
		"exp a numeric string":               with(f.claims(), "exp", future),
		"exp null":                           with(f.claims(), "exp", json.RawMessage("null")),
		"iat an object":                      with(f.claims(), "iat", map[string]any{"n": 1}),
	} {
		refusedAs(t, f.v, name, sign(t, k, claims), KindMalformed)
	}
}

// capLog is a slog handler that keeps every line.
type capLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capLog) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(lockedWriter{c}, nil))
}

type lockedWriter struct{ c *capLog }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.buf.Write(p)
}

func (c *capLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// hostileProvider serves discovery with handler on 127.0.0.1.
func hostileProvider(t *testing.T, handler func(issuer string, w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	var issuer string
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler(issuer, w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	issuer = srv.URL + "/"
	return issuer
}

// TestUpstreamTextIsBounded: a provider's failing answer never reaches the
// state (/readyz) and reaches the log only as a short, sanitized excerpt.
func TestUpstreamTextIsBounded(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("A\x1b[31m\r\nforged log line\u202e", 1<<16) // 2 MiB of text with control characters
	for _, path := range []string{"/.well-known/openid-configuration", "/jwks"} {
		issuer := hostileProvider(t, func(issuer string, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path && r.URL.Path == "/.well-known/openid-configuration" {
				_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "jwks"})
				return
			}
			http.Error(w, body, http.StatusInternalServerError)
		})
		logs := &capLog{}
		v, err := New(context.Background(), Config{Issuer: issuer, Audience: testAudience, Log: logs.logger(), MaxBackoff: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for strings.Count(logs.String(), "\n") < 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no retries logged: %s", path, logs.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		st := v.State().String()
		v.Close()
		if len(st) > 120 || strings.Contains(st, "forged") || !strings.Contains(st, "HTTP 500") {
			t.Errorf("%s: state %d bytes: %.300q", path, len(st), st)
		}
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%s: log line %.200q: %v", path, line, err)
			}
			if len(line) > 1024 {
				t.Errorf("%s: log line of %d bytes", path, len(line))
			}
			msg, _ := m["error"].(string)
			if strings.ContainsFunc(msg, func(r rune) bool { return unicode.IsControl(r) || r == '\u202e' }) {
				t.Errorf("%s: control characters in %q", path, msg)
			}
			if m["msg"] == "oidc provider unreachable, retrying" && !strings.Contains(msg, "forged log line") {
				t.Errorf("%s: the log lost the provider's own words: %q", path, msg)
			}
		}
	}
}

// firstLoad is the state of a verifier of issuer once its first load has
// succeeded or failed.
func firstLoad(t *testing.T, issuer string) State {
	t.Helper()
	v, err := New(context.Background(), Config{Issuer: issuer, Audience: testAudience, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	deadline := time.Now().Add(10 * time.Second)
	for v.State().LastError == "" && !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the first load never ended")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return v.State()
}

// TestDiscoveryIsCapped: a discovery document larger than 1 MiB is refused
// without being read to its end, like a key set.
func TestDiscoveryIsCapped(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	big := hostileProvider(t, func(issuer string, w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": p.srv.URL + "/jwks", "pad": strings.Repeat("x", 2<<20)})
	})
	st := firstLoad(t, big)
	if st.Ready || !strings.Contains(st.String(), "larger than 1 MiB") {
		t.Errorf("a 2 MiB discovery document: %s", st)
	}
}

// TestDiscoveryIssuerMustMatch: discovery's issuer must be the configured
// one exactly (OpenID Connect Discovery 4.3).
func TestDiscoveryIssuerMustMatch(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	other := hostileProvider(t, func(issuer string, w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": strings.TrimSuffix(issuer, "/"), "jwks_uri": p.srv.URL + "/jwks"})
	})
	st := firstLoad(t, other)
	if st.Ready || !strings.Contains(st.String(), "issuer") {
		t.Errorf("discovery naming another issuer: %s", st)
	}
}

// TestRefresh: an operator's refresh (SIGHUP) loads the provider's current
// key set at once, whatever the rate limit of unknown kids.
func TestRefresh(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.RefreshInterval = time.Hour })
	base := f.p.fetches.Load()
	f.p.addKey(signingKey{kid: "rsa-2", alg: jose.RS256, priv: testRSAKey(t, 1)})
	f.p.removeKey("rsa-1")
	if err := f.v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.p.fetches.Load() - base; got != 1 {
		t.Errorf("refresh cost %d fetches, want 1", got)
	}
	if st := f.v.State(); st.Keys != 1 {
		t.Errorf("after the refresh: %s", st)
	}
	refusedAs(t, f.v, "the dropped key", sign(t, signingKey{kid: "rsa-1", alg: jose.RS256, priv: testRSAKey(t, 0)}, f.claims()), KindUnknownKey)
	f.p.setDown(true)
	if err := f.v.Refresh(context.Background()); err == nil {
		t.Error("a refresh with the provider down succeeded")
	}
	if st := f.v.State(); !st.Ready || st.Keys != 1 {
		t.Errorf("a failed refresh dropped the keys: %s", st)
	}
}
