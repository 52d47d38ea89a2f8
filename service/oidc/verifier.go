// Package oidc verifies callers' OpenID Connect / OAuth 2.0 access tokens
// (JWTs signed by the provider) for lktoken's caller authentication.
//
// A Verifier is built once from a Config. It discovers the provider (its
// discovery document, at most 1 MiB like the key set), keeps the
// provider's key set in memory and reloads it in the background, retrying
// with backoff while the provider is down and keeping the last good set
// meanwhile. Verify checks one token, once: size, algorithm (asymmetric
// only), signature (go-jose, against the loaded keys), then every claim from
// one map of the payload's exact keys: iss, aud, none of an ID token's
// claims (nonce, at_hash, c_hash, s_hash; optionally RFC 9068's typ
// "at+jwt"), exp, nbf and iat (JSON numbers) with the configured leeway
// against the injected clock, and the identity claim. Results are cached by the SHA-256 of the token until its exp, so a
// caller that reuses its token pays for one signature check.
//
// Every refusal is an *Error whose Kind says why and whose Challenge is the
// RFC 6750 WWW-Authenticate value; none of them echoes the token.
package oidc

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/lktoken/lktoken/service/authn"
)

// Principal is a verified caller. It is shared between the requests that
// present the same token: treat it, and Claims, as read-only.
type Principal struct {
	// Issuer and Subject are the token's iss and sub.
	Issuer  string
	Subject string
	// Identity is the value of the identity claim (sub unless configured).
	Identity string
	// Name is the value of the name claim, "" when the token has none.
	Name string
	// Expiry is the token's exp.
	Expiry time.Time
	// Claims are all of the token's claims: JSON numbers that are integers
	// become int64, others float64.
	Claims map[string]any

	authn *authn.Principal // what Authenticate hands on, built once
}

// Verifier verifies callers' tokens against one provider. It is safe for
// concurrent use.
type Verifier struct {
	cfg    Config
	algs   []jose.SignatureAlgorithm
	keys   *keyStore
	cache  *cache
	cancel context.CancelFunc
	done   chan struct{}
	// reachable is false from the first failed fetch to the next success.
	reachable atomic.Bool
}

// New checks cfg, fills in the defaults, and starts loading the provider's
// keys in the background; the loading stops when ctx ends or Close is
// called. The Verifier refuses tokens (KindUnavailable) until the first key
// set is loaded: Ready says when.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	v := &Verifier{
		cfg:  cfg,
		done: make(chan struct{}),
		keys: &keyStore{client: cfg.HTTPClient, now: cfg.Now, refetchInterval: cfg.RefetchInterval, failed: make(chan struct{}, 1)},
	}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	if cfg.JWKSURL != "" {
		u := cfg.JWKSURL
		v.keys.url.Store(&u)
	}
	if cfg.CacheSize > 0 {
		v.cache = newCache(cfg.CacheSize)
		v.keys.onChange = func(old, new *keySet) {
			if keysRemoved(old, new) {
				v.cache.clear()
			}
		}
	}
	v.reachable.Store(true)
	ctx, v.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go v.run(ctx)
	return v, nil
}

// Close stops the background loading and waits for it to end.
func (v *Verifier) Close() {
	v.cancel()
	<-v.done
}

// initialBackoff is the first wait after a failed load.
const initialBackoff = 250 * time.Millisecond

func (v *Verifier) run(ctx context.Context) {
	defer close(v.done)
	backoff := initialBackoff
	for {
		err := v.refresh(ctx)
		if ctx.Err() != nil {
			return
		}
		select { // this refresh's own failure signal, if any
		case <-v.keys.failed:
		default:
		}
		wait := v.cfg.RefreshInterval
		if err != nil {
			wait = backoff
			backoff = min(2*backoff, v.cfg.MaxBackoff)
		} else {
			backoff = initialBackoff
		}
		// While all is well, a failed fetch elsewhere (a token's unknown kid
		// during an outage) starts the retries at once: the state clears as
		// soon as the provider is back, not at the next refresh.
		var failed <-chan struct{}
		if err == nil {
			failed = v.keys.failed
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-failed:
			t.Stop()
		}
	}
}

