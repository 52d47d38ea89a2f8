package ratelimit

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)} }

var perMinute = Policy{Count: 20, Per: time.Minute, Burst: 5} // one per 3 s

func TestMemoryAllowsBurstThenRate(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := New(Options{Policy: perMinute, Store: NewMemory(), Now: c.now})
	ctx := context.Background()
	// An idle caller: the burst at once, then nothing.
	for i := range 5 {
		d, err := l.Take(ctx, "k")
		if err != nil || !d.Allowed || d.Remaining != 4-i {
			t.Fatalf("request %d: %+v %v, want allowed with %d remaining", i+1, d, err, 4-i)
		}
	}
	d, _ := l.Take(ctx, "k")
	if d.Allowed || d.RetryAfter != 3*time.Second || d.ResetAfter != 15*time.Second {
		t.Fatalf("6th request: %+v, want refused, retry after 3s, reset after 15s", d)
	}
	// One more per interval: 1 s before it, refused; at it, allowed.
	c.add(2 * time.Second)
	if d, _ := l.Take(ctx, "k"); d.Allowed || d.RetryAfter != time.Second {
		t.Fatalf("after 2s: %+v, want refused with 1s to wait", d)
	}
	c.add(time.Second)
	if d, _ := l.Take(ctx, "k"); !d.Allowed || d.Remaining != 0 {
		t.Fatalf("after 3s: %+v, want allowed with 0 remaining", d)
	}
	// Over a minute of steady asking: burst refilled + rate × time.
	allowed := 0
	c2 := newClock()
	l2 := New(Options{Policy: perMinute, Store: NewMemory(), Now: c2.now})
	for range 600 { // every 100 ms for 60 s
		if d, _ := l2.Take(ctx, "k"); d.Allowed {
			allowed++
		}
		c2.add(100 * time.Millisecond)
	}
	if want := 5 + 20; allowed != want && allowed != want-1 {
		t.Fatalf("allowed %d in a minute, want burst + rate×time = %d", allowed, want)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	c := newClock()
	p := Policy{Count: 7, Per: 10 * time.Second, Burst: 1} // 1.428... s apart
	l := New(Options{Policy: p, Store: NewMemory(), Now: c.now})
	ctx := context.Background()
	l.Take(ctx, "k")
	d, _ := l.Take(ctx, "k")
	h := http.Header{}
	l.SetHeaders(h, d)
	if got := h.Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2 (1.43 s rounded up)", got)
	}
	if got, want := h.Get("RateLimit-Policy"), `"lktoken";q=1;w=2`; got != want {
		t.Fatalf("RateLimit-Policy %q, want %q", got, want)
	}
	if got, want := h.Get("RateLimit"), `"lktoken";r=0;t=2`; got != want {
		t.Fatalf("RateLimit %q, want %q", got, want)
	}
	c.add(2 * time.Second)
	if d, _ := l.Take(ctx, "k"); !d.Allowed {
		t.Fatalf("after Retry-After: %+v, want allowed", d)
	}
}

func TestDistinctKeysDoNotShare(t *testing.T) {
	t.Parallel()
	c := newClock()
	l := New(Options{Policy: Policy{Count: 1, Per: time.Hour, Burst: 1}, Store: NewMemory(), Now: c.now})
	for _, k := range []Key{SubjectKey("iss", "alice"), SubjectKey("iss", "bob"), SubjectKey("other", "alice"), BearerKey(), AddrKey(netip.MustParseAddr("192.0.2.1"))} {
		if d, _ := l.Take(context.Background(), k); !d.Allowed {
			t.Fatalf("%s: refused on its first request", k)
		}
		if d, _ := l.Take(context.Background(), k); d.Allowed {
			t.Fatalf("%s: second request allowed", k)
		}
	}
}

