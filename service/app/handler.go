package app

import (
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/api"
	"github.com/lktoken/lktoken/service/audit"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/ratelimit"
	"github.com/lktoken/lktoken/service/requestid"
)

// HandlerOptions are what NewHandler needs beyond the mint operation.
type HandlerOptions struct {
	AllowedOrigins  []string
	MaxRequestBytes int
	// TokenEndpointPath serves LiveKit's standard token endpoint; "" disables it.
	TokenEndpointPath string
	Log               *slog.Logger
	Metrics           *Metrics   // nil: no metrics
	Ready             *Readiness // nil: always ready
}

// NewHandler wires every route of lktoken into one http.Handler:
//
//	/lktoken.v1.TokenService/*   the API (Connect, gRPC, gRPC-Web)
//	/grpc.reflection.v1*/        reflection, for `buf curl --reflect` and grpcurl
//	/api/token                   LiveKit's standard token endpoint (TokenSourceRequest JSON), if configured
//	/healthz                     liveness
//	/readyz                      readiness (keys loaded, not draining)
//
// Around them, outermost first: a request id, the debug "request received"
// line, metrics, panic recovery, CORS (which answers preflights) and, on
// every path but the probes, authentication before the body is read. Both
// token routes are adapters over op (package api), which validates, applies
// the policies, signs and audits.
func NewHandler(op *pipeline.Operation, opts HandlerOptions) http.Handler {
	rpc := connect.WithHandlerOptions(recoverRPC(opts.Log),
		// Every Connect handler, reflection included, caps what it reads.
		connect.WithReadMaxBytes(opts.MaxRequestBytes))
	mux := http.NewServeMux()
	svc := api.Connect(op, rpc)
	mux.Handle(svc.Path, svc)
	if opts.TokenEndpointPath != "" {
		mux.Handle(opts.TokenEndpointPath, api.TokenEndpoint(op, opts.TokenEndpointPath, opts.MaxRequestBytes))
	}
	reflector := grpcreflect.NewStaticReflector(lktokenv1connect.TokenServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, rpc))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, rpc))
	mux.Handle("GET /readyz", opts.Ready)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})

	h := recoverHTTP(opts.Log, withCORS(opts.AllowedOrigins, front(op, mux, svc)))
	if opts.Metrics != nil {
		h = opts.Metrics.middleware(h, opts.TokenEndpointPath)
	}
	return requestid.Middleware(logRequests(opts.Log, h))
}

// publicPaths answer without authentication: probes carry no credentials.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true}

// front is the one path of a caller: it authenticates every request but the
// probes before any body is read (reflection and unknown paths included, so
// every path refuses the same way), answering a refusal in the request's own
// protocol (Connect, gRPC, gRPC-Web; Connect's JSON otherwise) with 401 and a
// WWW-Authenticate challenge; then, for a token route, it takes one request
// from the verified caller's rate limit budget, still before the body (the
// RateLimit headers go on the answer; a refusal is a 429 with Retry-After,
// on gRPC resource_exhausted with RetryInfo), and hands the verified caller,
// explicitly, to the token route mux would choose (api.Route.Serve); every
// other request goes to mux. CORS preflights never get here: CORS answers them
// (browsers send no credentials with them).
//
// The hot route, exactly GenerateToken's path, is found without mux's
// routing: matching the pattern tree cost about 5 000 instructions per
// request, as much as the audit line. TestHotRouteIsTheMuxRoute compares the
// two.
func front(op *pipeline.Operation, mux *http.ServeMux, hot api.Route) http.Handler {
	ew := connect.NewErrorWriter()
	hotPath := lktokenv1connect.TokenServiceGenerateTokenProcedure
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPaths[r.URL.Path] {
			mux.ServeHTTP(w, r)
			return
		}
		who := authn.Caller{Header: r.Header, Peer: r.RemoteAddr}
		caller, err := op.Authenticate(r.Context(), who, r.URL.Path)
		if err != nil {
			// The challenge is a header on every protocol, once: connect-go's
			// ErrorWriter would add the error's metadata again (Connect) or
			// put it in gRPC's trailers, where net/http refuses to send
			// WWW-Authenticate (and logs a warning).
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				if ch := cerr.Meta().Get("WWW-Authenticate"); ch != "" {
					w.Header().Set("WWW-Authenticate", ch)
					cerr.Meta().Del("WWW-Authenticate")
				}
			}
			w.Header().Set("Cache-Control", "no-store") // like every other answer of the API
			_ = ew.Write(w, r, err)
			return
		}
		var route api.Route = hot
		if r.URL.Path != hotPath || r.URL.RawPath != "" || r.Method == http.MethodConnect {
			h, _ := mux.Handler(r)
			if route, _ = h.(api.Route); route == nil {
				mux.ServeHTTP(w, r)
				return
			}
		}
		if op.Limits() {
			var d ratelimit.Decision
			caller, d, err = op.Admit(r.Context(), who, caller, r.URL.Path)
			op.RateLimitHeaders(w.Header(), d) // headers on every protocol, as the challenge above
			if err != nil {
				_ = ew.Write(w, r, err)
				return
			}
		}
		route.Serve(w, r, caller)
	})
}

// logRequests notes each request at debug level as soon as its headers are
// read, before the body, so an operator can see what is in flight.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if log.Enabled(r.Context(), slog.LevelDebug) {
			logRequest(log, r)
		}
		next.ServeHTTP(w, r)
	})
}

// logRequest writes the "request received" line. It is a function of its
// own so that its attributes are not in the frame of every request's
// middleware (the stack a request needs is what connection goroutines grow
// to after each GC shrinks them).
//
//go:noinline
func logRequest(log *slog.Logger, r *http.Request) {
	log.LogAttrs(r.Context(), slog.LevelDebug, "request received",
		slog.String("request_id", requestid.From(r.Context())),
		slog.String("method", r.Method),
		slog.String("path", audit.Text(r.URL.Path)),
		slog.String("proto", r.Proto),
		slog.String("peer", r.RemoteAddr))
}

// withCORS lets the listed origins call the API from a browser, preflight
// included; any other origin gets no CORS headers, so browsers refuse it.
func withCORS(origins []string, next http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), requestid.Header, "Authorization"),
		// The rate limit's answers, so that a browser can honour them.
		ExposedHeaders: append(connectcors.ExposedHeaders(), requestid.Header, "Retry-After", "RateLimit", "RateLimit-Policy"),
		MaxAge:         7200,
	}).Handler(next)
}
