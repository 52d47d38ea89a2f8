package config

import (
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/identity"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/roompolicy"
	"github.com/lktoken/lktoken/service/setting"
)

// Fields of config's own that code outside it names: the addresses a
// server may fail to listen on (httpserver.ListenError).
const (
	FieldListen        setting.Field = "config.Listen"
	FieldMetricsListen setting.Field = "config.MetricsListen"
)

// specs declares every setting, bound to the fields of c it fills, in the
// order --help lists them. It is the one place a setting is written: flag,
// variable, destination, default, parser, bounds, help.
func specs(c *Config) []*spec {
	return append([]*spec{
		{flag: "dev", env: "LKTOKEN_DEV", field: keys.FieldDev, value: boolean(&c.Dev, false),
			help: "development mode: without LIVEKIT_API_KEY/LIVEKIT_API_SECRET use LiveKit's local-dev pair devkey/secret and " + keys.DevServerURL + ". Never in production"},
		{flag: "api-key", env: "LIVEKIT_API_KEY", field: keys.FieldAPIKey, value: text(&c.Keys.APIKey, ""),
			help: "LiveKit API key; the token's issuer (required unless --dev)"},
		{flag: "api-key-file", env: "LIVEKIT_API_KEY_FILE", field: keys.FieldAPIKeyFile, value: text(&c.Keys.APIKeyFile, ""),
			help: "file holding LIVEKIT_API_KEY instead: the id of the key that signs; read again on SIGHUP, so that with LIVEKIT_KEYS_FILE the signing key switches without a restart"},
		{env: "LIVEKIT_API_SECRET", field: keys.FieldSecret, value: text(&c.Keys.Secret, ""), secret: true,
			help: "LiveKit API secret, at least 32 characters (required unless --dev; environment only, never a flag)"},
		{env: "LIVEKIT_API_SECRET_FILE", field: keys.FieldSecretFile, value: text(&c.Keys.SecretFile, ""),
			help: "file holding the API secret instead of LIVEKIT_API_SECRET (Docker/Kubernetes secrets); read again on SIGHUP"},
		{flag: "keys-file", env: "LIVEKIT_KEYS_FILE", field: keys.FieldKeysFile, value: text(&c.Keys.KeysFile, ""),
			help: "file of `key: secret` lines (LiveKit's keys.yaml, livekit-server's key_file) instead of a secret; LIVEKIT_API_KEY (or LIVEKIT_API_KEY_FILE) names the signing key; read again on SIGHUP"},
		{flag: "livekit-url", env: "LIVEKIT_URL", value: trimmed(&c.Policy.ServerURL, ""),
			help: "LiveKit server URL handed to clients, ws://, wss://, http:// or https:// (required unless --dev, which uses " + keys.DevServerURL + ")"},
		{flag: "listen", env: "LKTOKEN_LISTEN", field: FieldListen, value: text(&c.Listen, defaultListen),
			help: "address to listen on (HTTP/1.1 and cleartext HTTP/2); use :8080 in a container"},
		{env: "FUNCTIONS_CUSTOMHANDLER_PORT", value: text(&c.functionsPort, ""),
			help: "set by the Azure Functions host: listen on 127.0.0.1 at this port (then leave LKTOKEN_LISTEN unset)"},
		{flag: "allowed-origins", env: "LKTOKEN_ALLOWED_ORIGINS", value: list(&c.AllowedOrigins, nil, "", parseOrigins),
			help: "comma-separated browser origins allowed by CORS, e.g. https://app.example.com (required unless --dev, which allows " + DevAllowedOrigin + " when it is empty)"},
		{flag: "default-lifetime", env: "LKTOKEN_DEFAULT_LIFETIME", field: mint.FieldDefaultLifetime,
			value: duration(&c.Policy.DefaultLifetime, mint.ContractDefaultLifetime, mint.ContractMinLifetime, mint.ContractMaxLifetime),
			help:  "token lifetime when a request names none, within --min-lifetime..--max-lifetime; when only a bound is set and the default lies outside it, the default becomes that bound"},
		{flag: "min-lifetime", env: "LKTOKEN_MIN_LIFETIME", field: mint.FieldMinLifetime,
			value: duration(&c.Policy.MinLifetime, mint.ContractMinLifetime, mint.ContractMinLifetime, mint.ContractMaxLifetime),
			help:  "shortest lifetime a request may ask for"},
		{flag: "max-lifetime", env: "LKTOKEN_MAX_LIFETIME", field: mint.FieldMaxLifetime,
			value: duration(&c.Policy.MaxLifetime, mint.ContractMaxLifetime, mint.ContractMinLifetime, mint.ContractMaxLifetime),
			help:  "longest lifetime a request may ask for"},
		{flag: "max-request-bytes", env: "LKTOKEN_MAX_REQUEST_BYTES", value: whole(&c.MaxRequestBytes, 64<<10, 1024, 16<<20, "bytes"),
			help: "largest request body accepted, in bytes"},
		{flag: "token-endpoint-path", env: "LKTOKEN_TOKEN_ENDPOINT_PATH", value: list(&c.TokenEndpointPath, DefaultTokenEndpointPath, DefaultTokenEndpointPath, parseEndpointPath),
			help: "path of LiveKit's standard token endpoint (TokenSource.endpoint in LiveKit's client SDKs), not one of lktoken's other routes; \"off\" or an empty flag disables it"},
		{flag: "max-metadata-bytes", env: "LKTOKEN_MAX_METADATA_BYTES", field: mint.FieldMaxMetadataBytes,
			value: whole(&c.Policy.MaxMetadataBytes, mint.DefaultMaxMetadataBytes, 0, mint.ContractMaxMetadataBytes, "bytes"),
			help:  "largest participant_metadata (and agent dispatch metadata) a token may carry, in bytes"},
		{flag: "max-attributes-bytes", env: "LKTOKEN_MAX_ATTRIBUTES_BYTES", field: mint.FieldMaxAttributesBytes,
			value: whole(&c.Policy.MaxAttributesBytes, mint.DefaultMaxAttributesBytes, 0, mint.ContractMaxAttributesBytes, "bytes"),
			help:  "largest total of participant_attributes keys and values a token may carry, in bytes"},
		{flag: "allowed-agents", env: "LKTOKEN_ALLOWED_AGENTS", value: list(&c.Policy.AllowedAgents, nil, "", parseAgents),
			help: "comma-separated agent names a request may dispatch through room_config.agents (empty: none)"},
		{flag: "shutdown-timeout", env: "LKTOKEN_SHUTDOWN_TIMEOUT", value: duration(&c.ShutdownTimeout, 15*time.Second, time.Millisecond, time.Hour),
			help: "how long in-flight requests may take to finish on SIGTERM"},
		{flag: "drain-delay", env: "LKTOKEN_DRAIN_DELAY", value: duration(&c.DrainDelay, 5*time.Second, 0, time.Hour),
			help: "on SIGTERM, how long to keep serving while /readyz answers 503, so that load balancers and Kubernetes endpoints stop sending before the listener closes (0: none). SIGINT (Ctrl-C) or a second signal skips it"},
		{flag: "log-level", env: "LKTOKEN_LOG_LEVEL", value: oneOf(&c.LogLevel, "info", "debug", "info", "warn", "error"),
			help: "debug, info, warn or error"},
		{flag: "log-format", env: "LKTOKEN_LOG_FORMAT", value: oneOf(&c.LogFormat, "json", "json", "text"),
			help: "json or text"},
		// Limits, timeouts and operations (OpsConfig).
		{flag: "read-header-timeout", env: "LKTOKEN_READ_HEADER_TIMEOUT", value: duration(&c.Ops.ReadHeaderTimeout, 5*time.Second, time.Millisecond, time.Hour),
			help: "time a client has to send its request headers (cuts off slowloris)"},
		{flag: "read-timeout", env: "LKTOKEN_READ_TIMEOUT", value: duration(&c.Ops.ReadTimeout, 15*time.Second, time.Millisecond, time.Hour),
			help: "time a client has to send a whole request, body included"},
		{flag: "write-timeout", env: "LKTOKEN_WRITE_TIMEOUT", value: duration(&c.Ops.WriteTimeout, 15*time.Second, time.Millisecond, time.Hour),
			help: "time the server has to answer a request once its headers are read"},
		{flag: "idle-timeout", env: "LKTOKEN_IDLE_TIMEOUT", value: duration(&c.Ops.IdleTimeout, 120*time.Second, time.Millisecond, time.Hour),
			help: "how long an idle keep-alive connection stays open"},
		{flag: "max-header-bytes", env: "LKTOKEN_MAX_HEADER_BYTES", value: whole(&c.Ops.MaxHeaderBytes, 16<<10, 4096, 1<<20, "bytes"),
			help: "largest request header block, in bytes (larger gets 431)"},
		{flag: "max-concurrent-streams", env: "LKTOKEN_MAX_CONCURRENT_STREAMS", value: whole(&c.Ops.MaxConcurrentStreams, 250, 1, 10000, ""),
			help: "HTTP/2 streams one connection may have open at once"},
		{flag: "metrics-listen", env: "LKTOKEN_METRICS_LISTEN", field: FieldMetricsListen, value: text(&c.Ops.MetricsListen, ""),
			help: "address for Prometheus /metrics, e.g. 127.0.0.1:9090; off when empty. Keep it private"},
		{env: "LKTOKEN_BEARER_TOKEN", value: list(&c.Ops.BearerToken, "", "", func(s string) (Secret, error) { return Secret(s), nil }), secret: true,
			help: "when set, every API call must send `Authorization: Bearer <this>` (at least 32 characters; environment only), for one trusted backend; exclusive with LKTOKEN_OIDC_ISSUER"},
		{env: "LKTOKEN_BEARER_TOKEN_FILE", value: text(&c.Ops.BearerTokenFile, ""),
			help: "file holding LKTOKEN_BEARER_TOKEN instead; read again on SIGHUP"},
		{flag: "tracing", env: "LKTOKEN_TRACING", value: boolean(&c.Ops.Tracing, false),
			help: "OpenTelemetry spans, one per mint on every token route, sent over OTLP/HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318); needs a build with -tags otel"},
		// Caller authentication by OpenID Connect and the room policy
		// (AuthConfig); the oidc.* fields have no effect without an issuer.
		{flag: "oidc-issuer", env: "LKTOKEN_OIDC_ISSUER", field: oidc.FieldIssuer, value: trimmed(&c.Auth.OIDC.Issuer, ""),
			help: "OpenID Connect issuer URL, exactly as its tokens' iss (e.g. https://tenant.eu.auth0.com/): every API call must then send `Authorization: Bearer <access token>` from it, and the LiveKit identity is the token's verified subject. Exclusive with LKTOKEN_BEARER_TOKEN"},
		{flag: "oidc-audience", env: "LKTOKEN_OIDC_AUDIENCE", field: oidc.FieldAudience, value: trimmed(&c.Auth.OIDC.Audience, ""),
			help: "the aud value the access tokens carry for lktoken (required with --oidc-issuer)"},
		{flag: "oidc-jwks-url", env: "LKTOKEN_OIDC_JWKS_URL", field: oidc.FieldJWKSURL, value: trimmed(&c.Auth.OIDC.JWKSURL, ""),
			help: "the provider's key set URL, for providers without discovery (default: jwks_uri from <issuer>/.well-known/openid-configuration)"},
		{flag: "oidc-identity-claim", env: "LKTOKEN_OIDC_IDENTITY_CLAIM", field: oidc.FieldIdentityClaim, value: text(&c.Auth.OIDC.IdentityClaim, "sub"),
			help: "the claim that becomes the LiveKit identity (e.g. oid for Entra ID, preferred_username for Keycloak)"},
		{flag: "oidc-name-claim", env: "LKTOKEN_OIDC_NAME_CLAIM", field: oidc.FieldNameClaim, value: text(&c.Auth.OIDC.NameClaim, "name"),
			help: "the claim that becomes the display name when a request sends none"},
		{flag: "oidc-algorithms", env: "LKTOKEN_OIDC_ALGORITHMS", field: oidc.FieldAlgorithms, value: list(&c.Auth.OIDC.Algorithms, nil, "", parseList),
			help: "comma-separated signature algorithms to accept (default all asymmetric: " + strings.Join(oidc.AsymmetricAlgorithms, ",") + "); none and HS* never"},
		{flag: "oidc-leeway", env: "LKTOKEN_OIDC_LEEWAY", field: oidc.FieldLeeway, value: duration(&c.Auth.OIDC.Leeway, oidc.DefaultLeeway, 0, oidc.MaxLeeway),
			help: "clock skew allowed on exp, nbf and iat"},
		{flag: "oidc-require-at-jwt", env: "LKTOKEN_OIDC_REQUIRE_AT_JWT", field: oidc.FieldRequireAccessTokenType, value: boolean(&c.Auth.OIDC.RequireAccessTokenType, false),
			help: "refuse access tokens whose header lacks typ at+jwt (RFC 9068), for providers that write it; ID tokens (nonce, at_hash, c_hash, s_hash) are refused either way"},
		{flag: "policy", env: "LKTOKEN_POLICY", field: roompolicy.FieldExpression, value: list(&c.Auth.Policy, nil, "", parsePolicy),
			help: "room policy: a CEL expression over `request` (the GenerateTokenRequest) and `claims` (the verified token's claims), true to allow, e.g. request.room_name.startsWith(claims.org + \"-\"); checked at start, fails closed (default: every room)"},
		// The identity mode (IdentityConfig); with OpenID Connect only.
		{flag: "identity-mode", env: "LKTOKEN_IDENTITY_MODE", value: list(&c.Identity.Mode, identity.Mode{}, identity.Exclusive, parseIdentityMode),
			help: "how a verified caller's claim becomes its LiveKit identity (with --oidc-issuer only): exclusive (the claim; a second session of the same person replaces the first, DUPLICATE_IDENTITY), per-session (the claim plus a random suffix per token; the claim in the lktoken.subject attribute), each optionally with pseudonymous (the claim replaced by a keyed HMAC), e.g. per-session,pseudonymous"},
		{env: "LKTOKEN_PSEUDONYM_KEY", value: list(&c.Identity.Key, "", "", func(s string) (Secret, error) { return Secret(s), nil }), secret: true,
			help: "the HMAC key of the pseudonymous identity mode, at least 32 characters (environment only); every replica needs the same key, and a new key gives everyone a new pseudonym"},
		{env: "LKTOKEN_PSEUDONYM_KEY_FILE", value: text(&c.Identity.KeyFile, ""),
			help: "file holding LKTOKEN_PSEUDONYM_KEY instead; read again on SIGHUP"},
	}, rateLimitSpecs(&c.RateLimit)...) // the per-caller rate limit (ratelimit.go)
}

// parseList reads a comma-separated list, without blanks.
func parseList(s string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out, nil
}

// parsePolicy compiles the room policy; blank is none.
func parsePolicy(s string) (*roompolicy.Policy, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	p, err := roompolicy.Compile(s)
	if err != nil {
		return nil, setting.Errorf("%s does not compile:\n%w", roompolicy.FieldExpression, err)
	}
	return p, nil
}

// defaultListen is --listen's default: loopback, for a first run; a
// container sets :8080.
const defaultListen = "127.0.0.1:8080"
