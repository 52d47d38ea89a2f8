package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/roompolicy"
)

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

// checkAuth checks caller authentication: the OpenID Connect settings
// need an issuer, which excludes the static bearer token.
func (l *loader) checkAuth() {
	c := &l.cfg.Auth.OIDC
	issuer := l.field(&c.Issuer)
	if c.Issuer == "" {
		for _, s := range l.specs {
			if s.origin != fromDefault && strings.HasPrefix(string(s.id()), "oidc.") {
				l.fail("%s is set, but has no effect without %s", s.id(), issuer)
			}
		}
		*c = oidc.Config{}
		return
	}
	for _, bearer := range []any{&l.cfg.Ops.BearerToken, &l.cfg.Ops.BearerTokenFile} {
		if l.set(bearer) {
			l.fail("%s and %s are exclusive: choose OpenID Connect (callers send their own access tokens) or the static bearer token (one trusted backend)",
				issuer, l.field(bearer))
		}
	}
	if c.Audience == "" {
		l.fail("%s is required with %s: the aud value your provider puts in access tokens for lktoken (the API identifier at Auth0, the API's client id at Entra ID, an audience mapper's value at Keycloak)",
			l.field(&c.Audience), issuer)
	}
	if c.Leeway == 0 {
		c.Leeway = -1 // none (oidc.Config reads 0 as the default)
	}
	for _, u := range []*string{&c.Issuer, &c.JWKSURL} {
		if err := checkPlainHTTP(*u); err != nil {
			l.fail("%s: %s", l.field(u), err)
		}
	}
	if c.Audience != "" {
		if err := c.Check(); err != nil {
			l.errs = append(l.errs, err)
		}
	}
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