// refresh discovers the provider when its key set URL is not known yet,
// then loads the keys.
func (v *Verifier) refresh(ctx context.Context) error {
	err := v.discover(ctx)
	if err == nil {
		err = v.keys.fetch(ctx)
	} else if ctx.Err() == nil {
		v.keys.recordErr(err)
	}
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		if v.reachable.Swap(false) || v.keys.keys.Load() == nil {
			v.cfg.Log.Warn("oidc provider unreachable, retrying", "issuer", v.cfg.Issuer, "error", err.Error(),
				"keys_kept", v.keys.keys.Load() != nil)
		}
		return err
	}
	if !v.reachable.Swap(true) {
		v.cfg.Log.Info("oidc provider reachable again", "issuer", v.cfg.Issuer)
	}
	return nil
}

// Ready reports whether a key set has been loaded: before that, every
// token is refused with KindUnavailable.
func (v *Verifier) Ready() bool { return v.keys.keys.Load() != nil }

// State is the provider's state, for readiness and operators.
type State struct {
	// Ready: a key set is loaded and tokens can be verified.
	Ready bool
	// Keys is the number of keys in the loaded set.
	Keys int
	// LoadedAt is when the loaded set was fetched.
	LoadedAt time.Time
	// LastError is why the last fetch failed, "" when it succeeded: a
	// short reason of lktoken's own ("discovery failed: HTTP 503"), never
	// the provider's text, which only the log gets (cut to a few hundred
	// bytes). The loaded set (if any) is still used meanwhile.
	LastError string
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time
}

// String is a one-line summary: "ready, 2 keys" or "not ready: <cause>",
// with "provider unreachable" while the last fetch failed.
func (s State) String() string {
	switch {
	case !s.Ready && s.LastError != "":
		return "not ready: " + s.LastError
	case !s.Ready:
		return "not ready: loading the provider's keys"
	case s.LastError != "":
		return fmt.Sprintf("ready, %d keys (provider unreachable since %s: %s)", s.Keys, s.LastErrorAt.UTC().Format(time.RFC3339), s.LastError)
	default:
		return fmt.Sprintf("ready, %d keys", s.Keys)
	}
}

// State returns the provider's current state.
func (v *Verifier) State() State {
	ks, err, at := v.keys.status()
	s := State{Ready: ks != nil}
	if ks != nil {
		s.Keys, s.LoadedAt = len(ks.all), ks.fetched
	}
	if err != nil {
		s.LastError, s.LastErrorAt = reason(err), at
	}
	return s
}

// reason is the short cause of a failed load, for State: a fetchError's
// reason, never the provider's own words (the log has those).
func reason(err error) string {
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		return fe.reason
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "loading the keys was interrupted"
	}
	return "loading the keys failed"
}

// Refresh discovers the provider if that has not succeeded yet and loads its
// key set now, whatever the rate limit of unknown kids: for an operator who
// knows the provider's keys changed (lktoken does it on SIGHUP). A failure
// keeps the current keys. It logs its outcome.
func (v *Verifier) Refresh(ctx context.Context) error {
	err := v.refresh(ctx)
	if err != nil {
		v.cfg.Log.Warn("oidc key set refresh failed, keeping the current keys", "issuer", v.cfg.Issuer, "error", err.Error())
		return err
	}
	v.cfg.Log.Info("oidc key set refreshed", "issuer", v.cfg.Issuer, "keys", v.State().Keys)
	return nil
}

// Issuer is the configured issuer.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Verify checks raw, the bearer token a caller sent, and returns the
// verified principal or an *Error.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if len(raw) > v.cfg.MaxTokenBytes {
		return nil, refuse(KindTooLarge, fmt.Sprintf("the token is longer than %d bytes", v.cfg.MaxTokenBytes))
	}
	var key [sha256.Size]byte
	now := v.cfg.Now()
	if v.cache != nil {
		key = sha256.Sum256([]byte(raw))
		if p := v.cache.get(key, now); p != nil {
			return p, nil
		}
	}
	p, until, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		if limit := now.Add(v.cfg.MaxCacheAge); limit.Before(until) {
			until = limit
		}
		v.cache.put(key, p, until, now)
	}
	return p, nil
}

