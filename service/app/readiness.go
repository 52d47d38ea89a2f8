package app

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lktoken/lktoken/service/keys"
)

// Readiness answers GET /readyz: ready only while keys are loaded and the
// server is serving, so a load balancer sends nothing before the first
// request can be signed and stops sending as soon as a drain begins.
type Readiness struct {
	keys  *keys.Ring
	state atomic.Int32
	// oidc, when callers authenticate with OpenID Connect, reports whether
	// the provider's keys are loaded and the provider's state in a line.
	oidc func() (ready bool, state string)
	// rateStore, when the rate limit keeps its budgets in Redis, says since
	// when it has been unreachable (down false: it answers).
	rateStore func() (since time.Time, down bool)
}

const (
	stateStarting int32 = iota
	stateServing
	stateDraining
)

// NewReadiness returns a Readiness that is not ready until Serving is called.
func NewReadiness(ring *keys.Ring) *Readiness { return &Readiness{keys: ring} }

// Serving marks the listener open.
func (r *Readiness) Serving() { r.state.Store(stateServing) }

// Draining marks the start of a shutdown; it stays not ready from then on.
func (r *Readiness) Draining() { r.state.Store(stateDraining) }

// NotReady returns why the server is not ready, or "" when it is.
func (r *Readiness) NotReady() string {
	if r == nil {
		return ""
	}
	switch {
	case r.state.Load() == stateDraining:
		return "shutting down"
	case r.keys == nil || !r.keys.Loaded():
		return "no signing key loaded"
	case r.state.Load() == stateStarting:
		return "starting"
	}
	if r.oidc != nil {
		if ok, state := r.oidc(); !ok {
			return "oidc: " + strings.TrimPrefix(state, "not ready: ")
		}
	}
	return ""
}

// ServeHTTP answers 200 "ready" or 503 with the reason.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if why := r.NotReady(); why != "" {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + why + "\n"))
		return
	}
	body := "ready\n"
	if r.oidc != nil {
		// Ready with known keys even while the provider is unreachable; the
		// line says so.
		_, state := r.oidc()
		body += "oidc: " + state + "\n"
	}
	if r.rateStore != nil {
		// Ready while Redis is unreachable too: the limit fails open (or
		// closed) on every replica alike, and taking replicas out of the
		// balancer would help no one.
		if since, down := r.rateStore(); down {
			body += "rate limit store unreachable since " + since.UTC().Format(time.RFC3339) + "\n"
		}
	}
	_, _ = w.Write([]byte(body))
}
