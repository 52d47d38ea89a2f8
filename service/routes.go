package service

import (
	"net/http"

	"connectrpc.com/connect"
)

// outerRPCOptions wrap every Connect handler (API and reflection): tracing
// first, then the outcome the metrics need, then panic recovery, so that
// spans and counters see what the caller sees.
func outerRPCOptions(opts HandlerOptions) connect.HandlerOption {
	var icpts []connect.Interceptor
	if opts.Tracing != nil {
		icpts = append(icpts, opts.Tracing)
	}
	icpts = append(icpts, outcomeInterceptor())
	return connect.WithHandlerOptions(connect.WithInterceptors(icpts...), recoverRPC(opts.Log),
		// Every Connect handler, reflection included, caps what it reads.
		connect.WithReadMaxBytes(opts.MaxRequestBytes))
}

// innerRPCOptions run after validation, right around the handler.
func innerRPCOptions(opts HandlerOptions) connect.HandlerOption {
	icpts := append([]connect.Interceptor(nil), opts.Interceptors...)
	if opts.Metrics != nil {
		icpts = append(icpts, opts.Metrics.mintTimer())
	}
	return connect.WithInterceptors(icpts...)
}

// publicPaths answer without authentication: probes carry no credentials.
var publicPaths = map[string]bool{"/healthz": true, "/readyz": true}

// wrapRoutes puts the cross-cutting layers around the mux, outermost first:
// request id, the debug "request received" line, metrics, panic recovery,
// CORS (which answers preflights), authentication.
func wrapRoutes(mux http.Handler, opts HandlerOptions) http.Handler {
	authed := requireAuth(opts.Authenticator, opts.Log, mux)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if publicPaths[r.URL.Path] {
			mux.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
	var out http.Handler = recoverHTTP(opts.Log, withCORS(opts.AllowedOrigins, h))
	if opts.Metrics != nil {
		out = opts.Metrics.middleware(out, opts.TokenEndpointPath)
	}
	return WithRequestID(logRequests(opts.Log, out))
}