func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Principal, time.Time, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, time.Time{}, refuse(KindMalformed, "the token is not a JWT (three base64url parts separated by dots)")
	}
	jws, err := jose.ParseSignedCompact(raw, v.algs)
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return nil, time.Time{}, refuse(KindAlgorithm, fmt.Sprintf("the token is signed with %s; this server accepts %s",
				algName(string(alg.Got)), strings.Join(v.cfg.Algorithms, ", ")))
		}
		return nil, time.Time{}, refuse(KindMalformed, "the token is not a well-formed signed JWT")
	}
	if len(jws.Signatures) != 1 {
		return nil, time.Time{}, refuse(KindMalformed, "the token does not carry exactly one signature")
	}
	if v.cfg.RequireAccessTokenType && !isAccessTokenType(jws.Signatures[0].Header.ExtraHeaders[jose.HeaderType]) {
		return nil, time.Time{}, errNotATType
	}
	if !v.Ready() {
		// A first request may come before the background load: try once
		// (rate-limited) rather than refuse outright.
		v.keys.refetchForUnknownKid(ctx)
		if !v.Ready() {
			return nil, time.Time{}, refuse(KindUnavailable, "the identity provider's keys are not loaded yet; try again shortly")
		}
	}
	payload, rerr := v.verifySignature(ctx, jws)
	if rerr != nil {
		return nil, time.Time{}, rerr
	}
	// Every claim below, and every claim the principal carries, comes from
	// this one map of the payload's exact keys: no second decoding (a
	// struct's case-insensitive one, say) can see other claims.
	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, time.Time{}, refuse(KindMalformed, "the token's payload is not a JSON object of claims")
	}
	return v.checkClaims(claims, now)
}

// idTokenClaims are claims only ID tokens carry (OpenID Connect Core 2,
// 3.3.2.11): an ID token whose aud happens to be ours is not an access
// token for us.
var idTokenClaims = []string{"nonce", "at_hash", "c_hash", "s_hash"}

// errNotATType refuses a token without RFC 9068's typ, when that is required.
var errNotATType = refuse(KindNotAccessToken, `the token's header has no typ "at+jwt" (RFC 9068): this server accepts only access tokens`)

// isAccessTokenType: RFC 9068 2.1's "at+jwt", or the full media type
// "application/at+jwt" (RFC 7515 4.1.9), in any case.
func isAccessTokenType(typ any) bool {
	s, _ := typ.(string)
	return strings.EqualFold(s, "at+jwt") || strings.EqualFold(s, "application/at+jwt")
}

// checkClaims checks the verified payload's claims and makes the principal.
func (v *Verifier) checkClaims(claims map[string]any, now time.Time) (*Principal, time.Time, error) {
	if iss, _ := claims["iss"].(string); iss != v.cfg.Issuer {
		return nil, time.Time{}, refuse(KindIssuer, fmt.Sprintf("the token was not issued by %s (iss differs)", v.cfg.Issuer))
	}
	if !hasAudience(claims["aud"], v.cfg.Audience) {
		return nil, time.Time{}, refuse(KindAudience, fmt.Sprintf("the token is not meant for this server: its aud does not include %s", v.cfg.Audience))
	}
	for _, c := range idTokenClaims {
		if _, ok := claims[c]; ok {
			return nil, time.Time{}, refuse(KindNotAccessToken, fmt.Sprintf("the token is an ID token (it has %s), not an access token", c))
		}
	}
	leeway := v.cfg.Leeway
	exp, present, ok := timeClaim(claims, "exp")
	switch {
	case !present:
		return nil, time.Time{}, refuse(KindMalformed, "the token has no exp claim")
	case !ok:
		return nil, time.Time{}, refuse(KindMalformed, fmt.Sprintf("the token's %s claim is not a number", "exp"))
	case now.After(exp.Add(leeway)):
		return nil, time.Time{}, refuse(KindExpired, "the token is expired")
	}
	nbf, present, ok := timeClaim(claims, "nbf")
	switch {
	case present && !ok:
		return nil, time.Time{}, refuse(KindMalformed, fmt.Sprintf("the token's %s claim is not a number", "nbf"))
	case present && now.Add(leeway).Before(nbf):
		return nil, time.Time{}, refuse(KindNotYetValid, "the token is not valid yet (nbf is in the future)")
	}
	iat, present, ok := timeClaim(claims, "iat")
	switch {
	case present && !ok:
		return nil, time.Time{}, refuse(KindMalformed, fmt.Sprintf("the token's %s claim is not a number", "iat"))
	case present && now.Add(leeway).Before(iat):
		return nil, time.Time{}, refuse(KindIssuedInFuture, "the token was issued in the future (iat); check the clocks")
	}
	subject, ok := claims["sub"].(string)
	if _, present := claims["sub"]; present && !ok {
		return nil, time.Time{}, refuse(KindMalformed, "the token's sub claim is not a string")
	}
	identity, _ := claims[v.cfg.IdentityClaim].(string)
	if identity == "" {
		return nil, time.Time{}, refuse(KindIdentity, fmt.Sprintf("the token has no %s claim (a non-empty string) to take the identity from", v.cfg.IdentityClaim))
	}
	name, _ := claims[v.cfg.NameClaim].(string)
	p := &Principal{
		Issuer:   v.cfg.Issuer,
		Subject:  subject,
		Identity: identity,
		Name:     name,
		Expiry:   exp,
		Claims:   claims,
	}
	p.authn = &authn.Principal{Issuer: p.Issuer, Subject: p.Subject, Identity: p.Identity, Name: displayName(p.Name), Claims: p.Claims}
	return p, exp.Add(leeway), nil
}

