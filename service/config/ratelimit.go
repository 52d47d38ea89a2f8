package config

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/ratelimit"
	"github.com/lktoken/lktoken/service/setting"
)

// RateLimitConfig is the per-caller rate limit (package ratelimit).
type RateLimitConfig struct {
	// Policy is the rate and burst; a zero Count is off.
	Policy ratelimit.Policy
	// RedisURL, when set, keeps the budgets in Redis or Valkey, shared by
	// every replica; otherwise each process keeps its own in memory.
	RedisURL string
	// RedisPassword authenticates to Redis; RedisPasswordFile, when set, held
	// it and is read again on SIGHUP.
	RedisPassword     Secret
	RedisPasswordFile string
	// FailClosed refuses requests (503) while Redis is unreachable instead
	// of letting them through unchecked.
	FailClosed bool
	// Proxies are the trusted proxies whose forwarded client address keys
	// an unauthenticated caller's budget.
	Proxies ratelimit.Proxies

	// What the settings read before check composes them.
	burst       int
	failure     string
	proxyRanges []netip.Prefix
	proxyHeader string
}

// Enabled reports whether requests are limited.
func (r RateLimitConfig) Enabled() bool { return r.Policy.Count > 0 }

// rateLimitSpecs declares the rate limit's settings (specs holds them).
func rateLimitSpecs(r *RateLimitConfig) []*spec {
	return []*spec{
		{flag: "rate-limit", env: "LKTOKEN_RATE_LIMIT", field: ratelimit.FieldRate, value: list(&r.Policy, ratelimit.Policy{}, "off", parseRate),
			help: "per-caller rate limit on both token routes, <count>/<unit> (s, min, h, day), e.g. 20/min: the caller is a verified subject, the bearer token's caller, otherwise a client address; off unless set, --dev included"},
		{flag: "rate-burst", env: "LKTOKEN_RATE_BURST", field: ratelimit.FieldBurst, value: list(&r.burst, 0, "", parseBurst),
			help: "requests an idle caller may send at once, from 1 to 1000000 (default: the count of --rate-limit)"},
		{flag: "rate-limit-redis-url", env: "LKTOKEN_RATE_LIMIT_REDIS_URL", field: ratelimit.FieldRedisURL, value: list(&r.RedisURL, "", "", parseRedisURL),
			help: "redis:// or rediss:// (TLS) URL of a Redis or Valkey that holds the budgets of every replica, without a password; without it each process keeps its own in memory (at most 131072 callers)"},
		{env: "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD", field: ratelimit.FieldRedisPassword, value: list(&r.RedisPassword, "", "", func(s string) (Secret, error) { return Secret(s), nil }), secret: true,
			help: "password of that Redis (environment only)"},
		{env: "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE", field: ratelimit.FieldRedisPasswordFile, value: text(&r.RedisPasswordFile, ""),
			help: "file holding LKTOKEN_RATE_LIMIT_REDIS_PASSWORD instead; read again on SIGHUP"},
		{flag: "rate-limit-failure", env: "LKTOKEN_RATE_LIMIT_FAILURE", field: ratelimit.FieldFailure, value: oneOf(&r.failure, "open", "open", "closed"),
			help: "while Redis is unreachable: open (requests proceed unchecked) or closed (refused with 503); a request waits at most 100ms for Redis"},
		{flag: "trusted-proxies", env: "LKTOKEN_TRUSTED_PROXIES", field: ratelimit.FieldTrustedProxies, value: list(&r.proxyRanges, nil, "", parseRanges),
			help: "comma-separated address ranges of the proxies in front of lktoken, e.g. 10.0.0.0/8: only from these is a caller's address taken from --trusted-proxy-header (default: none, the peer is the caller)"},
		{flag: "trusted-proxy-header", env: "LKTOKEN_TRUSTED_PROXY_HEADER", field: ratelimit.FieldTrustedProxyHeader, value: list(&r.proxyHeader, ratelimit.XForwardedFor, ratelimit.XForwardedFor, ratelimit.ProxyHeader),
			help: "the header the trusted proxies append the client's address to: X-Forwarded-For or Forwarded"},
	}
}

func parseRate(s string) (ratelimit.Policy, error) {
	if s = strings.TrimSpace(s); s == "" || strings.EqualFold(s, "off") {
		return ratelimit.Policy{}, nil
	}
	count, per, err := ratelimit.ParseRate(s)
	return ratelimit.Policy{Count: count, Per: per}, err
}

func parseBurst(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > 1_000_000 {
		return 0, errors.New("must be a whole number of requests from 1 to 1000000 (how many an idle caller may send at once)")
	}
	return n, nil
}

// parseRedisURL checks the URL; one that carries a password is not quoted.
func parseRedisURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, err := ratelimit.ParseRedisURL(s); err != nil {
		if strings.Contains(err.Error(), "password") {
			return "", badItem(err.Error())
		}
		return "", err
	}
	return s, nil
}

func parseRanges(s string) ([]netip.Prefix, error) {
	r, err := ratelimit.ParseRanges(s)
	if err != nil {
		return nil, badItem(err.Error()) // it quotes the bad range
	}
	return r, nil
}

// checkRateLimit composes the rate limit: the burst defaults to the count,
// the trusted proxies take their header, the password may come from a file,
// and a rate limit setting without --rate-limit is refused as having no
// effect.
func (l *loader) checkRateLimit() {
	r := &l.cfg.RateLimit
	r.Proxies, _ = ratelimit.NewProxies(r.proxyRanges, r.proxyHeader) // the header parsed already
	if !r.Enabled() {
		for _, s := range l.specs {
			if s.origin != fromDefault && strings.HasPrefix(string(s.id()), "ratelimit.") && s.id() != ratelimit.FieldRate {
				l.fail("%s is set, but has no effect without %s", s.id(), ratelimit.FieldRate)
			}
		}
		return
	}
	r.FailClosed = r.failure == "closed"
	r.Policy.Burst = r.burst
	if r.burst == 0 {
		r.Policy.Burst = r.Policy.Count
	}
	pw, file := l.field(&r.RedisPassword), l.field(&r.RedisPasswordFile)
	switch {
	case r.RedisPassword != "" && r.RedisPasswordFile != "":
		l.fail("both %s and %s are set: set only one", pw, file)
	case r.RedisPasswordFile != "":
		p, err := ReadRedisPasswordFile(r.RedisPasswordFile)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		r.RedisPassword = Secret(p)
	}
	if r.RedisPassword != "" && r.RedisURL == "" {
		l.fail("%s is set, but has no effect without %s", pw, l.field(&r.RedisURL))
	}
}

// ReadRedisPasswordFile reads the Redis password file at path (at start and
// on SIGHUP). Its errors name the file's setting: render them with
// [Config.Explain].
func ReadRedisPasswordFile(path string) (string, error) {
	pw, err := keys.ReadFile(ratelimit.FieldRedisPasswordFile, path)
	if err == nil && pw == "" {
		err = setting.Errorf("%s %s is empty", ratelimit.FieldRedisPasswordFile, path)
	}
	return pw, err
}
