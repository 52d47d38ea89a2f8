// Package ratelimit limits how fast one caller may mint: the generic cell
// rate algorithm (GCRA) over a [Store], in this process's memory ([Memory])
// or in a Redis or Valkey that a fleet of replicas shares ([Redis]).
//
// A [Policy] is a rate and a burst: a caller that has been idle may send
// Burst requests at once, then one per [Policy.Interval]. Over any window of
// length t a caller gets at most Burst + Count×t/Per answers. GCRA keeps one
// number per caller, its theoretical arrival time (TAT): the moment its
// budget is full again. A caller whose TAT has passed is indistinguishable
// from one never seen, so a store may forget it.
//
// [Limiter] puts a store and a policy together with what happens when the
// store fails (open by default, or closed), and [Key] and [Proxies] say
// whose budget a request draws from.
package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/setting"
)

// The settings of the rate limit, as errors name them (package setting).
const (
	FieldRate               setting.Field = "ratelimit.Rate"
	FieldBurst              setting.Field = "ratelimit.Burst"
	FieldRedisURL           setting.Field = "ratelimit.RedisURL"
	FieldRedisPassword      setting.Field = "ratelimit.RedisPassword"
	FieldRedisPasswordFile  setting.Field = "ratelimit.RedisPasswordFile"
	FieldFailure            setting.Field = "ratelimit.Failure"
	FieldTrustedProxies     setting.Field = "ratelimit.TrustedProxies"
	FieldTrustedProxyHeader setting.Field = "ratelimit.TrustedProxyHeader"
)

// Policy is a rate (Count requests per Per) and a burst.
type Policy struct {
	// Count requests are allowed per Per once the burst is spent.
	Count int
	Per   time.Duration
	// Burst is how many requests an idle caller may send at once; at least 1.
	Burst int
}

// Interval is the emission interval: one request per Interval in the long run.
func (p Policy) Interval() time.Duration { return p.Per / time.Duration(p.Count) }

// window is how long a caller's state lasts after a request: the time a
// spent burst takes to refill.
func (p Policy) window() time.Duration { return p.Interval() * time.Duration(p.Burst) }

// String is the policy as the settings spell it: "20/1m0s burst 5".
func (p Policy) String() string {
	return fmt.Sprintf("%d/%s burst %d", p.Count, p.Per, p.Burst)
}

// Decision is the outcome of one step.
type Decision struct {
	// Allowed is whether the request may proceed.
	Allowed bool
	// Remaining is how many more requests the caller could send right now.
	Remaining int
	// RetryAfter, when refused, is how long until one request is allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the whole burst is available again.
	ResetAfter time.Duration
	// Unchecked is set when the store could not be asked and the limiter
	// fails open: the request proceeds, and nothing is known of the budget.
	Unchecked bool
}

// step is one GCRA step for a caller whose TAT is tat (zero: never seen) at
// now, in nanoseconds since any fixed epoch. It returns the decision and the
// TAT to keep (the same tat when refused).
func step(tat, now int64, p Policy) (Decision, int64) {
	t := int64(p.Interval())
	limit := t * int64(p.Burst) // how far ahead of now a TAT may run
	if tat < now {
		tat = now
	}
	next := tat + t
	if ahead := next - now; ahead > limit {
		return Decision{RetryAfter: time.Duration(ahead - limit), ResetAfter: time.Duration(tat - now)}, tat
	}
	return Decision{
		Allowed:    true,
		Remaining:  int((limit - (next - now)) / t),
		ResetAfter: time.Duration(next - now),
	}, next
}

// ParseRate reads a rate as the settings spell it: "<count>/<unit>", where
// the unit is s, sec, second, m, min, minute, h, hour, d or day, or a Go
// duration ("20/min", "100/s", "5/10s"). It returns the count and period.
func ParseRate(s string) (count int, per time.Duration, err error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, errors.New(`want <count>/<unit>, e.g. 20/min (units: s, min, h, day, or a duration such as 10s), or "off"`)
	}
	count, err = strconv.Atoi(strings.TrimSpace(num))
	if err != nil || count < 1 {
		return 0, 0, fmt.Errorf("the count %q must be a whole number of at least 1", num)
	}
	switch u := strings.ToLower(strings.TrimSpace(unit)); u {
	case "s", "sec", "second":
		per = time.Second
	case "m", "min", "minute":
		per = time.Minute
	case "h", "hour":
		per = time.Hour
	case "d", "day":
		per = 24 * time.Hour
	default:
		if per, err = time.ParseDuration(u); err != nil || per <= 0 {
			return 0, 0, fmt.Errorf("unknown unit %q: use s, min, h, day, or a duration such as 10s", unit)
		}
	}
	if per/time.Duration(count) < time.Microsecond {
		return 0, 0, errors.New("more than one request per microsecond is not a limit")
	}
	return count, per, nil
}
