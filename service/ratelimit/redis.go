package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RedisOptions configure a [Redis] store.
type RedisOptions struct {
	// URL is redis://host:port/db, or rediss:// for TLS; it must not carry a
	// password (see Password).
	URL string
	// Password authenticates to the server ("" for none); SetPassword
	// replaces it for the connections opened from then on.
	Password string
	// Timeout bounds dialing, waiting for a pooled connection and each
	// round trip; 0 is DefaultTimeout.
	Timeout time.Duration
}

// Redis is a [Store] in Redis or Valkey, shared by every replica pointed at
// it. Each step is one EVALSHA of go-redis/redis_rate's GCRA script, which
// reads the server's clock (so replicas' clocks need not agree) and lets a
// key expire when its window has passed.
type Redis struct {
	client   *redis.Client
	limiter  *redis_rate.Limiter
	password atomic.Pointer[string]
}

// ParseRedisURL checks a Redis URL as the settings take it: redis:// or
// rediss://, a host, and no password (a URL is logged and shown; the
// password has its own secret setting).
func ParseRedisURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL: want redis://host:6379/0 or rediss://host:6380/0")
	}
	if _, ok := u.User.Password(); ok {
		return nil, errors.New("the URL carries a password: give it in the password setting instead, so that it stays out of logs")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("the scheme %q is not redis:// or rediss:// (TLS)", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("the URL names no host: want redis://host:6379/0")
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return o, nil
}

func init() {
	// go-redis logs each failed dial to stderr in its own format; the
	// Limiter logs one line per change of the store's reachability instead.
	redis.SetLogger(quiet{})
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// NewRedis returns a store for o. It does not connect: the first request
// does, and a server that is down at start is an outage like any other.
func NewRedis(o RedisOptions) (*Redis, error) {
	opts, err := ParseRedisURL(o.URL)
	if err != nil {
		return nil, err
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Redis{}
	r.SetPassword(o.Password)
	user := opts.Username
	opts.CredentialsProvider = func() (string, string) { return user, *r.password.Load() }
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	opts.ContextTimeoutEnabled = true // a request's deadline bounds its command
	opts.DisableIdentity = true       // no CLIENT SETINFO round trip per connection
	r.client = redis.NewClient(opts)
	r.limiter = redis_rate.NewLimiter(r.client)
	return r, nil
}

// SetPassword replaces the password used by new connections (SIGHUP);
// connections already authenticated stay open.
func (r *Redis) SetPassword(pw string) { r.password.Store(&pw) }

// Take runs the GCRA script for key. now is unused: the script reads the
// server's clock.
func (r *Redis) Take(ctx context.Context, key string, _ time.Time, p Policy) (Decision, error) {
	res, err := r.limiter.Allow(ctx, "lktoken:"+key, redis_rate.Limit{Rate: p.Count, Period: p.Per, Burst: p.Burst})
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Allowed: res.Allowed > 0, ResetAfter: max(res.ResetAfter, 0)}
	if d.Allowed {
		// The script's remaining is a float truncated by Redis (1.9999 for
		// 2); recomputed from the reset time with a little tolerance.
		t := float64(p.Interval())
		d.Remaining = max(int((t*float64(p.Burst)-float64(d.ResetAfter))/t+1e-3), 0)
	} else {
		d.RetryAfter = res.RetryAfter
	}
	return d, nil
}

// Close closes the connections.
func (r *Redis) Close() error { return r.client.Close() }
