package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/ratelimit"
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
}

// Enabled reports whether requests are limited.
func (r RateLimitConfig) Enabled() bool { return r.Policy.Count > 0 }

// buildRateLimitConfig reads the settings of RateLimitConfig; problems go to fail.
func buildRateLimitConfig(get, name func(env string) string, fail func(error)) RateLimitConfig {
	var r RateLimitConfig
	proxies, err := ratelimit.ParseProxies(get("LKTOKEN_TRUSTED_PROXIES"), get("LKTOKEN_TRUSTED_PROXY_HEADER"))
	if err != nil {
		// Name the setting the error is about.
		env := "LKTOKEN_TRUSTED_PROXIES"
		if strings.HasPrefix(err.Error(), "the header") {
			env = "LKTOKEN_TRUSTED_PROXY_HEADER"
		}
		fail(fmt.Errorf("%s %q: %w", name(env), get(env), err))
	}
	r.Proxies = proxies
	switch v := get("LKTOKEN_RATE_LIMIT_FAILURE"); v {
	case "open":
	case "closed":
		r.FailClosed = true
	default:
		fail(fmt.Errorf("%s %q: must be open (requests proceed unchecked while Redis is unreachable) or closed (they are refused with 503)", name("LKTOKEN_RATE_LIMIT_FAILURE"), v))
	}
	rate := get("LKTOKEN_RATE_LIMIT")
	if rate == "" || strings.EqualFold(rate, "off") {
		return r
	}
	count, per, err := ratelimit.ParseRate(rate)
	if err != nil {
		fail(fmt.Errorf("%s %q: %w", name("LKTOKEN_RATE_LIMIT"), rate, err))
		return r
	}
	burst := count
	if b := get("LKTOKEN_RATE_BURST"); b != "" {
		if burst, err = strconv.Atoi(b); err != nil || burst < 1 || burst > 1_000_000 {
			fail(fmt.Errorf("%s %q: must be a whole number of requests from 1 to 1000000 (how many an idle caller may send at once)", name("LKTOKEN_RATE_BURST"), b))
		}
	}
	r.Policy = ratelimit.Policy{Count: count, Per: per, Burst: burst}

	if r.RedisURL = get("LKTOKEN_RATE_LIMIT_REDIS_URL"); r.RedisURL != "" {
		if _, err := ratelimit.ParseRedisURL(r.RedisURL); err != nil {
			// The URL is shown only when it carries no password.
			shown := fmt.Sprintf(" %q", r.RedisURL)
			if strings.Contains(err.Error(), "password") {
				shown = ""
			}
			fail(fmt.Errorf("%s%s: %w", name("LKTOKEN_RATE_LIMIT_REDIS_URL"), shown, err))
		}
	}
	pw, file := get("LKTOKEN_RATE_LIMIT_REDIS_PASSWORD"), get("LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE")
	switch {
	case pw != "" && file != "":
		fail(errors.New("both LKTOKEN_RATE_LIMIT_REDIS_PASSWORD and LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE are set: set only one"))
	case file != "":
		if pw, err = ReadRedisPasswordFile(file); err != nil {
			fail(err)
		}
	}
	r.RedisPassword, r.RedisPasswordFile = Secret(pw), file
	return r
}

// ReadRedisPasswordFile reads LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE.
func ReadRedisPasswordFile(path string) (string, error) {
	pw, err := keys.ReadFile("LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE", path)
	if err == nil && pw == "" {
		err = fmt.Errorf("LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE %s is empty", path)
	}
	return pw, err
}
