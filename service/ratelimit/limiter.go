package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Store runs one GCRA step for a key, atomically: two replicas taking from
// one key at once both see the other's step.
type Store interface {
	// Take takes one request from key's budget under p at now (a store with
	// a clock of its own, such as Redis, may use that instead).
	Take(ctx context.Context, key string, now time.Time, p Policy) (Decision, error)
}

// DefaultTimeout bounds how long a request waits for the store: 100 ms,
// dial, pool wait and round trip included. Past it the store counts as
// unreachable for this request.
const DefaultTimeout = 100 * time.Millisecond

// probeEvery is how often, while the store is unreachable, one request asks
// it again; the others meanwhile get the failure answer at once, so that an
// outage costs no request the timeout.
const probeEvery = 500 * time.Millisecond

// ErrStoreUnavailable is Take's error when the store cannot be asked and the
// limiter fails closed.
var ErrStoreUnavailable = errors.New("the rate limit store is unreachable")

// Observer learns each step's outcome ("allowed", "limited", "unchecked"
// when the store failed open, "unavailable" when it failed closed) and each
// change of the store's reachability.
type Observer interface {
	ObserveRateLimit(outcome string)
	ObserveRateLimitStore(reachable bool)
}

// Options are what New composes. Policy and Store are required.
type Options struct {
	Policy Policy
	Store  Store
	// FailClosed refuses every request while the store is unreachable;
	// otherwise they proceed unchecked.
	FailClosed bool
	// Timeout bounds each request's wait for the store; 0 is DefaultTimeout.
	Timeout time.Duration
	// Log receives one line per change of the store's reachability; nil
	// discards them.
	Log *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Observer is optional.
	Observer Observer
}

// Limiter applies a policy through a store. It is safe for concurrent use.
type Limiter struct {
	policy     Policy
	store      Store
	failClosed bool
	timeout    time.Duration
	log        *slog.Logger
	now        func() time.Time
	observer   Observer
	// policyHeader is the RateLimit-Policy value, the same for every answer.
	policyHeader []string
	// local: the store answers from memory, never waits, never fails.
	local bool

	// isDown mirrors down for the fast path: while the store answers, a
	// step takes no lock of the limiter's.
	isDown    atomic.Bool
	mu        sync.Mutex
	down      bool
	downSince time.Time
	nextProbe time.Time
}

// New returns the limiter opts compose.
func New(opts Options) *Limiter {
	l := &Limiter{policy: opts.Policy, store: opts.Store, failClosed: opts.FailClosed, timeout: opts.Timeout,
		log: opts.Log, now: opts.Now, observer: opts.Observer}
	if l.timeout <= 0 {
		l.timeout = DefaultTimeout
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.policyHeader = []string{policyName + ";q=" + strconv.Itoa(l.policy.Burst) + ";w=" + ceilSeconds(l.policy.window())}
	_, l.local = l.store.(*Memory)
	return l
}

// Policy is the limiter's policy.
func (l *Limiter) Policy() Policy { return l.policy }

// Take takes one request from key's budget. When the store fails, the
// request is allowed unchecked (Decision.Unchecked), or, failing closed,
// refused with ErrStoreUnavailable. A ctx that ends first returns its error.
func (l *Limiter) Take(ctx context.Context, key Key) (Decision, error) {
	now := l.now()
	if l.local {
		d, _ := l.store.Take(ctx, string(key), now, l.policy)
		l.observeStep(d)
		return d, nil
	}
	if l.isDown.Load() && !l.shouldAsk(now) {
		return l.failed()
	}
	sctx, cancel := context.WithTimeout(ctx, l.timeout)
	d, err := l.store.Take(sctx, string(key), now, l.policy)
	cancel()
	if err != nil && ctx.Err() != nil {
		return Decision{}, ctx.Err() // the caller went away: not the store's fault
	}
	if err != nil || l.isDown.Load() {
		l.record(now, err)
	}
	if err != nil {
		return l.failed()
	}
	l.observeStep(d)
	return d, nil
}

func (l *Limiter) observeStep(d Decision) {
	outcome := "allowed"
	if !d.Allowed {
		outcome = "limited"
	}
	l.observe(outcome)
}

func (l *Limiter) failed() (Decision, error) {
	if l.failClosed {
		l.observe("unavailable")
		return Decision{}, ErrStoreUnavailable
	}
	l.observe("unchecked")
	return Decision{Allowed: true, Unchecked: true}, nil
}

func (l *Limiter) observe(outcome string) {
	if l.observer != nil {
		l.observer.ObserveRateLimit(outcome)
	}
}

// shouldAsk is false while the store is down, except for one request per
// probeEvery.
func (l *Limiter) shouldAsk(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.down {
		return true
	}
	if now.Before(l.nextProbe) {
		return false
	}
	l.nextProbe = now.Add(probeEvery)
	return true
}

// record notes the store's answer, logging each change of reachability once.
func (l *Limiter) record(now time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil && !l.down:
		l.down, l.downSince, l.nextProbe = true, now, now.Add(probeEvery)
		l.isDown.Store(true)
		mode := "open: requests proceed unchecked"
		if l.failClosed {
			mode = "closed: requests are refused with 503"
		}
		l.log.Error("rate limit store unreachable", slog.String("error", err.Error()), slog.String("failing", mode))
		if l.observer != nil {
			l.observer.ObserveRateLimitStore(false)
		}
	case err == nil && l.down:
		l.down = false
		l.isDown.Store(false)
		l.log.Info("rate limit store reachable again", slog.String("unreachable_for", now.Sub(l.downSince).Round(time.Millisecond).String()))
		if l.observer != nil {
			l.observer.ObserveRateLimitStore(true)
		}
	}
}

// Unreachable reports since when the store has been unreachable, or false
// when it answered the last request that asked it.
func (l *Limiter) Unreachable() (since time.Time, down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.downSince, l.down
}

// policyName names the one policy in the RateLimit headers.
const policyName = `"lktoken"`

// SetHeaders writes d into h as the IETF httpapi draft's RateLimit-Policy
// and RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy as
// a quota of Burst requests per window of Burst intervals (the time a spent
// burst takes to refill, in whole seconds rounded up), what remains of it
// and the seconds until it is whole again. A refusal also gets Retry-After,
// in seconds rounded up. An unchecked decision sets nothing.
func (l *Limiter) SetHeaders(h http.Header, d Decision) {
	if d.Unchecked {
		return
	}
	// Canonical keys assigned directly: Set would canonicalize each time.
	h["Ratelimit-Policy"] = l.policyHeader // shared, never modified
	b := make([]byte, 0, 48)
	b = append(b, policyName+";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, int64(math.Ceil(d.ResetAfter.Seconds())), 10)
	h["Ratelimit"] = []string{string(b)}
	if !d.Allowed {
		h["Retry-After"] = []string{RetryAfterSeconds(d.RetryAfter)}
	}
}

// RetryAfterSeconds is d in whole seconds rounded up, at least 1: what
// Retry-After says, so that a client that waits that long is allowed.
func RetryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(int64(math.Ceil(d.Seconds())), 1), 10)
}

func ceilSeconds(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
