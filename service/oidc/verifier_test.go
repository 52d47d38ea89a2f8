package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const testAudience = "lktoken-test"

var epoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	p     *testProvider
	clock *fakeClock
	v     *Verifier
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	p := newTestProvider(t)
	clock := newFakeClock(epoch)
	cfg := Config{
		Issuer:          p.issuer,
		Audience:        testAudience,
		Now:             clock.Now,
		RefetchInterval: time.Minute,
		MaxBackoff:      50 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	waitReady(t, v)
	return &fixture{p: p, clock: clock, v: v}
}

func waitReady(t *testing.T, v *Verifier) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !v.Ready() {
		if time.Now().After(deadline) {
			t.Fatalf("verifier not ready: %s", v.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// claims are valid claims for the fixture's provider at epoch.
func (f *fixture) claims() map[string]any {
	return map[string]any{
		"iss":  f.p.issuer,
		"aud":  []string{testAudience, "other"},
		"sub":  "user-1",
		"name": "Ada",
		"org":  "acme",
		"iat":  epoch.Unix(),
		"nbf":  epoch.Unix(),
		"exp":  epoch.Add(time.Hour).Unix(),
	}
}

func with(c map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestVerifyAcceptsValidTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ec := signingKey{kid: "ec-1", alg: jose.ES256, priv: newECKey(t)}
	ed := signingKey{kid: "ed-1", alg: jose.EdDSA, priv: newEdKey(t)}
	ps := signingKey{kid: "ps-1", alg: jose.PS256, priv: testRSAKey(t, 2)}
	for _, k := range []signingKey{ec, ed, ps} {
		f.p.addKey(k)
	}
	cases := map[string]string{
		"RS256":                 sign(t, f.p.key("rsa-1"), f.claims()),
		"ES256 (new kid)":       sign(t, ec, f.claims()),
		"EdDSA":                 sign(t, ed, f.claims()),
		"PS256":                 sign(t, ps, f.claims()),
		"aud as a string":       sign(t, f.p.key("rsa-1"), with(f.claims(), "aud", testAudience)),
		"expired within leeway": sign(t, f.p.key("rsa-1"), with(f.claims(), "exp", epoch.Add(-20*time.Second).Unix())),
		"nbf within leeway":     sign(t, f.p.key("rsa-1"), with(f.claims(), "nbf", epoch.Add(20*time.Second).Unix())),
		"no nbf, no iat":        sign(t, f.p.key("rsa-1"), with(f.claims(), "nbf", nil, "iat", nil)),
	}
	for name, tok := range cases {
		p, err := f.v.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: refused: %v", name, err)
			continue
		}
		if p.Identity != "user-1" || p.Subject != "user-1" || p.Name != "Ada" || p.Issuer != f.p.issuer {
			t.Errorf("%s: principal %+v", name, p)
		}
		if p.Claims["org"] != "acme" || p.Claims["iat"] != epoch.Unix() && name != "no nbf, no iat" {
			t.Errorf("%s: claims %v", name, p.Claims)
		}
	}
}

// TestVerifyRefusesHostileTokens is the list of hostile tokens:
// each is refused with its own kind and a description that never contains
// the token.
func TestVerifyRefusesHostileTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	good := f.p.key("rsa-1")
	valid := sign(t, good, f.claims())
	parts := strings.Split(valid, ".")

	// HS256 keyed with the provider's public key, in the two encodings an
	// attacker would try (PEM and DER).
	der, err := x509.MarshalPKIXPublicKey(good.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	hs := func(secret []byte) string {
		head := b64(`{"alg":"HS256","typ":"JWT","kid":"rsa-1"}`)
		body, _ := json.Marshal(f.claims())
		in := head + "." + base64.RawURLEncoding.EncodeToString(body)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	body, _ := json.Marshal(with(f.claims(), "sub", "admin"))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(body) + "." + parts[2]
	noneBody, _ := json.Marshal(f.claims())

	cases := []struct {
		name string
		tok  string
		want Kind
	}{
		{"alg none", b64(`{"alg":"none","typ":"JWT"}`) + "." + base64.RawURLEncoding.EncodeToString(noneBody) + ".", KindAlgorithm},
		{"alg none, kid of the provider", b64(`{"alg":"none","kid":"rsa-1"}`) + "." + base64.RawURLEncoding.EncodeToString(noneBody) + ".", KindAlgorithm},
		{"another key under the provider's kid", sign(t, signingKey{kid: "rsa-1", alg: jose.RS256, priv: testRSAKey(t, 1)}, f.claims()), KindSignature},
		{"HS256 keyed with the provider's public key (PEM)", hs(pemKey), KindAlgorithm},
		{"HS256 keyed with the provider's public key (DER)", hs(der), KindAlgorithm},
		{"expired", sign(t, good, with(f.claims(), "exp", epoch.Add(-time.Minute).Unix())), KindExpired},
		{"nbf in the future", sign(t, good, with(f.claims(), "nbf", epoch.Add(time.Minute).Unix())), KindNotYetValid},
		{"iat in the future", sign(t, good, with(f.claims(), "iat", epoch.Add(time.Hour).Unix())), KindIssuedInFuture},
		{"wrong issuer", sign(t, good, with(f.claims(), "iss", "https://evil.example/")), KindIssuer},
		{"issuer without its trailing slash", sign(t, good, with(f.claims(), "iss", strings.TrimSuffix(f.p.issuer, "/"))), KindIssuer},
		{"wrong audience", sign(t, good, with(f.claims(), "aud", "someone-else")), KindAudience},
		{"no audience", sign(t, good, with(f.claims(), "aud", nil)), KindAudience},
		{"tampered payload under the real signature", tampered, KindSignature},
		{"garbage", "not-a-token", KindMalformed},
		{"garbage in three parts", "a.b.c", KindMalformed},
		{"empty", "", KindMalformed},
		{"JSON serialization", `{"payload":"e30","signatures":[]}`, KindMalformed},
		{"oversized", sign(t, good, with(f.claims(), "pad", strings.Repeat("x", 9000))), KindTooLarge},
		{"no exp", sign(t, good, with(f.claims(), "exp", nil)), KindMalformed},
		{"exp a string", sign(t, good, with(f.claims(), "exp", "tomorrow")), KindMalformed},
		{"no sub", sign(t, good, with(f.claims(), "sub", nil)), KindIdentity},
		{"sub empty", sign(t, good, with(f.claims(), "sub", "")), KindIdentity},
		{"payload not an object", sign(t, good, nil), KindMalformed},
		{"unknown kid", sign(t, signingKey{kid: "made-up", alg: jose.RS256, priv: testRSAKey(t, 1)}, f.claims()), KindUnknownKey},
	}
	for _, c := range cases {
		p, err := f.v.Verify(context.Background(), c.tok)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, %v; want a refusal of kind %s", c.name, p, err, c.want)
			continue
		}
		if e.Kind != c.want {
			t.Errorf("%s: kind %s (%q), want %s", c.name, e.Kind, e.Description, c.want)
		}
		if c.tok != "" && len(c.tok) > 8 && strings.Contains(e.Description, c.tok) {
			t.Errorf("%s: the description echoes the token", c.name)
		}
		ch := e.Challenge("lktoken")
		if !strings.HasPrefix(ch, `Bearer realm="lktoken", error="invalid_token", error_description="`) {
			t.Errorf("%s: challenge %q", c.name, ch)
		}
		if strings.ContainsAny(strings.TrimSuffix(strings.SplitN(ch, `error_description="`, 2)[1], `"`), "\"\\") {
			t.Errorf("%s: challenge %q is not a valid quoted-string", c.name, ch)
		}
		if e.Status() != 401 {
			t.Errorf("%s: status %d", c.name, e.Status())
		}
	}
	// Nothing hostile was cached: only the results of good tokens are.
	if n := f.v.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after only refusals", n)
	}
}

func TestRefusalDescriptions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Algorithms = []string{"RS256"} })
	good := f.p.key("rsa-1")
	for tok, want := range map[string]string{
		sign(t, good, with(f.claims(), "exp", epoch.Add(-time.Hour).Unix())):                   "the token is expired",
		sign(t, good, with(f.claims(), "aud", "x")):                                            "its aud does not include lktoken-test",
		sign(t, good, with(f.claims(), "iss", "https://x/")):                                   "was not issued by " + f.p.issuer,
		b64(`{"alg":"HS256"}`) + "." + b64(`{}`) + "." + b64("sig"):                            `signed with alg 'HS256'; this server accepts RS256`,
		b64(`{"alg":"X\"\\\u0001"}`) + "." + b64(`{}`) + "." + b64("sig"):                      "signed with an unsupported algorithm",
		sign(t, signingKey{alg: jose.ES256, priv: newECKey(t)}, f.claims()):                    "signed with alg 'ES256'; this server accepts RS256",
		sign(t, signingKey{kid: "rsa-1", alg: jose.RS256, priv: testRSAKey(t, 3)}, f.claims()): "signature does not verify",
	} {
		_, err := f.v.Verify(context.Background(), tok)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("want %q, got %v", want, err)
		}
		if ch := e.Challenge("lktoken"); !strings.Contains(ch, want) {
			t.Errorf("challenge %q does not say %q", ch, want)
		}
	}
}

