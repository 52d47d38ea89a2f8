package oidc

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// answer is one HTTP answer from lktoken.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

// routes are the two ways in: the Connect route (JSON, as curl and the
// browser send it) and LiveKit's token endpoint.
var routes = []struct {
	name, path string
	body       func(room, identity string) string
}{
	{"connect", "/lktoken.v1.TokenService/GenerateToken", func(room, identity string) string {
		m := map[string]string{"roomName": room}
		if identity != "" {
			m["participantIdentity"] = identity
		}
		b, _ := json.Marshal(m)
		return string(b)
	}},
	{"api/token", "/api/token", func(room, identity string) string {
		m := map[string]string{"room_name": room}
		if identity != "" {
			m["participant_identity"] = identity
		}
		b, _ := json.Marshal(m)
		return string(b)
	}},
}

// post sends body to lktoken's path with "Authorization: Bearer token"
// (none when token is "").
func post(ctx context.Context, t *testing.T, s *servers, path, body, token string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.lktoken.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, harness.Redact(err.Error(), token))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &a.json)
	return a
}

// minted returns the LiveKit token of a successful answer on either route.
func (a answer) minted() string {
	for _, k := range []string{"token", "participant_token"} {
		if s, ok := a.json[k].(string); ok {
			return s
		}
	}
	return ""
}

