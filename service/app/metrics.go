package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// Metrics are the Prometheus series lktoken exports. Each Server has its own
// registry, so tests can run several servers in one process.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	mint     *prometheus.HistogramVec
	// The series of the hot path, resolved once: WithLabelValues hashes
	// the labels and takes a lock on every call.
	generateOK prometheus.Counter
	mintIssued prometheus.Observer
	// The rate limit's steps by outcome, and whether its store answers;
	// rateAllowed is the hot path's series, resolved once.
	rateLimit   *prometheus.CounterVec
	rateStore   prometheus.Gauge
	rateAllowed prometheus.Counter
}

// NewMetrics returns a fresh set of series, with Go and process metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lktoken_requests_total",
			Help: "Requests answered, by route and code (the RPC code name for API routes, the HTTP status otherwise).",
		}, []string{"route", "code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lktoken_requests_in_flight",
			Help: "Requests being handled now.",
		}),
		mint: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lktoken_mint_duration_seconds",
			Help:    "Time to mint a token once the request is valid: policy, claims and signature.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .5},
		}, []string{"outcome"}),
		rateLimit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lktoken_rate_limit_total",
			Help: "Rate limit steps by outcome: allowed, limited, unchecked (store unreachable, failing open), unavailable (failing closed).",
		}, []string{"outcome"}),
		rateStore: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lktoken_rate_limit_store_up",
			Help: "1 while the rate limit store answers (always, in memory), 0 while it is unreachable.",
		}),
	}
	m.rateStore.Set(1)
	m.rateAllowed = m.rateLimit.WithLabelValues("allowed")
	m.registry.MustRegister(m.requests, m.inFlight, m.mint, m.rateLimit, m.rateStore,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.generateOK = m.requests.WithLabelValues(lktokenv1connect.TokenServiceGenerateTokenProcedure, "ok")
	m.mintIssued = m.mint.WithLabelValues("issued")
	return m
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// rpcRoutes are the procedures counted under their own name; any other path
// counts as "other", so a caller cannot grow the number of series.
var rpcRoutes = map[string]bool{
	lktokenv1connect.TokenServiceGenerateTokenProcedure:              true,
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      true,
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": true,
}

// plainRoutes are HTTP routes counted by HTTP status.
var plainRoutes = map[string]bool{"/healthz": true, "/readyz": true}

// routeOf names path's series. The token endpoint (at its configured path,
// tokenPath; "" when disabled) answers in RPC codes, so it counts as an RPC.
func routeOf(path, tokenPath string) (route string, rpc bool) {
	switch {
	case rpcRoutes[path], tokenPath != "" && path == tokenPath:
		return path, true
	case plainRoutes[path]:
		return path, false
	}
	return "other", false
}

// middleware counts every request by route and code; tokenPath is where the
// token endpoint is served ("" when it is not). The code is read from the
// answer as it went out (rpcerr.Recorder), so every route is counted the same
// way, whether or not its request reached the mint operation.
func (m *Metrics) middleware(next http.Handler, tokenPath string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		route, rpc := routeOf(r.URL.Path, tokenPath)
		sw := &rpcerr.Recorder{}
		sw.Reset(w, r, rpc)
		defer func() {
			code := strconv.Itoa(sw.Status())
			if rpc {
				code = sw.Code()
			}
			if code == "ok" && route == lktokenv1connect.TokenServiceGenerateTokenProcedure {
				m.generateOK.Inc()
				return
			}
			m.requests.WithLabelValues(route, code).Inc()
		}()
		next.ServeHTTP(sw, r)
	})
}

// ObserveMint puts one mint in the histogram (pipeline.Observer).
func (m *Metrics) ObserveMint(elapsed time.Duration, outcome string) {
	if outcome == "issued" {
		m.mintIssued.Observe(elapsed.Seconds())
		return
	}
	m.mint.WithLabelValues(outcome).Observe(elapsed.Seconds())
}

// ObserveRateLimit counts one rate limit step (ratelimit.Observer).
func (m *Metrics) ObserveRateLimit(outcome string) {
	if outcome == "allowed" {
		m.rateAllowed.Inc()
		return
	}
	m.rateLimit.WithLabelValues(outcome).Inc()
}

// ObserveRateLimitStore notes a change of the store's reachability
// (ratelimit.Observer).
func (m *Metrics) ObserveRateLimitStore(reachable bool) {
	if reachable {
		m.rateStore.Set(1)
	} else {
		m.rateStore.Set(0)
	}
}