func TestMissingChallengeHasNoErrorCode(t *testing.T) {
	t.Parallel()
	e := refuse(KindMissing, "send Authorization: Bearer <token>")
	if got := e.Challenge("lktoken"); got != `Bearer realm="lktoken"` {
		t.Errorf("challenge %q", got)
	}
}

func TestExpiryFollowsTheInjectedClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tok := sign(t, f.p.key("rsa-1"), f.claims())
	if _, err := f.v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	// Cached until exp+leeway, refused after, from the cache or not.
	f.clock.Advance(time.Hour + 29*time.Second)
	if _, err := f.v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	f.clock.Advance(2 * time.Second)
	_, err := f.v.Verify(context.Background(), tok)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindExpired {
		t.Fatalf("after exp+leeway: %v", err)
	}
}

func TestLeewayIsConfigurable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Leeway = -1 })
	_, err := f.v.Verify(context.Background(), sign(t, f.p.key("rsa-1"), with(f.claims(), "exp", epoch.Add(-time.Second).Unix())))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindExpired {
		t.Fatalf("no leeway: a token expired 1s ago: %v", err)
	}
	g := newFixture(t, func(c *Config) { c.Leeway = 5 * time.Minute })
	if _, err := g.v.Verify(context.Background(), sign(t, g.p.key("rsa-1"), with(g.claims(), "nbf", epoch.Add(4*time.Minute).Unix()))); err != nil {
		t.Fatalf("5 min leeway, nbf in 4 min: %v", err)
	}
}