func hydraToken(ctx context.Context, t *testing.T, s *servers, aud string) string {
	t.Helper()
	tok, err := s.hydra.Token(ctx, s.client, aud)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// jwtParts decodes a JWT's header and payload without verifying it.
func jwtParts(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	return header, payload
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRS256 makes a compact JWS with header and claims, signed with key.
func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	in := b64json(header) + "." + b64json(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// providerPublicKeyPEM returns the public key Hydra publishes under kid,
// PEM-encoded: what an algorithm-confusion attacker uses as an HMAC secret.
func providerPublicKeyPEM(ctx context.Context, t *testing.T, s *servers, kid string) []byte {
	t.Helper()
	raw, err := s.hydra.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid != kid {
			continue
		}
		n, _ := base64.RawURLEncoding.DecodeString(k.N)
		e, _ := base64.RawURLEncoding.DecodeString(k.E)
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	t.Fatalf("kid %s not in Hydra's JWKS", kid)
	return nil
}

func readyz(ctx context.Context, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b), nil
}

func waitReadyz(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		code, body, err := readyz(ctx, url)
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lktoken /readyz: %d %q %v", code, body, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestHydraTokenJoinsAsItsSubject is the main path: a client-credentials
// token from Hydra gets, on each route, a LiveKit token whose identity is
// the token's subject, and livekit-server admits that identity.
func TestHydraTokenJoinsAsItsSubject(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	tok := hydraToken(ctx, t, s, audience)
	_, claims := jwtParts(t, tok)
	sub := claims["sub"].(string)
	if sub != s.client.ID {
		t.Fatalf("Hydra's sub %q, client %q", sub, s.client.ID)
	}
	for _, r := range routes {
		for _, identity := range []string{"", sub} {
			room := unique("oidc-join")
			a := post(ctx, t, s, r.path, r.body(room, identity), tok)
			if a.status != http.StatusOK && a.status != http.StatusCreated {
				t.Fatalf("%s (identity %q): %d %s", r.name, identity, a.status, harness.Redact(a.body))
			}
			lk := a.minted()
			if lk == "" {
				t.Fatalf("%s: no token in %s", r.name, harness.Redact(a.body))
			}
			sc, err := harness.Join(ctx, s.livekit.WSURL, lk)
			if err != nil {
				t.Fatalf("%s: join: %v", r.name, err)
			}
			got := sc.Join.GetParticipant().GetIdentity()
			gotRoom := sc.Join.GetRoom().GetName()
			ps, lerr := s.livekit.ListParticipants(ctx, room)
			_ = sc.Close()
			if got != sub || gotRoom != room {
				t.Errorf("%s: livekit-server admitted %q into %q, want %q into %q", r.name, got, gotRoom, sub, room)
			}
			if lerr != nil || len(ps) != 1 || ps[0].GetIdentity() != sub {
				t.Errorf("%s: ListParticipants: %v %v", r.name, ps, lerr)
			}
			t.Logf("%s: Hydra subject %s joined room %s as %q", r.name, sub, room, got)
		}
	}
}

// TestOtherIdentityIsPermissionDenied: naming an identity other than the
// verified one is refused (403) naming the field, on both routes.
func TestOtherIdentityIsPermissionDenied(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, time.Minute)
	tok := hydraToken(ctx, t, s, audience)
	for _, r := range routes {
		a := post(ctx, t, s, r.path, r.body(unique("oidc-x"), "someone-else"), tok)
		if a.status != http.StatusForbidden || a.json["code"] != "permission_denied" ||
			!strings.Contains(a.body, "participant_identity") || a.minted() != "" {
			t.Errorf("%s: %d %s", r.name, a.status, harness.Redact(a.body))
		}
	}
}

// TestPolicyChoosesRooms: the CEL policy admits oidc-* and the caller's
// own lobby, and refuses (403) everything else without naming claims.
func TestPolicyChoosesRooms(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, time.Minute)
	tok := hydraToken(ctx, t, s, audience)
	for _, r := range routes {
		if a := post(ctx, t, s, r.path, r.body("lobby-"+s.client.ID, ""), tok); a.minted() == "" {
			t.Errorf("%s: own lobby: %d %s", r.name, a.status, harness.Redact(a.body))
		}
		a := post(ctx, t, s, r.path, r.body("lobby-someone-else", ""), tok)
		if a.status != http.StatusForbidden || a.json["code"] != "permission_denied" || a.minted() != "" {
			t.Errorf("%s: other lobby: %d %s", r.name, a.status, harness.Redact(a.body))
		}
		if strings.Contains(a.body, s.client.ID) {
			t.Errorf("%s: the refusal names a claim: %s", r.name, a.body)
		}
	}
}

// TestHostileTokensAre401AndNeverMint is the list. Each token is
// sent on both routes; each must be 401 with an RFC 6750 challenge, and
// lktoken's audit log must show no token minted for it.
func TestHostileTokensAre401AndNeverMint(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 3*time.Minute)

	real := hydraToken(ctx, t, s, audience)
	head, claims := jwtParts(t, real)
	kid := head["kid"].(string)
	parts := strings.Split(real, ".")

	// A key the provider really publishes, whose private half the test
	// holds: for claims Hydra would never sign (nbf ahead, another issuer).
	forgeKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	forgePEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(forgeKey)})
	forgeKid, err := s.hydra.ImportKey(ctx, forgePEM)
	if err != nil {
		t.Fatal(err)
	}
	forged := func(mod map[string]any) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		now := time.Now().Unix()
		c["iat"], c["nbf"], c["exp"] = now, now, now+600
		for k, v := range mod {
			c[k] = v
		}
		return signRS256(t, forgeKey, map[string]any{"alg": "RS256", "typ": "JWT", "kid": forgeKid}, c)
	}
	// The forging key itself is good: a forged token with honest claims
	// passes, so each refusal below is for the one thing changed.
	if a := post(ctx, t, s, routes[0].path, routes[0].body(unique("oidc-forge"), ""), forged(nil)); a.minted() == "" {
		t.Fatalf("a token signed by the imported key with honest claims: %d %s", a.status, harness.Redact(a.body))
	}

	// A token that really expired: Hydra issues it for 1 s; lktoken's
	// leeway is 2 s.
	short, err := s.hydra.CreateClient(ctx, audience)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.hydra.SetTokenLifespan(ctx, short, time.Second); err != nil {
		t.Fatal(err)
	}
	expired, err := s.hydra.Token(ctx, short, audience)
	if err != nil {
		t.Fatal(err)
	}
	// Used once while valid (so a cached result must expire too).
	if a := post(ctx, t, s, routes[0].path, routes[0].body(unique("oidc-short"), ""), expired); a.minted() == "" {
		t.Fatalf("short-lived token while valid: %d %s", a.status, harness.Redact(a.body))
	}

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mac := func(secret []byte) string {
		in := b64json(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + parts[1]
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tamperedClaims := map[string]any{}
	for k, v := range claims {
		tamperedClaims[k] = v
	}
	tamperedClaims["sub"] = "admin"
	garbage := make([]byte, 12<<10)
	_, _ = rand.Read(garbage)

	cases := []struct {
		name, token, says string
	}{
		{"alg none", b64json(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + parts[1] + ".", `alg 'none'`},
		{"signed by another key under the provider's kid", signRS256(t, otherKey, head, claims), "signature"},
		{"HS256 keyed with the provider's public key", mac(providerPublicKeyPEM(ctx, t, s, kid)), `alg 'HS256'`},
		{"expired", expired, "expired"},
		{"nbf in the future", forged(map[string]any{"nbf": time.Now().Add(10 * time.Minute).Unix()}), "not valid yet"},
		{"wrong issuer", forged(map[string]any{"iss": "http://127.0.0.1:1/"}), "not issued by"},
		{"wrong audience (a real Hydra token for another API)", hydraToken(ctx, t, s, otherAudience), "aud"},
		{"tampered payload under the real signature", parts[0] + "." + b64json(tamperedClaims) + "." + parts[2], "signature"},
		{"garbage", "this-is-not-a-token", "not a JWT"},
		{"oversized", base64.RawURLEncoding.EncodeToString(garbage), "longer than"},
	}
	// Wait out the short-lived token's exp and the leeway.
	_, shortClaims := jwtParts(t, expired)
	exp := time.Unix(int64(shortClaims["exp"].(float64)), 0)
	time.Sleep(time.Until(exp.Add(leeway + 500*time.Millisecond)))

	before := strings.Count(s.lktoken.Logs(), `"msg":"mint"`)
	for _, c := range cases {
		for _, r := range routes {
			a := post(ctx, t, s, r.path, r.body(unique("oidc-hostile"), ""), c.token)
			ch := a.header.Get("WWW-Authenticate")
			if a.status != http.StatusUnauthorized || a.minted() != "" {
				t.Errorf("%s via %s: %d %s", c.name, r.name, a.status, harness.Redact(a.body))
				continue
			}
			if !strings.HasPrefix(ch, `Bearer realm="lktoken", error="invalid_token", error_description="`) || !strings.Contains(ch, c.says) {
				t.Errorf("%s via %s: WWW-Authenticate %q, want invalid_token saying %q", c.name, r.name, ch, c.says)
			}
			if a.json["code"] != "unauthenticated" {
				t.Errorf("%s via %s: body %s", c.name, r.name, harness.Redact(a.body))
			}
			if len(c.token) > 16 && (strings.Contains(a.body, c.token) || strings.Contains(ch, c.token)) {
				t.Errorf("%s via %s: the answer echoes the token", c.name, r.name)
			}
			t.Logf("%-52s %-9s -> %d %s", c.name, r.name, a.status, ch)
		}
	}
	// No request without a bearer token either.
	for _, r := range routes {
		a := post(ctx, t, s, r.path, r.body(unique("oidc-none"), ""), "")
		if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") != `Bearer realm="lktoken"` {
			t.Errorf("no token via %s: %d %q", r.name, a.status, a.header.Get("WWW-Authenticate"))
		}
	}
	logs := s.lktoken.Logs()
	for _, c := range cases {
		if len(c.token) > 16 && strings.Contains(logs, c.token) {
			t.Errorf("lktoken's log contains the %s token", c.name)
		}
	}
	if n := issuedAfter(logs, before); n != 0 {
		t.Errorf("%d tokens were minted for hostile callers", n)
	}
}

// issuedAfter counts "mint" audit lines with outcome issued after the
// first `skip` mint lines.
func issuedAfter(logs string, skip int) int {
	n, seen := 0, 0
	for line := range strings.Lines(logs) {
		if !strings.Contains(line, `"msg":"mint"`) {
			continue
		}
		seen++
		if seen > skip && strings.Contains(line, `"outcome":"issued"`) {
			n++
		}
	}
	return n
}

// TestKeyRotationNeedsNoRestart: Hydra signs with a new key; lktoken
// accepts the next token (new kid) at once, and livekit-server admits it.
func TestKeyRotationNeedsNoRestart(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	before := hydraToken(ctx, t, s, audience)
	oldHead, _ := jwtParts(t, before)
	if a := post(ctx, t, s, routes[0].path, routes[0].body(unique("oidc-rot"), ""), before); a.minted() == "" {
		t.Fatalf("before rotation: %d %s", a.status, harness.Redact(a.body))
	}
	// lktoken refetches keys for an unknown kid at most once a second; the
	// test before this one caused such a fetch (the key it imported).
	time.Sleep(1100 * time.Millisecond)
	kid, err := s.hydra.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := hydraToken(ctx, t, s, audience)
	newHead, _ := jwtParts(t, after)
	if newHead["kid"] != kid || kid == oldHead["kid"] {
		t.Fatalf("Hydra signs with kid %v after rotating to %s (was %v)", newHead["kid"], kid, oldHead["kid"])
	}
	room := unique("oidc-rot")
	a := post(ctx, t, s, routes[0].path, routes[0].body(room, ""), after)
	if a.minted() == "" {
		t.Fatalf("token with the new kid %s: %d %s", kid, a.status, harness.Redact(a.body))
	}
	sc, err := harness.Join(ctx, s.livekit.WSURL, a.minted())
	if err != nil {
		t.Fatal(err)
	}
	_ = sc.Close()
	t.Logf("rotation: kid %v -> %s, accepted without restart (lktoken pid %d unchanged)", oldHead["kid"], kid, s.lktoken.PID())
	// The old key is still published, so tokens signed before still pass.
	if a := post(ctx, t, s, routes[1].path, routes[1].body(unique("oidc-rot"), ""), before); a.minted() == "" {
		t.Errorf("token of the previous key after rotation: %d %s", a.status, harness.Redact(a.body))
	}
}

// TestProviderOutage: with Hydra stopped, tokens signed by keys lktoken
// already holds still work, and /readyz reports the provider's state;
// once Hydra is back, the state clears.
func TestProviderOutage(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 3*time.Minute)
	// Two tokens lktoken has never seen (so nothing is cached for them).
	fresh := []string{hydraToken(ctx, t, s, audience), hydraToken(ctx, t, s, audience)}
	if err := s.hydra.Halt(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			if err := s.hydra.Resume(context.Background()); err != nil {
				t.Errorf("resume Hydra: %v", err)
			}
		}
	}()
	// lktoken notices at its next key fetch; a token with an unknown kid
	// triggers one (at most one a second).
	unknown := signRS256(t, mustKey(t), map[string]any{"alg": "RS256", "kid": "unknown-" + unique("k")}, map[string]any{"sub": "x"})
	deadline := time.Now().Add(60 * time.Second)
	var body string
	for {
		_ = post(ctx, t, s, routes[0].path, routes[0].body(unique("oidc-out"), ""), unknown)
		var code int
		code, body, _ = readyz(ctx, s.lktoken.URL)
		if strings.Contains(body, "unreachable") {
			if code != http.StatusOK {
				t.Errorf("readyz during the outage: %d (known keys still work, so still ready)", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported the outage: %q", body)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	t.Logf("readyz with Hydra stopped: %q", strings.TrimSpace(body))
	for i, tok := range fresh {
		r := routes[i%2]
		if a := post(ctx, t, s, r.path, r.body(unique("oidc-out"), ""), tok); a.minted() == "" {
			t.Errorf("known-key token via %s with Hydra stopped: %d %s", r.name, a.status, harness.Redact(a.body))
		}
	}
	resumed = true
	if err := s.hydra.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	// The next fetch (background retry) clears the state.
	deadline = time.Now().Add(90 * time.Second)
	for {
		_, body, _ = readyz(ctx, s.lktoken.URL)
		if !strings.Contains(body, "unreachable") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still reports the outage after Hydra resumed: %q", body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("readyz after Hydra resumed: %q", strings.TrimSpace(body))
}

func mustKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// signIn registers a public client and signs the test user in with it
// (authorization code with PKCE), returning the client's id and the access
// and ID tokens.
func signIn(ctx context.Context, t *testing.T, s *servers) (client, access, id string) {
	t.Helper()
	redirect := "http://127.0.0.1:9/callback" // never fetched: the code is read off the redirect
	client, err := s.hydra.CreatePublicClient(ctx, redirect, audience)
	if err != nil {
		t.Fatal(err)
	}
	access, id, err = s.hydra.SignIn(ctx, client, redirect, audience)
	if err != nil {
		t.Fatal(err)
	}
	return client, access, id
}

// TestAuthorizationCodeWithPKCE is the browser's way in, without a browser:
// the authorization-code flow with PKCE through Hydra and its login-and-
// consent app (which signs in one fixed test user), then the access token
// on lktoken; livekit-server admits the user under its Hydra subject, with
// the name from the token.
func TestAuthorizationCodeWithPKCE(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	_, tok, _ := signIn(ctx, t, s)
	_, claims := jwtParts(t, tok)
	if claims["sub"] != harness.TestUserSubject || claims["name"] != harness.TestUserName {
		t.Fatalf("access token claims: sub %v, name %v", claims["sub"], claims["name"])
	}
	room := unique("oidc-browser")
	a := post(ctx, t, s, routes[0].path, routes[0].body(room, ""), tok)
	if a.minted() == "" {
		t.Fatalf("%d %s", a.status, harness.Redact(a.body))
	}
	sc, err := harness.Join(ctx, s.livekit.WSURL, a.minted())
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	p := sc.Join.GetParticipant()
	if p.GetIdentity() != harness.TestUserSubject || p.GetName() != harness.TestUserName {
		t.Errorf("livekit-server admitted %q (name %q), want %q (%q)", p.GetIdentity(), p.GetName(), harness.TestUserSubject, harness.TestUserName)
	}
	ps, err := s.livekit.ListParticipants(ctx, room)
	if err != nil || len(ps) != 1 || ps[0].GetIdentity() != harness.TestUserSubject {
		t.Errorf("ListParticipants: %v %v", ps, err)
	}
	t.Logf("authorization code + PKCE: %s signed in, joined %s as %q named %q", harness.TestUserSubject, room, p.GetIdentity(), p.GetName())
}

// TestIDTokenIsNotAnAccessToken: with lktoken's audience set to a client's
// id (one registration for both the app and the API), Hydra's ID token for
// that client carries lktoken's aud, Hydra's signature and the user's sub,
// and was accepted as an access token. It is refused: it carries an ID
// token's claims (at_hash).
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 2*time.Minute)
	client, _, idToken := signIn(ctx, t, s)
	_, claims := jwtParts(t, idToken)
	aud, _ := claims["aud"].([]any)
	if len(aud) != 1 || aud[0] != client || claims["sub"] != harness.TestUserSubject || claims["at_hash"] == nil {
		t.Fatalf("Hydra's ID token: aud %v, sub %v, at_hash %v", claims["aud"], claims["sub"], claims["at_hash"])
	}
	lt, err := harness.StartLKToken(ctx, s.bin, harness.LKTokenOptions{
		Credentials: s.creds,
		LiveKitURL:  s.livekit.WSURL,
		Env:         []string{"LKTOKEN_OIDC_ISSUER=" + s.hydra.Issuer, "LKTOKEN_OIDC_AUDIENCE=" + client},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lt.Stop() }()
	if err := waitReadyz(ctx, lt.URL); err != nil {
		t.Fatal(err)
	}
	other := *s
	other.lktoken = lt
	for _, r := range routes {
		a := post(ctx, t, &other, r.path, r.body(unique("oidc-idtoken"), ""), idToken)
		ch := a.header.Get("WWW-Authenticate")
		if a.status != http.StatusUnauthorized || a.minted() != "" ||
			!strings.Contains(ch, `error_description="the token is an ID token (it has at_hash), not an access token"`) {
			t.Errorf("ID token via %s: %d, WWW-Authenticate %q, %s", r.name, a.status, ch, harness.Redact(a.body, idToken))
		}
	}
}
