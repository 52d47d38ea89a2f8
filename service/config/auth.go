package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/roompolicy"
)

// The settings of caller authentication by OpenID Connect and of the room
// policy, appended to the table (--help lists them last); buildAuthConfig
// also walks them to refuse any that is set without an issuer.
var authSettings = []setting{
	{"oidc-issuer", "LKTOKEN_OIDC_ISSUER", "", "OpenID Connect issuer URL, exactly as its tokens' iss (e.g. https://tenant.eu.auth0.com/): every API call must then send `Authorization: Bearer <access token>` from it, and the LiveKit identity is the token's verified subject. Exclusive with LKTOKEN_BEARER_TOKEN"},
	{"oidc-audience", "LKTOKEN_OIDC_AUDIENCE", "", "the aud value the access tokens carry for lktoken (required with --oidc-issuer)"},
	{"oidc-jwks-url", "LKTOKEN_OIDC_JWKS_URL", "", "the provider's key set URL, for providers without discovery (default: jwks_uri from <issuer>/.well-known/openid-configuration)"},
	{"oidc-identity-claim", "LKTOKEN_OIDC_IDENTITY_CLAIM", "sub", "the claim that becomes the LiveKit identity (e.g. oid for Entra ID, preferred_username for Keycloak)"},
	{"oidc-name-claim", "LKTOKEN_OIDC_NAME_CLAIM", "name", "the claim that becomes the display name when a request sends none"},
	{"oidc-algorithms", "LKTOKEN_OIDC_ALGORITHMS", "", "comma-separated signature algorithms to accept (default all asymmetric: " + strings.Join(oidc.AsymmetricAlgorithms, ",") + "); none and HS* never"},
	{"oidc-leeway", "LKTOKEN_OIDC_LEEWAY", "30s", "clock skew allowed on exp, nbf and iat (0 to 5m)"},
	{"oidc-require-at-jwt", "LKTOKEN_OIDC_REQUIRE_AT_JWT", "false", "refuse access tokens whose header lacks typ at+jwt (RFC 9068), for providers that write it; ID tokens (nonce, at_hash, c_hash, s_hash) are refused either way"},
	{"policy", "LKTOKEN_POLICY", "", "room policy: a CEL expression over `request` (the GenerateTokenRequest) and `claims` (the verified token's claims), true to allow, e.g. request.room_name.startsWith(claims.org + \"-\"); checked at start, fails closed (default: every room)"},
}

func init() { settings = append(settings, authSettings...) }

// AuthConfig is the caller authentication by OpenID Connect and the room
// policy.
type AuthConfig struct {
	// OIDC is set (Issuer non-empty) when callers must send an access token
	// of that provider.
	OIDC oidc.Config
	// Policy is the compiled room policy; nil allows every room.
	Policy *roompolicy.Policy
}

// OIDCEnabled reports whether callers authenticate with OpenID Connect.
func (a AuthConfig) OIDCEnabled() bool { return a.OIDC.Issuer != "" }

// oidcFieldVariables maps the fields oidc.Config.Check names to their
// variables.
var oidcFieldVariables = map[string]string{
	"Issuer":        "LKTOKEN_OIDC_ISSUER",
	"Audience":      "LKTOKEN_OIDC_AUDIENCE",
	"JWKSURL":       "LKTOKEN_OIDC_JWKS_URL",
	"Algorithms":    "LKTOKEN_OIDC_ALGORITHMS",
	"Leeway":        "LKTOKEN_OIDC_LEEWAY",
	"IdentityClaim": "LKTOKEN_OIDC_IDENTITY_CLAIM",
	"NameClaim":     "LKTOKEN_OIDC_NAME_CLAIM",
}