func TestClaimsConfigurable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.IdentityClaim, c.NameClaim = "email", "nickname" })
	p, err := f.v.Verify(context.Background(), sign(t, f.p.key("rsa-1"),
		with(f.claims(), "email", "ada@example.com", "nickname", "ada", "level", 3, "score", 2.5,
			"groups", []string{"a", "b"})))
	if err != nil {
		t.Fatal(err)
	}
	if p.Identity != "ada@example.com" || p.Subject != "user-1" || p.Name != "ada" {
		t.Errorf("principal %+v", p)
	}
	if p.Claims["level"] != int64(3) || p.Claims["score"] != 2.5 {
		t.Errorf("numbers: %#v %#v", p.Claims["level"], p.Claims["score"])
	}
	if g, ok := p.Claims["groups"].([]any); !ok || len(g) != 2 {
		t.Errorf("groups: %#v", p.Claims["groups"])
	}
	_, err = f.v.Verify(context.Background(), sign(t, f.p.key("rsa-1"), f.claims()))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindIdentity || !strings.Contains(e.Description, "email") {
		t.Errorf("no email claim: %v", err)
	}
}

func TestTokenWithoutKid(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	k := f.p.key("rsa-1")
	k.kid = ""
	if _, err := f.v.Verify(context.Background(), sign(t, k, f.claims())); err != nil {
		t.Fatal(err)
	}
}