// timeClaim reads the NumericDate claim name: present says the key is
// there at all, ok that its value is a number (anything else, a numeric
// string included, is malformed).
func timeClaim(claims map[string]any, name string) (t time.Time, present, ok bool) {
	v, present := claims[name]
	if !present {
		return time.Time{}, false, false
	}
	t, ok = numericDate(v)
	return t, true, ok
}

// algName names the algorithm a refused token claims, if it is one a
// reader would recognise; anything else the caller made up is not echoed.
func algName(alg string) string {
	known := []string{"none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
		"ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448"}
	if slices.Contains(known, alg) {
		return `alg "` + alg + `"`
	}
	return "an unsupported algorithm"
}

func hasAudience(aud any, want string) bool {
	switch a := aud.(type) {
	case string:
		return a == want
	case []any:
		for _, x := range a {
			if s, ok := x.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// numericDate reads a JWT NumericDate (seconds since the epoch, maybe
// fractional).
func numericDate(v any) (time.Time, bool) {
	switch n := v.(type) {
	case int64:
		return time.Unix(n, 0), true
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) || math.Abs(n) > 1e15 {
			return time.Time{}, false
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)), true
	}
	return time.Time{}, false
}

// decodeClaims decodes a JWT payload, numbers as int64 when integral.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil || dec.More() {
		return nil, errors.New("not one JSON object")
	}
	return normalize(m).(map[string]any), nil
}

func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	}
	return v
}

// verifySignature checks the signature of jws with the provider's key of
// its kid, refetching the keys once (rate-limited) for an unknown kid, and
// returns the verified payload.
func (v *Verifier) verifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, *Error) {
	sig := jws.Signatures[0]
	kid, alg := sig.Header.KeyID, sig.Header.Algorithm
	candidates := v.keys.keys.Load().lookup(kid)
	if len(candidates) == 0 && v.keys.refetchForUnknownKid(ctx) {
		candidates = v.keys.keys.Load().lookup(kid)
	}
	if len(candidates) == 0 {
		return nil, refuse(KindUnknownKey, "the token is signed with a key the provider does not publish (unknown kid)")
	}
	for i := range candidates {
		key := &candidates[i]
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, refuse(KindSignature, "the token's signature does not verify with the provider's key")
}

// keysRemoved reports whether a key of old is gone from new (or changed
// under its kid): results verified with it must not be reused.
func keysRemoved(old, new *keySet) bool {
	if old == nil {
		return false
	}
	have := map[string]bool{}
	for _, k := range new.all {
		have[fingerprint(k)] = true
	}
	for _, k := range old.all {
		if !have[fingerprint(k)] {
			return true
		}
	}
	return false
}

func fingerprint(k jose.JSONWebKey) string {
	t, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return k.KeyID + "|?"
	}
	return k.KeyID + "|" + base64.RawURLEncoding.EncodeToString(t)
}
