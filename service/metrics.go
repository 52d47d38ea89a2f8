package service

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// Metrics are the Prometheus series lktoken exports. Each Server has its own
// registry, so tests can run several servers in one process.
type Metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	inFlight prometheus.Gauge
	mint     *prometheus.HistogramVec
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
	}
	m.registry.MustRegister(m.requests, m.inFlight, m.mint,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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

// rpcOutcomeKey carries a slot the outermost RPC interceptor fills with the
// call's code, read back by the HTTP middleware.
type rpcOutcomeKey struct{}

type rpcOutcome struct {
	code string
}

// middleware counts every request by route and code; tokenPath is where the
// token endpoint is served ("" when it is not).
func (m *Metrics) middleware(next http.Handler, tokenPath string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		route, rpc := routeOf(r.URL.Path, tokenPath)
		out := &rpcOutcome{}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			code := strconv.Itoa(sw.status)
			if rpc {
				code = rpcCode(out.code, w.Header(), sw.status)
			}
			m.requests.WithLabelValues(route, code).Inc()
		}()
		next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), rpcOutcomeKey{}, out)))
	})
}

// rpcCode is the RPC's code: from the interceptor when the call reached it,
// else from the gRPC status the protocol wrote, else from the HTTP status of
// a Connect error written before decoding (body too large, bad JSON, ...).
func rpcCode(fromInterceptor string, h http.Header, status int) string {
	if fromInterceptor != "" {
		return fromInterceptor
	}
	for _, k := range []string{"Grpc-Status", http.TrailerPrefix + "Grpc-Status"} {
		if v := h.Get(k); v != "" {
			if n, err := strconv.Atoi(v); err == nil {
				if n == 0 {
					return "ok"
				}
				return connect.Code(n).String()
			}
		}
	}
	if c, ok := httpToCode[status]; ok {
		return c
	}
	return "http_" + strconv.Itoa(status)
}

// httpToCode follows Connect's mapping of codes to HTTP statuses, backwards.
var httpToCode = map[int]string{
	200: "ok", 400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
	404: "unimplemented", 408: "deadline_exceeded", 409: "aborted", 412: "failed_precondition",
	413: "resource_exhausted", 429: "resource_exhausted", 499: "canceled", 500: "internal",
	501: "unimplemented", 503: "unavailable", 504: "deadline_exceeded",
}

// noteOutcome tells the middleware the RPC code of an answer written outside
// Connect (the token endpoint).
func noteOutcome(ctx context.Context, code string) {
	if out, ok := ctx.Value(rpcOutcomeKey{}).(*rpcOutcome); ok {
		out.code = code
	}
}

// outcomeInterceptor notes each call's code for the HTTP middleware. It runs
// outermost, so it sees what the caller gets (recovered panics included).
func outcomeInterceptor() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			if out, ok := ctx.Value(rpcOutcomeKey{}).(*rpcOutcome); ok {
				out.code = "ok"
				if err != nil {
					out.code = connect.CodeOf(err).String()
				}
			}
			return resp, err
		}
	}
}

// mintTimer observes the handler's time; it runs innermost, after the
// request passed validation, so it measures minting alone.
func (m *Metrics) mintTimer() connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			start := time.Now()
			resp, err := next(ctx, req)
			m.observeMint(start, err)
			return resp, err
		}
	}
}

// observeMint puts one mint, begun at start, in the histogram. A nil
// Metrics observes nothing.
func (m *Metrics) observeMint(start time.Time, err error) {
	if m == nil {
		return
	}
	outcome := "issued"
	if err != nil {
		outcome = connect.CodeOf(err).String()
	}
	m.mint.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

// statusWriter remembers the status of the answer.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Flush passes through so streaming (reflection, gRPC) still works.
func (w *statusWriter) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