// TestUnknownKidRefetchIsRateLimited: a rotated key is found by one
// refetch; a flood of made-up kids costs one fetch per interval.
func TestUnknownKidRefetchIsRateLimited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	base := f.p.fetches.Load()

	// Rotation: the provider publishes a new key and signs with it.
	rotated := signingKey{kid: "rsa-2", alg: jose.RS256, priv: testRSAKey(t, 1)}
	f.p.addKey(rotated)
	if _, err := f.v.Verify(context.Background(), sign(t, rotated, f.claims())); err != nil {
		t.Fatalf("token with the new kid: %v", err)
	}
	if got := f.p.fetches.Load() - base; got != 1 {
		t.Errorf("rotation cost %d fetches, want 1", got)
	}

	// A flood of unknown kids within the interval: no fetch at all.
	for i := range 50 {
		tok := sign(t, signingKey{kid: "made-up-" + string(rune('a'+i%26)), alg: jose.RS256, priv: testRSAKey(t, 2)}, f.claims())
		_, err := f.v.Verify(context.Background(), tok)
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindUnknownKey {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if got := f.p.fetches.Load() - base; got != 1 {
		t.Errorf("50 made-up kids cost %d fetches in all, want still 1", got)
	}
	// After the interval, the next unknown kid may fetch again.
	f.clock.Advance(time.Minute)
	_, _ = f.v.Verify(context.Background(), sign(t, signingKey{kid: "later", alg: jose.RS256, priv: testRSAKey(t, 2)}, f.claims()))
	if got := f.p.fetches.Load() - base; got != 2 {
		t.Errorf("after the interval: %d fetches, want 2", got)
	}
	// A bad signature under a known kid never fetches.
	_, _ = f.v.Verify(context.Background(), sign(t, signingKey{kid: "rsa-2", alg: jose.RS256, priv: testRSAKey(t, 3)}, f.claims()))
	f.clock.Advance(time.Minute)
	_, _ = f.v.Verify(context.Background(), sign(t, signingKey{kid: "rsa-2", alg: jose.RS256, priv: testRSAKey(t, 3)}, f.claims()))
	if got := f.p.fetches.Load() - base; got != 2 {
		t.Errorf("bad signatures under a known kid fetched: %d fetches, want 2", got)
	}
}

// TestProviderOutage: with the provider down, known keys keep verifying
// and the state says the provider is unreachable; once it is back, the
// state clears.
func TestProviderOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.RefreshInterval = 20 * time.Millisecond })
	f.p.setDown(true)
	deadline := time.Now().Add(10 * time.Second)
	for f.v.State().LastError == "" {
		if time.Now().After(deadline) {
			t.Fatal("state never reported the outage")
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := f.v.State()
	if !st.Ready || st.Keys != 1 || !strings.Contains(st.String(), "provider unreachable") {
		t.Errorf("state during the outage: %+v (%s)", st, st)
	}
	// A token never seen before (so not cached), signed by a known key.
	if _, err := f.v.Verify(context.Background(), sign(t, f.p.key("rsa-1"), with(f.claims(), "sub", "fresh"))); err != nil {
		t.Errorf("known key during the outage: %v", err)
	}
	f.p.setDown(false)
	deadline = time.Now().Add(10 * time.Second)
	for f.v.State().LastError != "" {
		if time.Now().After(deadline) {
			t.Fatalf("state never recovered: %s", f.v.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestOutageSeenByAToken: an outage first noticed by a token's unknown kid
// (the background refresh being far off) starts the retries, so the state
// clears soon after the provider is back.
func TestOutageSeenByAToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.RefreshInterval = time.Hour; c.RefetchInterval = time.Nanosecond })
	f.p.setDown(true)
	_, _ = f.v.Verify(context.Background(), sign(t, signingKey{kid: "new", alg: jose.RS256, priv: testRSAKey(t, 1)}, f.claims()))
	if st := f.v.State(); !st.Ready || st.LastError == "" {
		t.Fatalf("after a failed refetch: %s", st)
	}
	f.p.setDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for f.v.State().LastError != "" {
		if time.Now().After(deadline) {
			t.Fatalf("state never recovered: %s", f.v.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestNotReadyUntilKeysLoad: a provider down at start leaves the verifier
// not ready (refusing with KindUnavailable, 503), retrying in the
// background until the provider answers.
func TestNotReadyUntilKeysLoad(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	p.setDown(true)
	clock := newFakeClock(epoch)
	v, err := New(context.Background(), Config{Issuer: p.issuer, Audience: testAudience, Now: clock.Now, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	time.Sleep(100 * time.Millisecond)
	if v.Ready() {
		t.Fatal("ready with the provider down")
	}
	if s := v.State().String(); s != "not ready: discovery failed: HTTP 503" {
		t.Errorf("state %q", s)
	}
	f := &fixture{p: p, clock: clock, v: v}
	_, err = v.Verify(context.Background(), sign(t, p.key("rsa-1"), f.claims()))
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnavailable || e.Status() != 503 {
		t.Fatalf("before the keys load: %v", err)
	}
	if ch := e.Challenge("lktoken"); ch != `Bearer realm="lktoken"` {
		t.Errorf("unavailable challenge %q", ch)
	}
	p.setDown(false)
	waitReady(t, v)
	if _, err := v.Verify(context.Background(), sign(t, p.key("rsa-1"), f.claims())); err != nil {
		t.Fatal(err)
	}
}

func TestJWKSURLSkipsDiscovery(t *testing.T) {
	t.Parallel()
	p := newTestProvider(t)
	clock := newFakeClock(epoch)
	v, err := New(context.Background(), Config{Issuer: "https://issuer.example/", Audience: testAudience,
		JWKSURL: p.srv.URL + "/jwks", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	waitReady(t, v)
	f := &fixture{p: p, clock: clock, v: v}
	if _, err := v.Verify(context.Background(), sign(t, p.key("rsa-1"), with(f.claims(), "iss", "https://issuer.example/"))); err != nil {
		t.Fatal(err)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.CacheSize = 8 })
	tok := sign(t, f.p.key("rsa-1"), f.claims())
	a, err := f.v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.v.Verify(context.Background(), tok)
	if err != nil || a != b {
		t.Fatalf("second verification of one token: %p %p %v (want the cached principal)", a, b, err)
	}
	// Bounded: many distinct valid tokens never grow it past its size.
	for i := range 40 {
		if _, err := f.v.Verify(context.Background(), sign(t, f.p.key("rsa-1"), with(f.claims(), "jti", i))); err != nil {
			t.Fatal(err)
		}
		if n := f.v.cache.len(); n > 8 {
			t.Fatalf("cache grew to %d", n)
		}
	}
	// A key the provider drops empties the cache at the next load.
	f.p.addKey(signingKey{kid: "rsa-2", alg: jose.RS256, priv: testRSAKey(t, 1)})
	f.p.removeKey("rsa-1")
	if err := f.v.keys.fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.v.cache.len(); n != 0 {
		t.Errorf("cache kept %d results of a removed key", n)
	}
	_, err = f.v.Verify(context.Background(), tok)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindUnknownKey {
		t.Errorf("token of the removed key: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	ok := Config{Issuer: "https://id.example/", Audience: "lktoken"}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Issuer = "" }, "Issuer: required"},
		{func(c *Config) { c.Issuer = "id.example" }, "Issuer:"},
		{func(c *Config) { c.Issuer = "https://u:p@id.example/" }, "credentials"},
		{func(c *Config) { c.Audience = " " }, "Audience: required"},
		{func(c *Config) { c.Algorithms = []string{"RS256", "HS256"} }, `"HS256" is not accepted`},
		{func(c *Config) { c.Algorithms = []string{"none"} }, `"none" is not accepted`},
		{func(c *Config) { c.Leeway = 6 * time.Minute }, "more than the 5m0s allowed"},
		{func(c *Config) { c.JWKSURL = "ftp://x/" }, "JWKSURL:"},
		{func(c *Config) { c.IdentityClaim = " sub" }, "IdentityClaim"},
	} {
		cfg := ok
		c.mod(&cfg)
		err := cfg.Check()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if err := ok.Check(); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestParseKeySetSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	if _, err := parseKeySet([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}`)); err == nil {
		t.Error("a set of only a symmetric key was accepted")
	}
	if _, err := parseKeySet([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
	pub := jose.JSONWebKey{Key: testRSAKey(t, 0).Public(), KeyID: "k", Use: "sig"}
	enc := jose.JSONWebKey{Key: testRSAKey(t, 1).Public(), KeyID: "e", Use: "enc"}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub, enc}})
	b = []byte(strings.Replace(string(b), `"keys":[`, `"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"k"},{"kty":"weird"},`, 1))
	ks, err := parseKeySet(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ks.all) != 1 || len(ks.byKid["k"]) != 1 || ks.byKid["e"] != nil {
		t.Errorf("kept %d keys: %v", len(ks.all), ks.byKid)
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	p := newBenchProvider(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.v.Verify(context.Background(), p.tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	p := newBenchProvider(b, func(c *Config) { c.CacheSize = -1 })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.v.Verify(context.Background(), p.tok); err != nil {
			b.Fatal(err)
		}
	}
}

type benchFixture struct {
	v   *Verifier
	tok string
}

func newBenchProvider(b *testing.B, mods ...func(*Config)) benchFixture {
	p := newTestProvider(b)
	clock := newFakeClock(epoch)
	cfg := Config{Issuer: p.issuer, Audience: testAudience, Now: clock.Now}
	for _, m := range mods {
		m(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(v.Close)
	for !v.Ready() {
		time.Sleep(time.Millisecond)
	}
	f := &fixture{p: p, clock: clock, v: v}
	return benchFixture{v: v, tok: sign(b, p.key("rsa-1"), f.claims())}
}

// TestHTTPSIssuerNeedsHTTPSKeys: an https issuer whose discovery names a
// plain-http key set is never trusted.
func TestHTTPSIssuerNeedsHTTPSKeys(t *testing.T) {
	t.Parallel()
	var issuer string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": "http://127.0.0.1:1/jwks"})
	}))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.Listener = l
	srv.StartTLS()
	defer srv.Close()
	issuer = srv.URL + "/"
	v, err := New(context.Background(), Config{Issuer: issuer, Audience: testAudience, HTTPClient: srv.Client(), MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(v.State().LastError, "is not https") {
		if time.Now().After(deadline) {
			t.Fatalf("state %s", v.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if v.Ready() {
		t.Error("ready with a plain-http key set")
	}
}
