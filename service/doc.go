// Package service is the home of lktoken's implementation. It holds no code
// of its own: each concern is a package below it, and the imports run one
// way, from the listener down to the signature.
//
//	httpserver   composes everything from a config.Config and serves it: the
//	             listener (HTTP/1.1 + cleartext HTTP/2), the middleware every
//	             request passes (request id, metrics, panic recovery, CORS,
//	             authentication before the body is read), /healthz, /readyz,
//	             /metrics, the batching log writer, SIGHUP reloads, drain
//	 ↓
//	api          the routes, thin adapters: decode → pipeline.Call → Mint →
//	             encode. The Connect route (Connect, gRPC, gRPC-Web, with the
//	             JSON fast path) and LiveKit's token endpoint (/api/token)
//	 ↓
//	pipeline     the one mint operation every route calls: authenticate (authn)
//	             → bind the verified identity → validate (contract) → room
//	             policy → server policy and signature (mint); audit, metrics
//	             and tracing wrap it once and learn the outcome from its return
//	 ↓
//	contract     the rules of proto/ (protovalidate), with the validation fast
//	             path and its fingerprint
//	mint         the pure core: the grant, the claims, the fast HS256 signer,
//	             the server's Policy and the Issuer that applies it
//	keys         the API keys: where they come from, the Ring a reload swaps
//
// Beside them: config (flags and environment into a Config, every error
// naming what to set), authn (the Authenticator hook and the static bearer
// token), audit (the audit log's lines), rpcerr (the one error mapping:
// violations, Connect codes to HTTP statuses as connect-go maps them) and
// requestid. cmd/lktoken only loads the config, builds httpserver.New and
// runs it.
package service
