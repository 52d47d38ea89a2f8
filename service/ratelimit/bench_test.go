package ratelimit

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// BenchmarkMemoryPath is what one allowed request costs the limiter in
// memory: the client address, its key, the step, the headers.
func BenchmarkMemoryPath(b *testing.B) {
	// A rate no loop outruns: at a million a second the step refused after a
	// second of iterations.
	l := New(Options{Policy: Policy{Count: 1_000_000_000, Per: time.Second, Burst: 1_000_000_000}, Store: NewMemory()})
	var p Proxies
	ctx := context.Background()
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		a, _ := p.Client("127.0.0.1:40000", h)
		d, err := l.Take(ctx, AddrKey(a))
		if err != nil || !d.Allowed {
			b.Fatal(d, err)
		}
		l.SetHeaders(h, d)
	}
}
