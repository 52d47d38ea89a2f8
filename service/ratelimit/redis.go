package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// RedisOptions configure a [Redis] store.
type RedisOptions struct {
	// URL is redis://host:port/db, or rediss:// for TLS; it must not carry a
	// password (see Password).
	URL string
	// Password authenticates to the server ("" for none); SetPassword
	// replaces it for the connections opened from then on.
	Password string
	// Timeout bounds dialing; each step's wait is bounded by its context
	// (the Limiter's timeout). 0 is DefaultTimeout.
	Timeout time.Duration
}

// Redis is a [Store] in Redis (5 or later) or Valkey, shared by every
// replica pointed at it. Each step is one EVALSHA of gcraScript, which reads
// the server's clock (so replicas' clocks need not agree) and lets a key
// expire when its window has passed. The client is rueidis: concurrent steps
// are pipelined on one connection, a write and a read for many requests.
type Redis struct {
	opt      rueidis.ClientOption
	password atomic.Pointer[string]
	// client is made on first use, and again after a failed attempt: a Redis
	// that is down at start is an outage like any other.
	client atomic.Pointer[rueidis.Client]
	mu     sync.Mutex // serialises making the client
}

// gcraScript is one GCRA step in microseconds of the server's clock:
// KEYS[1] the caller's key, ARGV[1] the burst, ARGV[2] the interval. It
// returns {allowed (0 or 1), retry after, reset after}, in microseconds.
var gcraScript = rueidis.NewLuaScript(`
local t = redis.call("TIME")
local now = t[1] * 1000000 + t[2]
local burst, interval = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call("GET", KEYS[1]) or now)
if tat < now then tat = now end
local nxt = tat + interval
local ahead = nxt - now
if ahead > interval * burst then
  return {0, ahead - interval * burst, tat - now}
end
redis.call("SET", KEYS[1], nxt, "PX", math.ceil(ahead / 1000))
return {1, 0, ahead}
`)

// ParseRedisURL checks a Redis URL as the settings take it: redis:// or
// rediss://, a host, and no password (a URL is logged and shown; the
// password has its own secret setting).
func ParseRedisURL(raw string) (rueidis.ClientOption, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return rueidis.ClientOption{}, errors.New("not a URL: want redis://host:6379/0 or rediss://host:6380/0")
	}
	if _, ok := u.User.Password(); ok {
		return rueidis.ClientOption{}, errors.New("the URL carries a password: give it in the password setting instead, so that it stays out of logs")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return rueidis.ClientOption{}, fmt.Errorf("the scheme %q is not redis:// or rediss:// (TLS)", u.Scheme)
	}
	if u.Host == "" {
		return rueidis.ClientOption{}, errors.New("the URL names no host: want redis://host:6379/0")
	}
	return rueidis.ParseURL(raw)
}

// NewRedis returns a store for o. It does not connect: the first step does.
func NewRedis(o RedisOptions) (*Redis, error) {
	opt, err := ParseRedisURL(o.URL)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Redis{}
	r.SetPassword(o.Password)
	user := opt.Username
	opt.AuthCredentialsFn = func(rueidis.AuthCredentialsContext) (rueidis.AuthCredentials, error) {
		return rueidis.AuthCredentials{Username: user, Password: *r.password.Load()}, nil
	}
	opt.Dialer.Timeout = timeout
	opt.ConnWriteTimeout = 10 * timeout // a dead connection is noticed within a second
	opt.DisableCache = true             // no client-side caching: every step is a script
	opt.DisableRetry = true             // a step waits once, within its deadline
	opt.ClientName = "lktoken"
	r.opt = opt
	return r, nil
}

// SetPassword replaces the password used by new connections (SIGHUP);
// connections already authenticated stay open.
func (r *Redis) SetPassword(pw string) { r.password.Store(&pw) }

func (r *Redis) conn() (rueidis.Client, error) {
	if c := r.client.Load(); c != nil {
		return *c, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.client.Load(); c != nil {
		return *c, nil
	}
	c, err := rueidis.NewClient(r.opt)
	if err != nil {
		return nil, err
	}
	r.client.Store(&c)
	return c, nil
}

// Take runs the GCRA script for key. now is unused: the script reads the
// server's clock.
func (r *Redis) Take(ctx context.Context, key string, _ time.Time, p Policy) (Decision, error) {
	c, err := r.conn()
	if err != nil {
		return Decision{}, err
	}
	interval := max(p.Interval().Microseconds(), 1)
	res, err := gcraScript.Exec(ctx, c, []string{"lktoken:" + key}, []string{strconv.Itoa(p.Burst), strconv.FormatInt(interval, 10)}).AsIntSlice()
	if err != nil {
		return Decision{}, err
	}
	if len(res) != 3 {
		return Decision{}, fmt.Errorf("the rate limit script answered %d values, want 3", len(res))
	}
	us := time.Microsecond
	d := Decision{Allowed: res[0] == 1, RetryAfter: time.Duration(res[1]) * us, ResetAfter: time.Duration(res[2]) * us}
	if d.Allowed {
		d.Remaining = int((interval*int64(p.Burst) - res[2]) / interval)
	}
	return d, nil
}

// Close closes the connections.
func (r *Redis) Close() error {
	if c := r.client.Load(); c != nil {
		(*c).Close()
	}
	return nil
}
