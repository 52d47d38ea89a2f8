package oidc

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/setting"
)

// Config configures a Verifier. Issuer and Audience are required; every
// other field has a default.
type Config struct {
	// Issuer is the provider's issuer URL exactly as its tokens' iss claim
	// spells it (trailing slash included where the provider writes one).
	// Discovery reads Issuer + "/.well-known/openid-configuration".
	Issuer string
	// Audience must be one of each token's aud values.
	Audience string
	// JWKSURL, when set, is where the keys are read, and discovery is skipped
	// (for providers without discovery).
	JWKSURL string
	// IdentityClaim names the claim that becomes the LiveKit identity
	// (default "sub"). It must be a non-empty string in every token.
	IdentityClaim string
	// NameClaim names the claim that becomes the display name (default
	// "name"); a token without it, or with a non-string value, has none.
	NameClaim string
	// Algorithms are the accepted signature algorithms (default: every
	// asymmetric one, see AsymmetricAlgorithms). none and HS* are refused.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat (default 30s, at
	// most MaxLeeway). Negative means none.
	Leeway                 time.Duration
	RequireAccessTokenType bool

	// HTTPClient fetches discovery and keys (default: system roots, 10 s
	// timeout, no redirects to other schemes).
	HTTPClient *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives key-set loads and provider failures (default: discard).
	Log *slog.Logger

	// CacheSize bounds the verification-result cache (default 10000
	// entries; negative disables it).
	CacheSize int
	// MaxCacheAge bounds how long one result is reused, whatever its exp
	// (default 10 minutes).
	MaxCacheAge time.Duration
	// RefetchInterval is the least time between two key fetches caused by
	// tokens with an unknown kid (default 1 s): a flood of made-up kids
	// costs the provider one request per interval, and a token of a key the
	// provider has just started to sign with is refused only if another
	// unknown kid caused a fetch less than the interval before.
	RefetchInterval time.Duration
	// RefreshInterval is how often the key set is reloaded in the
	// background (default 15 minutes).
	RefreshInterval time.Duration
	// MaxBackoff caps the wait between retries while the provider is
	// unreachable (default 1 minute; the first retry is after 250 ms).
	MaxBackoff time.Duration
	// MaxTokenBytes refuses longer tokens before parsing them (default 8 KiB).
	MaxTokenBytes int
}

// MaxLeeway is the largest accepted clock leeway.
const MaxLeeway = 5 * time.Minute

// DefaultLeeway is the clock leeway when none is configured.
const DefaultLeeway = 30 * time.Second

// AsymmetricAlgorithms are the signature algorithms a Verifier can accept:
// RSA PKCS#1 v1.5, RSA-PSS, ECDSA and Ed25519. The default is all of them.
var AsymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

func (c *Config) setDefaults() {
	if c.IdentityClaim == "" {
		c.IdentityClaim = "sub"
	}
	if c.NameClaim == "" {
		c.NameClaim = "name"
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(AsymmetricAlgorithms)
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	} else if c.Leeway < 0 {
		c.Leeway = 0
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{
			Timeout: 10 * time.Second,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
					return errors.New("redirect from https to " + req.URL.Scheme)
				}
				return nil
			},
		}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.MaxCacheAge == 0 {
		c.MaxCacheAge = 10 * time.Minute
	}
	if c.RefetchInterval == 0 {
		c.RefetchInterval = time.Second
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = 15 * time.Minute
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = time.Minute
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = 8 << 10
	}
}

// The fields of a [Config] that a user sets, as [Config.Check]'s errors name
// them (package setting): package config renders each as the flag or
// variable the user set.
const (
	FieldIssuer        setting.Field = "oidc.Issuer"
	FieldAudience      setting.Field = "oidc.Audience"
	FieldJWKSURL       setting.Field = "oidc.JWKSURL"
	FieldIdentityClaim setting.Field = "oidc.IdentityClaim"
	FieldNameClaim     setting.Field = "oidc.NameClaim"
	FieldAlgorithms    setting.Field = "oidc.Algorithms"
	FieldLeeway        setting.Field = "oidc.Leeway"
	// FieldRequireAccessTokenType names RequireAccessTokenType (only in
	// "has no effect without an issuer").
	FieldRequireAccessTokenType setting.Field = "oidc.RequireAccessTokenType"
)

// Check reports the first setting that cannot work, as a [setting.Error]
// naming its Field*. It is what New checks too.
func (c Config) Check() error {
	if c.Issuer == "" {
		return setting.Errorf("%s: required", FieldIssuer)
	}
	if err := checkURL(c.Issuer); err != nil {
		return setting.Errorf("%s: %w", FieldIssuer, err)
	}
	if strings.TrimSpace(c.Audience) == "" {
		return setting.Errorf("%s: required with an issuer (the aud value this server's tokens carry)", FieldAudience)
	}
	if c.JWKSURL != "" {
		if err := checkURL(c.JWKSURL); err != nil {
			return setting.Errorf("%s: %w", FieldJWKSURL, err)
		}
	}
	for _, alg := range c.Algorithms {
		if !slices.Contains(AsymmetricAlgorithms, alg) {
			return setting.Errorf("%s: %q is not accepted (only asymmetric ones: %s)", FieldAlgorithms, alg, strings.Join(AsymmetricAlgorithms, ", "))
		}
	}
	if c.Leeway > MaxLeeway {
		return setting.Errorf("%s: %s is more than the %s allowed", FieldLeeway, c.Leeway, MaxLeeway)
	}
	for field, claim := range map[setting.Field]string{FieldIdentityClaim: c.IdentityClaim, FieldNameClaim: c.NameClaim} {
		if claim != strings.TrimSpace(claim) {
			return setting.Errorf("%s: %q has surrounding spaces", field, claim)
		}
	}
	return nil
}

// checkURL accepts an absolute http or https URL without user info,
// query or fragment. (Plain http is for loopback test providers; the
// configuration package decides whether to allow it.)
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", s, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: want an https:// URL", s)
	case u.Host == "":
		return fmt.Errorf("%q: no host", s)
	case u.User != nil:
		return fmt.Errorf("%q: credentials in the URL are not accepted", s)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("%q: no query or fragment, please", s)
	}
	return nil
}