func TestMemoryIsBounded(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := newMemory(1024)
	l := New(Options{Policy: perMinute, Store: m, Now: c.now})
	// A flood of distinct callers within one window: never above the cap.
	for i := range 20_000 {
		l.Take(context.Background(), Key("flood"+string(rune(i))))
	}
	if n := m.Len(); n > 1024 {
		t.Fatalf("%d callers held, cap 1024", n)
	}
	// Idle callers cost nothing once their window (15 s) has passed.
	c.add(16 * time.Second)
	l.Take(context.Background(), "one")
	if n := m.Len(); n != 1 {
		t.Fatalf("%d callers held after their windows passed, want the sweep to forget them", n)
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Policy{
		"20/min": {Count: 20, Per: time.Minute}, "100/s": {Count: 100, Per: time.Second},
		"5/10s": {Count: 5, Per: 10 * time.Second}, " 3 / hour ": {Count: 3, Per: time.Hour}, "1/day": {Count: 1, Per: 24 * time.Hour},
	} {
		n, per, err := ParseRate(in)
		if err != nil || n != want.Count || per != want.Per {
			t.Errorf("ParseRate(%q) = %d, %v, %v; want %d, %v", in, n, per, err, want.Count, want.Per)
		}
	}
	for in, msg := range map[string]string{
		"20":           "want <count>/<unit>",
		"20/fortnight": `unknown unit "fortnight"`,
		"0/min":        `the count "0" must be a whole number of at least 1`,
		"x/min":        `the count "x"`,
		"10000/1ms":    "more than one request per microsecond",
		"5/-1s":        "unknown unit",
	} {
		if _, _, err := ParseRate(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRate(%q) error %v, want it to say %q", in, err, msg)
		}
	}
}

func TestProxiesClient(t *testing.T) {
	t.Parallel()
	proxies := func(ranges, header string) Proxies {
		r, err := ParseRanges(ranges)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewProxies(r, header)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	xff, fwd := proxies("10.0.0.0/8, 127.0.0.1,::1", "x-forwarded-for"), proxies("10.0.0.0/8", "Forwarded")
	for _, c := range []struct {
		name   string
		p      Proxies
		peer   string
		header string
		value  []string
		want   string
	}{
		{"untrusted peer: its header is ignored", xff, "192.0.2.7:5000", "X-Forwarded-For", []string{"203.0.113.1"}, "192.0.2.7"},
		{"trusted peer: the last hop it appended", xff, "10.1.2.3:5000", "X-Forwarded-For", []string{"198.51.100.9, 203.0.113.1"}, "203.0.113.1"},
		{"a chain of trusted proxies is skipped", xff, "127.0.0.1:5000", "X-Forwarded-For", []string{"203.0.113.1, 10.0.0.5", "10.0.0.6"}, "203.0.113.1"},
		{"a spoofed first hop does not count", xff, "10.1.2.3:1", "X-Forwarded-For", []string{"1.1.1.1, 203.0.113.1"}, "203.0.113.1"},
		{"garbage ends the walk at the last trusted hop", xff, "10.1.2.3:1", "X-Forwarded-For", []string{"203.0.113.1, bogus, 10.0.0.9"}, "10.0.0.9"},
		{"no header: the proxy itself", xff, "10.1.2.3:1", "", nil, "10.1.2.3"},
		{"a port after the address (Azure App Service)", xff, "127.0.0.1:80", "X-Forwarded-For", []string{"203.0.113.7:51234"}, "203.0.113.7"},
		{"IPv6 peer", xff, "[::1]:80", "X-Forwarded-For", []string{"2001:db8::1"}, "2001:db8::1"},
		{"Forwarded for=", fwd, "10.0.0.1:80", "Forwarded", []string{`for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded ignores X-Forwarded-For", fwd, "10.0.0.1:80", "X-Forwarded-For", []string{"203.0.113.1"}, "10.0.0.1"},
		{"Forwarded unknown stops the walk", fwd, "10.0.0.1:80", "Forwarded", []string{"for=unknown"}, "10.0.0.1"},
		{"no proxies trusted", Proxies{}, "10.0.0.1:80", "X-Forwarded-For", []string{"203.0.113.1"}, "10.0.0.1"},
	} {
		h := http.Header{}
		for _, v := range c.value {
			h.Add(c.header, v)
		}
		got, ok := c.p.Client(c.peer, h)
		if !ok || got.String() != c.want {
			t.Errorf("%s: Client = %v %v, want %s", c.name, got, ok, c.want)
		}
	}
	if _, ok := xff.Client("pipe", nil); ok {
		t.Error("a peer without an address gave one")
	}
	for ranges, msg := range map[string]string{"10.0.0.0/33": `"10.0.0.0/33" is neither`, "example.com": `"example.com" is neither`} {
		if _, err := ParseRanges(ranges); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRanges(%q) = %v, want %q", ranges, err, msg)
		}
	}
	if _, err := NewProxies(nil, "X-Real-IP"); err == nil || err.Error() != "must be X-Forwarded-For or Forwarded" {
		t.Errorf("header X-Real-IP: %v", err)
	}
}

func TestAddrKeyIPv6CountsBySlash64(t *testing.T) {
	t.Parallel()
	a, b := AddrKey(netip.MustParseAddr("2001:db8:1:2::1")), AddrKey(netip.MustParseAddr("2001:db8:1:2:ffff::9"))
	c := AddrKey(netip.MustParseAddr("2001:db8:1:3::1"))
	if a != b || a == c {
		t.Fatalf("keys %s %s %s: want one /64 to share and another not", a, b, c)
	}
	if AddrKey(netip.MustParseAddr("::ffff:192.0.2.1")) != AddrKey(netip.MustParseAddr("192.0.2.1")) {
		t.Fatal("an IPv4-mapped address is not the IPv4 address")
	}
	if k := SubjectKey("https://idp", "alice@example.com"); strings.Contains(string(k), "alice") || len(k) != 2+22 {
		t.Fatalf("subject key %q: want a fixed-length hash that does not show the subject", k)
	}
}

// failing is a store that fails while down is set.
type failing struct {
	mu    sync.Mutex
	down  bool
	calls int
	inner Store
}

func (f *failing) Take(ctx context.Context, key string, now time.Time, p Policy) (Decision, error) {
	f.mu.Lock()
	f.calls++
	down := f.down
	f.mu.Unlock()
	if down {
		return Decision{}, errors.New("dial tcp 127.0.0.1:1: connection refused")
	}
	return f.inner.Take(ctx, key, now, p)
}

func (f *failing) set(down bool) { f.mu.Lock(); f.down = down; f.mu.Unlock() }

type observed struct {
	mu       sync.Mutex
	outcomes map[string]int
	changes  []bool
}

func (o *observed) ObserveRateLimit(outcome string) {
	o.mu.Lock()
	o.outcomes[outcome]++
	o.mu.Unlock()
}

func (o *observed) ObserveRateLimitStore(up bool) {
	o.mu.Lock()
	o.changes = append(o.changes, up)
	o.mu.Unlock()
}

func TestStoreFailure(t *testing.T) {
	t.Parallel()
	for _, closed := range []bool{false, true} {
		c := newClock()
		store := &failing{inner: NewMemory(), down: true}
		obs := &observed{outcomes: map[string]int{}}
		var log strings.Builder
		l := New(Options{Policy: perMinute, Store: store, FailClosed: closed, Now: c.now, Observer: obs, Log: newTextLog(&log)})
		for range 10 {
			d, err := l.Take(context.Background(), "k")
			if closed && !errors.Is(err, ErrStoreUnavailable) {
				t.Fatalf("fail closed: %+v %v, want ErrStoreUnavailable", d, err)
			}
			if !closed && (err != nil || !d.Allowed || !d.Unchecked) {
				t.Fatalf("fail open: %+v %v, want allowed unchecked", d, err)
			}
		}
		if since, down := l.Unreachable(); !down || !since.Equal(c.now()) {
			t.Fatalf("Unreachable = %v %v", since, down)
		}
		// While down, only one request per probe interval waits for the store.
		if store.calls != 1 {
			t.Fatalf("%d requests asked the store while it was down, want 1", store.calls)
		}
		store.set(false)
		c.add(probeEvery)
		if d, err := l.Take(context.Background(), "k"); err != nil || !d.Allowed || d.Unchecked {
			t.Fatalf("after recovery: %+v %v, want checked and allowed", d, err)
		}
		if _, down := l.Unreachable(); down {
			t.Fatal("still unreachable after a successful step")
		}
		lines := strings.Count(log.String(), "\n")
		if lines != 2 || !strings.Contains(log.String(), "rate limit store unreachable") || !strings.Contains(log.String(), "reachable again") {
			t.Fatalf("log:\n%s\nwant one line per change of state (2)", log.String())
		}
		if len(obs.changes) != 2 || obs.changes[0] || !obs.changes[1] {
			t.Fatalf("store changes observed %v, want [false true]", obs.changes)
		}
		want := "unchecked"
		if closed {
			want = "unavailable"
		}
		if obs.outcomes[want] != 10 || obs.outcomes["allowed"] != 1 {
			t.Fatalf("outcomes %v, want 10 %s and 1 allowed", obs.outcomes, want)
		}
	}
}

func TestCallerGoneIsNotAnOutage(t *testing.T) {
	t.Parallel()
	store := &failing{inner: NewMemory(), down: true}
	l := New(Options{Policy: perMinute, Store: store})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Take(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if _, down := l.Unreachable(); down {
		t.Fatal("a canceled request marked the store unreachable")
	}
}
