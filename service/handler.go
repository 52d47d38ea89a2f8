package service

import (
	"log/slog"
	"net/http"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpcreflect"
	"github.com/rs/cors"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// HandlerOptions are what NewHandler needs beyond the Issuer.
type HandlerOptions struct {
	AllowedOrigins  []string
	MaxRequestBytes int
	// TokenEndpointPath serves LiveKit's standard token endpoint; "" disables it.
	TokenEndpointPath string
	Log               *slog.Logger
	Now               func() time.Time
	// Hardening and operations (routes.go); all optional.
	Authenticator Authenticator         // nil: no authentication
	Metrics       *Metrics              // nil: no metrics
	Ready         *Readiness            // nil: always ready
	Tracing       connect.Interceptor   // nil: no spans
	Interceptors  []connect.Interceptor // extra, innermost (after validation)
}

// NewHandler wires every route of lktoken into one http.Handler:
//
//	/lktoken.v1.TokenService/*   the API (Connect, gRPC, gRPC-Web)
//	/grpc.reflection.v1*/        reflection, for `buf curl --reflect` and grpcurl
//	/api/token                   LiveKit's standard token endpoint (TokenSourceRequest JSON), if configured
//	/healthz                     liveness
//	/readyz                      readiness (keys loaded, not draining)
//
// Each request gets a request id, metrics, panic recovery, CORS and
// authentication (wrapRoutes); API calls then pass audit (outer) and
// validation (inner) interceptors before the handler. The token endpoint
// shares the validator, the auditor, the Issuer and the body cap.
func NewHandler(issuer *Issuer, opts HandlerOptions) (http.Handler, error) {
	// Valid requests skip CEL; protovalidate is built on first need (fastvalidate.go).
	validator, err := newContractValidator(protovalidate.WithMessages(&lktokenv1.GenerateTokenRequest{}))
	if err != nil {
		return nil, err
	}
	auditor := NewAuditor(opts.Log, opts.Now)
	mux := http.NewServeMux()
	path, api := lktokenv1connect.NewTokenServiceHandler(
		NewTokenService(issuer),
		outerRPCOptions(opts),
		connect.WithInterceptors(
			auditor.Interceptor(),
			NewValidationInterceptor(validator),
		),
		innerRPCOptions(opts),
		connect.WithHandlerOptions(ConnectHandlerOptions()...), // codecs, compression (jsoncodec.go)
	)
	mux.Handle(path, noStore(explainRefusals(api)))
	if opts.TokenEndpointPath != "" {
		mux.Handle(opts.TokenEndpointPath, noStore(&tokenEndpoint{
			route:     opts.TokenEndpointPath,
			issuer:    issuer,
			validator: validator,
			auditor:   auditor,
			maxBytes:  opts.MaxRequestBytes,
			now:       opts.Now,
			metrics:   opts.Metrics,
		}))
	}

	reflector := grpcreflect.NewStaticReflector(lktokenv1connect.TokenServiceName)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, outerRPCOptions(opts)))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, outerRPCOptions(opts)))
	mux.Handle("GET /readyz", opts.Ready)

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return wrapRoutes(mux, opts), nil
}

// logRequests notes each request at debug level as soon as its headers are
// read, before the body, so an operator can see what is in flight.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if log.Enabled(r.Context(), slog.LevelDebug) {
			log.LogAttrs(r.Context(), slog.LevelDebug, "request received",
				slog.String("request_id", RequestID(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", auditText(r.URL.Path)),
				slog.String("proto", r.Proto),
				slog.String("peer", r.RemoteAddr))
		}
		next.ServeHTTP(w, r)
	})
}

// noStore keeps tokens out of every cache between us and the caller.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// withCORS lets the listed origins call the API from a browser, preflight
// included; any other origin gets no CORS headers, so browsers refuse it.
func withCORS(origins []string, next http.Handler) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), RequestIDHeader, "Authorization"),
		ExposedHeaders: append(connectcors.ExposedHeaders(), RequestIDHeader),
		MaxAge:         7200,
	}).Handler(next)
}
