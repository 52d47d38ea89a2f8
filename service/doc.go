// Package service is the home of lktoken's implementation. It holds no code
// of its own: each concern is a package below it, and the imports run one
// way, from the composition down to the signature.
//
//	app          the one place that wires: from a config.Config it builds the
//	             keyring, the Issuer, the caller's authentication (authn,
//	             oidc), the room policy, the tracer, the mint operation, the
//	             routes behind the middleware every request passes (request
//	             id, metrics, panic recovery, CORS, and the front that
//	             authenticates before the body is read, takes the caller's
//	             rate limit and hands the verified caller to the route),
//	             /healthz, /readyz, SIGHUP reloads
//	 ↓
//	httpserver   serves a built handler: the listener (HTTP/1.1 + cleartext
//	             HTTP/2), the metrics listener, the drain; it composes nothing
//	 ↓ (app)
//	api          the routes, thin adapters: decode → pipeline.Call (with the
//	             caller the front verified) → Mint → encode. The Connect
//	             route (Connect, gRPC, gRPC-Web, with the JSON fast path) and
//	             LiveKit's token endpoint (/api/token); a request connect-go
//	             refuses before the operation runs is audited all the same
//	 ↓
//	pipeline     the one mint operation every route calls: Authenticate (authn)
//	             before the body is read, then Mint: bind the verified
//	             identity (identity) → validate (contract) → room policy → server policy
//	             and signature (mint); audit, metrics and tracing wrap it once
//	             and learn the outcome from its return
//	 ↓
//	contract     the rules of proto/ (protovalidate), with the validation fast
//	             path and its fingerprint
//	mint         the pure core: the grant, the claims, the fast HS256 signer,
//	             the server's Policy and the Issuer that applies it
//	keys         the API keys: where they come from, the Ring a reload swaps
//
// Beside them: config (flags and environment into a Config: one typed
// declaration per setting, and the one map from a setting's field to what
// the user typed), setting (the field ids domain packages report errors
// against, so that none spells a flag or variable), identity (the identity
// modes: exclusive, per-session, pseudonymous), ratelimit (the per-caller
// GCRA limit, in memory or in Redis, and the client address behind trusted
// proxies), logging (the logger, the batching LogWriter, and the
// writer the audit log's direct lines share with slog's JSON handler), authn
// (the Authenticator hook and the static bearer token), oidc (the OpenID
// Connect Authenticator: discovery, the provider's keys, verification and its
// cache), roompolicy (the CEL room policy, the pipeline's RoomPolicy hook),
// audit (the audit log's lines), rpcerr (the one error mapping: violations,
// Connect codes to HTTP statuses as connect-go maps them, and the Recorder
// that reads an answer's code) and requestid. cmd/lktoken only loads the
// config, opens the log, builds app.New and runs it.
//
// # Fast paths
//
// The hot path (one GenerateToken over Connect JSON) takes these hand-written
// shortcuts. Each replaces a library's general code, does exactly what that
// code would (or steps aside for it), and has a guard test that compares the
// two. Allocations saved are per request, measured by turning the shortcut
// off under TestProductionWiringTakesEveryFastPath (service/app), which holds
// production wiring to a budget that the loss of any one of them exceeds.
//
//   - api/jsoncodec.go: decodes a plain GenerateTokenRequest and writes the
//     GenerateTokenResponse by hand instead of protojson; saves 13 allocations
//     (request) and 9 (answer). Guards: TestJSONCodecRequestMatchesProtojson,
//     TestJSONCodecResponseMatchesProtojson, TestJSONCodecKnowsEveryField.
//   - contract/validator.go: accepts a certainly valid GenerateTokenRequest
//     without protovalidate's CEL evaluation (and builds protovalidate only
//     when needed); saves 32 allocations and the CEL environment's start-up
//     time and memory. Guards: TestFastValidationMatchesContract (the rules'
//     fingerprint), TestFastValidationAgreesWithProtovalidate.
//   - mint/signer.go: signs HS256 with the claims' JSON written directly and
//     pooled keyed HMACs instead of golang-jwt and encoding/json; saves 33
//     allocations. Guards: TestSignHS256IsByteIdentical,
//     TestMintTokenMatchesAccessToken, TestSignerKnowsEveryClaimField.
//   - audit/jsonline.go: writes the mint line to logging's writer directly
//     instead of through slog's JSON handler, switched on by audit.New's
//     lines argument; saves 2 allocations and about a tenth of a request's CPU
//     time. Guards: TestFastMintLineMatchesSlog,
//     TestFastMintLineKnowsEveryEntryField, TestDirectPathSurvivesLogWith.
//   - app/handler.go (front): sends exactly GenerateToken's path to its route
//     without http.ServeMux's pattern matching; saves 3 allocations and about
//     5 000 instructions. Guard: TestHotRouteIsTheMuxRoute.
//   - logging/logwriter.go: batches log lines, one write per batch instead of
//     one system call per line. Guards: TestLogWriterKeepsEveryLineInOrder,
//     TestLogWriterHandsOnIdleLineWithoutClose.
//
// Smaller ones: the answer and its timestamp in one allocation
// (api/connect.go), the Connect route's per-request state, context and
// writers in one allocation (api/connect.go), headers read and written by
// their canonical key without Get and Set (guard:
// TestDirectHeaderKeysAreCanonical), and the metrics' counter of successful
// GenerateToken calls bound once instead of looked up per request
// (app/metrics.go).
package service