// buildAuthConfig reads the settings of authSettings; name(env) is how an
// error calls a setting (the flag when the user gave it).
func buildAuthConfig(get, name func(string) string, ops OpsConfig, fail func(error)) AuthConfig {
	var a AuthConfig
	if src := get("LKTOKEN_POLICY"); strings.TrimSpace(src) != "" {
		p, err := roompolicy.Compile(src)
		if err != nil {
			fail(fmt.Errorf("%s does not compile:\n%w", name("LKTOKEN_POLICY"), err))
		}
		a.Policy = p
	}

	issuer := strings.TrimSpace(get("LKTOKEN_OIDC_ISSUER"))
	if issuer == "" {
		for _, s := range authSettings {
			if v := get(s.env); s.env != "LKTOKEN_POLICY" && v != s.def {
				fail(fmt.Errorf("%s is set, but has no effect without LKTOKEN_OIDC_ISSUER (--oidc-issuer)", name(s.env)))
			}
		}
		return a
	}
	if ops.BearerToken != "" || ops.BearerTokenFile != "" {
		fail(fmt.Errorf("%s and LKTOKEN_BEARER_TOKEN(_FILE) are exclusive: choose OpenID Connect (callers send their own access tokens) or the static bearer token (one trusted backend)", name("LKTOKEN_OIDC_ISSUER")))
	}
	c := oidc.Config{
		Issuer:        issuer,
		Audience:      strings.TrimSpace(get("LKTOKEN_OIDC_AUDIENCE")),
		JWKSURL:       strings.TrimSpace(get("LKTOKEN_OIDC_JWKS_URL")),
		IdentityClaim: get("LKTOKEN_OIDC_IDENTITY_CLAIM"),
		NameClaim:     get("LKTOKEN_OIDC_NAME_CLAIM"),
	}
	if c.Audience == "" {
		fail(errors.New("LKTOKEN_OIDC_AUDIENCE (--oidc-audience) is required with " + name("LKTOKEN_OIDC_ISSUER") + ": the aud value your provider puts in access tokens for lktoken (the API identifier at Auth0, the API's client id at Entra ID, an audience mapper's value at Keycloak)"))
	}
	for _, alg := range strings.Split(get("LKTOKEN_OIDC_ALGORITHMS"), ",") {
		if alg = strings.TrimSpace(alg); alg != "" {
			c.Algorithms = append(c.Algorithms, alg)
		}
	}
	if lw := strings.TrimSpace(get("LKTOKEN_OIDC_LEEWAY")); lw == "0" || lw == "0s" {
		c.Leeway = -1 // none (oidc.Config reads 0 as the default)
	} else if d, err := parseDuration(lw); err != nil {
		fail(fmt.Errorf("%s %q: %w", name("LKTOKEN_OIDC_LEEWAY"), lw, err))
	} else {
		c.Leeway = d
	}
	if at, err := strconv.ParseBool(get("LKTOKEN_OIDC_REQUIRE_AT_JWT")); err != nil {
		fail(fmt.Errorf("%s %q: must be true or false", name("LKTOKEN_OIDC_REQUIRE_AT_JWT"), get("LKTOKEN_OIDC_REQUIRE_AT_JWT")))
	} else {
		c.RequireAccessTokenType = at
	}
	for env, u := range map[string]string{"LKTOKEN_OIDC_ISSUER": c.Issuer, "LKTOKEN_OIDC_JWKS_URL": c.JWKSURL} {
		if err := checkPlainHTTP(u); err != nil {
			fail(fmt.Errorf("%s: %w", name(env), err))
		}
	}
	if c.Audience != "" {
		if err := c.Check(); err != nil {
			msg := err.Error()
			if field, rest, ok := strings.Cut(msg, ": "); ok && oidcFieldVariables[field] != "" {
				msg = name(oidcFieldVariables[field]) + ": " + rest
			}
			fail(errors.New(msg))
		}
	}
	a.OIDC = c
	return a
}

// checkPlainHTTP allows http:// only for a provider on loopback (tests, a
// sidecar): keys fetched over the network in the clear could be replaced.
func checkPlainHTTP(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" {
		return nil // other mistakes are oidc.Config.Check's
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("%q: plain http:// is accepted only on loopback; use https://", s)
}
