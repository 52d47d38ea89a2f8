// Package config reads lktoken's settings from flags and environment into
// a [Config], checking each and naming the flag or variable to fix. To add a
// setting: add a line to the settings table (flag, variable, default, help),
// read it in buildConfig (or buildOpsConfig) into a field of Config, and
// use that field where the server is composed (httpserver.New).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
)

// Config is everything the server needs, after flags and environment have been
// read and checked. Build one with LoadConfig.
type Config struct {
	// Dev selects LiveKit's local-dev credentials and server URL when unset.
	Dev         bool
	Credentials keys.Credentials
	// Keys says where the credentials came from, to read them again on SIGHUP;
	// KeyIDs are the ids loaded (a keys file may hold several).
	Keys   keys.Source
	KeyIDs []string
	Policy mint.Policy
	// Ops are the limits, timeouts and operations settings (config_ops.go).
	Ops OpsConfig
	// RateLimit is the per-caller rate limit (ratelimit.go).
	RateLimit RateLimitConfig
	// Auth is caller authentication by OpenID Connect and the room policy
	// (auth.go).
	Auth AuthConfig
	// Listen is the TCP address for HTTP/1.1 and cleartext HTTP/2.
	Listen string
	// AllowedOrigins may call the API from a browser (CORS).
	AllowedOrigins []string
	// MaxRequestBytes caps a request body, before or after decompression.
	MaxRequestBytes int
	// TokenEndpointPath serves LiveKit's standard token endpoint format
	// (TokenSource.endpoint); empty disables it.
	TokenEndpointPath string
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	// DrainDelay is how long the server keeps serving after SIGTERM while
	// /readyz answers 503, so that balancers stop sending before the
	// listener closes; 0 closes it at once.
	DrainDelay time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is json or text.
	LogFormat string

	name func(env string) string // see Name
}

// setting is one configuration value: a flag and the variable behind it.
type setting struct {
	flag, env, def, help string
}

var settings = []setting{
	{"dev", "LKTOKEN_DEV", "false", "development mode: without LIVEKIT_API_KEY/LIVEKIT_API_SECRET use LiveKit's local-dev pair devkey/secret and " + keys.DevServerURL + ". Never in production"},
	{"api-key", "LIVEKIT_API_KEY", "", "LiveKit API key; the token's issuer (required unless --dev)"},
	{"api-key-file", "LIVEKIT_API_KEY_FILE", "", "file holding LIVEKIT_API_KEY instead: the id of the key that signs; read again on SIGHUP, so that with LIVEKIT_KEYS_FILE the signing key switches without a restart"},
	{"", "LIVEKIT_API_SECRET", "", "LiveKit API secret, at least 32 characters (required unless --dev; environment only, never a flag)"},
	{"", "LIVEKIT_API_SECRET_FILE", "", "file holding the API secret instead of LIVEKIT_API_SECRET (Docker/Kubernetes secrets); read again on SIGHUP"},
	{"keys-file", "LIVEKIT_KEYS_FILE", "", "file of `key: secret` lines (LiveKit's keys.yaml, livekit-server's key_file) instead of a secret; LIVEKIT_API_KEY (or LIVEKIT_API_KEY_FILE) names the signing key; read again on SIGHUP"},
	{"livekit-url", "LIVEKIT_URL", "", "LiveKit server URL handed to clients, ws://, wss://, http:// or https:// (required unless --dev)"},
	{"listen", "LKTOKEN_LISTEN", defaultListen, "address to listen on (HTTP/1.1 and cleartext HTTP/2); use :8080 in a container"},
	{"", "FUNCTIONS_CUSTOMHANDLER_PORT", "", "set by the Azure Functions host: listen on 127.0.0.1 at this port (then leave LKTOKEN_LISTEN unset)"},
	{"allowed-origins", "LKTOKEN_ALLOWED_ORIGINS", "", "comma-separated browser origins allowed by CORS, e.g. https://app.example.com (required unless --dev, which allows " + DevAllowedOrigin + " when it is empty)"},
	{"default-lifetime", "LKTOKEN_DEFAULT_LIFETIME", "1h", "token lifetime when a request names none"},
	{"min-lifetime", "LKTOKEN_MIN_LIFETIME", "60s", "shortest lifetime a request may ask for (at least 60s)"},
	{"max-lifetime", "LKTOKEN_MAX_LIFETIME", "24h", "longest lifetime a request may ask for (at most 24h)"},
	{"max-request-bytes", "LKTOKEN_MAX_REQUEST_BYTES", "65536", "largest request body accepted, in bytes"},
	{"token-endpoint-path", "LKTOKEN_TOKEN_ENDPOINT_PATH", DefaultTokenEndpointPath, "path of LiveKit's standard token endpoint (TokenSource.endpoint in LiveKit's client SDKs); \"off\" or an empty flag disables it"},
	{"max-metadata-bytes", "LKTOKEN_MAX_METADATA_BYTES", strconv.Itoa(mint.DefaultMaxMetadataBytes), "largest participant_metadata (and agent dispatch metadata) a token may carry, in bytes"},
	{"max-attributes-bytes", "LKTOKEN_MAX_ATTRIBUTES_BYTES", strconv.Itoa(mint.DefaultMaxAttributesBytes), "largest total of participant_attributes keys and values a token may carry, in bytes"},
	{"allowed-agents", "LKTOKEN_ALLOWED_AGENTS", "", "comma-separated agent names a request may dispatch through room_config.agents (empty: none)"},
	{"shutdown-timeout", "LKTOKEN_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may take to finish on SIGTERM"},
	{"drain-delay", "LKTOKEN_DRAIN_DELAY", "5s", "on SIGTERM, how long to keep serving while /readyz answers 503, so that load balancers and Kubernetes endpoints stop sending before the listener closes (0: none). SIGINT (Ctrl-C) or a second signal skips it"},
	{"log-level", "LKTOKEN_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"log-format", "LKTOKEN_LOG_FORMAT", "json", "json or text"},
	// Limits, timeouts and operations (config_ops.go).
	{"read-header-timeout", "LKTOKEN_READ_HEADER_TIMEOUT", "5s", "time a client has to send its request headers (cuts off slowloris)"},
	{"read-timeout", "LKTOKEN_READ_TIMEOUT", "15s", "time a client has to send a whole request, body included"},
	{"write-timeout", "LKTOKEN_WRITE_TIMEOUT", "15s", "time the server has to answer a request once its headers are read"},
	{"idle-timeout", "LKTOKEN_IDLE_TIMEOUT", "120s", "how long an idle keep-alive connection stays open"},
	{"max-header-bytes", "LKTOKEN_MAX_HEADER_BYTES", "16384", "largest request header block, in bytes (larger gets 431)"},
	{"max-concurrent-streams", "LKTOKEN_MAX_CONCURRENT_STREAMS", "250", "HTTP/2 streams one connection may have open at once"},
	{"metrics-listen", "LKTOKEN_METRICS_LISTEN", "", "address for Prometheus /metrics, e.g. 127.0.0.1:9090; off when empty. Keep it private"},
	{"", "LKTOKEN_BEARER_TOKEN", "", "when set, every API call must send `Authorization: Bearer <this>` (at least 32 characters; environment only), for one trusted backend; exclusive with LKTOKEN_OIDC_ISSUER"},
	{"", "LKTOKEN_BEARER_TOKEN_FILE", "", "file holding LKTOKEN_BEARER_TOKEN instead; read again on SIGHUP"},
	// The per-caller rate limit (ratelimit.go).
	{"rate-limit", "LKTOKEN_RATE_LIMIT", "off", "per-caller rate limit on both token routes, <count>/<unit> (s, min, h, day), e.g. 20/min: a verified subject, the bearer token's caller, otherwise a client address; off unless set"},
	{"rate-burst", "LKTOKEN_RATE_BURST", "", "requests an idle caller may send at once (at least 1; default: the count of --rate-limit)"},
	{"rate-limit-redis-url", "LKTOKEN_RATE_LIMIT_REDIS_URL", "", "redis:// or rediss:// (TLS) URL of a Redis or Valkey that holds the budgets for every replica; without it each process keeps its own in memory. No password in the URL"},
	{"", "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD", "", "password for the Redis of LKTOKEN_RATE_LIMIT_REDIS_URL (environment only)"},
	{"", "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE", "", "file holding LKTOKEN_RATE_LIMIT_REDIS_PASSWORD instead; read again on SIGHUP"},
	{"rate-limit-failure", "LKTOKEN_RATE_LIMIT_FAILURE", "open", "while Redis is unreachable: open (requests proceed unchecked) or closed (refused with 503); a request waits at most 100ms for Redis"},
	{"trusted-proxies", "LKTOKEN_TRUSTED_PROXIES", "", "comma-separated address ranges of the proxies in front of lktoken, e.g. 10.0.0.0/8; only from these is the client address taken from --trusted-proxy-header"},
	{"trusted-proxy-header", "LKTOKEN_TRUSTED_PROXY_HEADER", "X-Forwarded-For", "the header trusted proxies append the client address to: X-Forwarded-For or Forwarded"},
	{"tracing", "LKTOKEN_TRACING", "false", "OpenTelemetry spans, one per mint on every token route, sent over OTLP/HTTP to $OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4318); needs a build with -tags otel"},
}

// ErrVersion is returned by LoadConfig for --version: the caller prints the
// version and exits 0.
var ErrVersion = errors.New("version requested")

// LoadConfig reads flags from args and variables through getenv. A flag wins
// over its variable, which wins over the default. It returns flag.ErrHelp after
// printing usage to out when asked for --help, and ErrVersion for --version.
// Every error names what to set, and a value's error names where it came
// from: the flag when one was given, otherwise the variable.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	fs := flag.NewFlagSet("lktoken", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are returned, usage printed on --help only
	fs.Usage = func() {}
	values := map[string]*string{}
	flagEnv := map[string]string{}
	for _, s := range settings {
		v := new(string)
		*v = s.def
		if e := getenv(s.env); e != "" {
			*v = e
		}
		values[s.env] = v
		if s.flag != "" {
			fs.StringVar(v, s.flag, *v, s.help+" ($"+s.env+")")
			flagEnv[s.flag] = s.env
		}
	}
	version := fs.Bool("version", false, "print the version and exit")
	// --dev is a switch: "--dev" alone means "--dev=true".
	if err := fs.Parse(normalizeBoolFlag(normalizeBoolFlag(args, "dev"), "tracing")); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(out)
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%v (see lktoken --help)", err)
	}
	if *version {
		return Config{}, ErrVersion
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q: lktoken takes only flags (see --help)", fs.Arg(0))
	}
	byFlag := map[string]string{}
	fs.Visit(func(f *flag.Flag) {
		if env, ok := flagEnv[f.Name]; ok {
			byFlag[env] = "--" + f.Name
		}
	})
	name := func(env string) string {
		if n, ok := byFlag[env]; ok {
			return n
		}
		return env
	}
	cfg, err := buildConfig(func(env string) string { return *values[env] }, name)
	cfg.name = name
	return cfg, err
}

// Name is how errors call the setting of variable env: its flag when the
// user gave the flag, otherwise env itself.
func (c Config) Name(env string) string {
	if c.name == nil {
		return env
	}
	return c.name(env)
}

func buildConfig(get, name func(env string) string) (Config, error) {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }

	dev, err := strconv.ParseBool(get("LKTOKEN_DEV"))
	if err != nil {
		fail(fmt.Errorf("%s %q: must be true or false", name("LKTOKEN_DEV"), get("LKTOKEN_DEV")))
	}
	listen, listenErr := resolveListen(get, name)
	if listenErr != nil {
		fail(listenErr)
	}
	cfg := Config{
		Dev:       dev,
		Listen:    listen,
		LogLevel:  strings.ToLower(get("LKTOKEN_LOG_LEVEL")),
		LogFormat: strings.ToLower(get("LKTOKEN_LOG_FORMAT")),
	}

	cfg.Keys = keys.Source{APIKey: get("LIVEKIT_API_KEY"), APIKeyFile: get("LIVEKIT_API_KEY_FILE"), Secret: get("LIVEKIT_API_SECRET"),
		SecretFile: get("LIVEKIT_API_SECRET_FILE"), KeysFile: get("LIVEKIT_KEYS_FILE"), Dev: dev}
	// At start errors name what the user set; a SIGHUP reload (cfg.Keys,
	// without Name) names the variables, the files being what changed.
	named := cfg.Keys
	named.Name = name
	if keys, err := named.Load(); err != nil {
		fail(err)
	} else {
		cfg.Credentials, cfg.KeyIDs = keys.Signing, keys.IDs
	}
	serverURL := get("LIVEKIT_URL")
	if dev && serverURL == "" {
		serverURL = keys.DevServerURL
	}
	if err := checkServerURL(name("LIVEKIT_URL"), serverURL); err != nil {
		fail(err)
	}

	cfg.Policy = mint.DefaultPolicy(serverURL)
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{"LKTOKEN_DEFAULT_LIFETIME", &cfg.Policy.DefaultLifetime},
		{"LKTOKEN_MIN_LIFETIME", &cfg.Policy.MinLifetime},
		{"LKTOKEN_MAX_LIFETIME", &cfg.Policy.MaxLifetime},
		{"LKTOKEN_SHUTDOWN_TIMEOUT", &cfg.ShutdownTimeout},
	} {
		v, err := parseDuration(get(d.env))
		if err != nil {
			fail(fmt.Errorf("%s %q: %w", name(d.env), get(d.env), err))
			continue
		}
		*d.dst = v
	}
	if cfg.DrainDelay, err = parseDelay(get("LKTOKEN_DRAIN_DELAY")); err != nil {
		fail(fmt.Errorf("%s %q: %w", name("LKTOKEN_DRAIN_DELAY"), get("LKTOKEN_DRAIN_DELAY"), err))
	}
	for _, c := range []struct {
		env string
		dst *int
		max int
	}{
		{"LKTOKEN_MAX_METADATA_BYTES", &cfg.Policy.MaxMetadataBytes, mint.ContractMaxMetadataBytes},
		{"LKTOKEN_MAX_ATTRIBUTES_BYTES", &cfg.Policy.MaxAttributesBytes, mint.ContractMaxAttributesBytes},
	} {
		n, err := strconv.Atoi(get(c.env))
		if err != nil || n < 0 || n > c.max {
			fail(fmt.Errorf("%s %q: must be a whole number of bytes from 0 to %d", name(c.env), get(c.env), c.max))
			continue
		}
		*c.dst = n
	}
	agents, err := parseAgents(name("LKTOKEN_ALLOWED_AGENTS"), get("LKTOKEN_ALLOWED_AGENTS"))
	if err != nil {
		fail(err)
	}
	cfg.Policy.AllowedAgents = agents
	if len(errs) == 0 {
		if err := cfg.Policy.Check(name); err != nil {
			fail(err)
		}
	}

	n, err := strconv.Atoi(get("LKTOKEN_MAX_REQUEST_BYTES"))
	if err != nil || n < 1024 || n > 16<<20 {
		fail(fmt.Errorf("%s %q: must be a whole number of bytes from 1024 to 16777216", name("LKTOKEN_MAX_REQUEST_BYTES"), get("LKTOKEN_MAX_REQUEST_BYTES")))
	}
	cfg.MaxRequestBytes = n

	cfg.TokenEndpointPath, err = parseEndpointPath(name("LKTOKEN_TOKEN_ENDPOINT_PATH"), get("LKTOKEN_TOKEN_ENDPOINT_PATH"))
	if err != nil {
		fail(err)
	}

	origins, err := parseOrigins(name("LKTOKEN_ALLOWED_ORIGINS"), get("LKTOKEN_ALLOWED_ORIGINS"))
	switch {
	case err != nil:
		fail(err)
	case len(origins) == 0 && dev:
		origins = []string{DevAllowedOrigin}
	case len(origins) == 0:
		fail(fmt.Errorf("%s is not set: list the browser origins that may call lktoken, e.g. https://app.example.com (only --dev allows %s by default)",
			name("LKTOKEN_ALLOWED_ORIGINS"), DevAllowedOrigin))
	}
	cfg.AllowedOrigins = origins

	cfg.Ops = buildOpsConfig(get, name, fail)
	cfg.Auth = buildAuthConfig(get, name, cfg.Ops, fail)
	cfg.RateLimit = buildRateLimitConfig(get, name, fail)

	if cfg.Listen == "" && listenErr == nil {
		fail(fmt.Errorf("%s is empty: set an address such as 127.0.0.1:8080 or :8080", name("LKTOKEN_LISTEN")))
	}
	switch cfg.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		fail(fmt.Errorf("%s %q: must be debug, info, warn or error", name("LKTOKEN_LOG_LEVEL"), cfg.LogLevel))
	}
	switch cfg.LogFormat {
	case "json", "text":
	default:
		fail(fmt.Errorf("%s %q: must be json or text", name("LKTOKEN_LOG_FORMAT"), cfg.LogFormat))
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// defaultListen is LKTOKEN_LISTEN's default.
const defaultListen = "127.0.0.1:8080"

// resolveListen returns the address to listen on: LKTOKEN_LISTEN, or
// 127.0.0.1 at FUNCTIONS_CUSTOMHANDLER_PORT when the Azure Functions host
// runs lktoken as its custom handler (the host forwards requests to that
// port on the loopback interface).
func resolveListen(get, name func(env string) string) (string, error) {
	port := get("FUNCTIONS_CUSTOMHANDLER_PORT")
	if port == "" {
		return get("LKTOKEN_LISTEN"), nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT %q: must be a TCP port from 1 to 65535 (the Azure Functions host sets it)", port)
	}
	if l := get("LKTOKEN_LISTEN"); l != defaultListen {
		return "", fmt.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT %s and %s %q are both set: under Azure Functions the host chooses the port; leave %s unset", port, name("LKTOKEN_LISTEN"), l, name("LKTOKEN_LISTEN"))
	}
	return "127.0.0.1:" + port, nil
}

// ListenAddr returns the address a server started with args and getenv
// listens on, reading only --listen, LKTOKEN_LISTEN and
// FUNCTIONS_CUSTOMHANDLER_PORT: what `lktoken healthcheck` probes, which must
// work whatever else the server's configuration holds.
func ListenAddr(args []string, getenv func(string) string) (string, error) {
	fs := flag.NewFlagSet("lktoken healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "", "")
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%w (lktoken healthcheck takes only --listen)", err)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q: lktoken healthcheck takes only --listen", fs.Arg(0))
	}
	addr, err := resolveListen(func(env string) string {
		switch {
		case env == "LKTOKEN_LISTEN" && *listen != "":
			return *listen
		case env == "LKTOKEN_LISTEN" && getenv(env) == "":
			return defaultListen
		}
		return getenv(env)
	}, func(env string) string {
		if env == "LKTOKEN_LISTEN" && *listen != "" {
			return "--listen"
		}
		return env
	})
	if err == nil && addr == "" {
		err = errors.New("LKTOKEN_LISTEN is empty")
	}
	return addr, err
}

// parseDelay is parseDuration that also accepts zero ("0", "0s").
func parseDelay(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil && d == 0 {
		return 0, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return 0, errors.New("must be 0 or a positive duration such as 5, 5s or 500ms")
	}
	return d, nil
}

// parseDuration accepts Go durations ("90s", "1h") and bare seconds ("3600").
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("must be a positive duration such as 3600, 90s or 1h")
	}
	return d, nil
}

func checkServerURL(name, s string) error {
	if s == "" {
		return errors.New("LIVEKIT_URL is not set: set it to the LiveKit server URL clients connect to, e.g. wss://my-project.livekit.cloud (or run with --dev)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%s %q: must be an absolute ws://, wss://, http:// or https:// URL", name, s)
	}
	return nil
}

// DevAllowedOrigin is the origin --dev allows when none is configured: the
// Angular dev server's.
const DevAllowedOrigin = "http://localhost:4200"

// parseOrigins reads a comma-separated list of origins, written as browsers
// send them: scheme://host[:port], lower case, without the scheme's default
// port (https://app.example.com:443 becomes https://app.example.com, which is
// what a browser sends).
func parseOrigins(name, s string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			return nil, fmt.Errorf("%s: \"*\" is not allowed; list the frontend origins, e.g. https://app.example.com", name)
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("%s: %q is not an origin; write scheme://host[:port], e.g. https://app.example.com", name, o)
		}
		host := strings.ToLower(strings.TrimSuffix(u.Host, ":"))
		if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
			host = strings.TrimSuffix(host, ":"+p)
		}
		if o := u.Scheme + "://" + host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins, nil
}

// DefaultTokenEndpointPath is where LiveKit's standard token endpoint is served
// unless configured otherwise.
const DefaultTokenEndpointPath = "/api/token"

// parseEndpointPath accepts one exact path ("/api/token") that cannot shadow
// another route; "off" and "" disable the endpoint.
func parseEndpointPath(name, p string) (string, error) {
	if p == "" || p == "off" {
		return "", nil
	}
	u, err := url.Parse(p)
	bad := err != nil || u.Path != p || !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") ||
		strings.ContainsAny(p, "{} \t") || strings.Contains(p, "//")
	if bad {
		return "", fmt.Errorf("%s %q: must be a plain absolute path without a trailing slash, such as /api/token (or off)", name, p)
	}
	if p == "/healthz" || strings.HasPrefix(p, "/lktoken.") || strings.HasPrefix(p, "/grpc.") {
		return "", fmt.Errorf("%s %q: collides with another lktoken route; choose another path such as /api/token", name, p)
	}
	return p, nil
}

// parseAgents reads the agent allowlist. Names are matched exactly, as LiveKit
// matches them against a worker's registered agent_name.
func parseAgents(name, s string) ([]string, error) {
	var agents []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.ContainsFunc(a, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("%s: %q contains a control character", name, a)
		}
		if !slices.Contains(agents, a) {
			agents = append(agents, a)
		}
	}
	return agents, nil
}

// normalizeBoolFlag rewrites "--name" to "--name=true" so the switch works
// while still being a string setting backed by its variable.
func normalizeBoolFlag(args []string, name string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "-"+name || a == "--"+name {
			a = "--" + name + "=true"
		}
		out[i] = a
	}
	return out
}

func printUsage(out io.Writer) {
	fmt.Fprint(out, `lktoken mints LiveKit access tokens over Connect, gRPC and gRPC-Web, and at
LiveKit's standard token endpoint (POST /api/token, TokenSource.endpoint).

Usage:
  lktoken [flags]

Every setting is a flag, an environment variable, or both; a flag wins.

`)
	for _, s := range settings {
		name := "(environment only)"
		if s.flag != "" {
			name = "--" + s.flag
		}
		def := ""
		if s.def != "" {
			def = " (default " + s.def + ")"
		}
		fmt.Fprintf(out, "  %-22s $%s%s\n      %s\n", name, s.env, def, s.help)
	}
	fmt.Fprintf(out, "  %-22s print the version (module version and commit) and exit\n", "--version")
	fmt.Fprint(out, `
Examples:
  lktoken --dev
  LIVEKIT_API_KEY=APIxxx LIVEKIT_API_SECRET_FILE=/run/secrets/lk LIVEKIT_URL=wss://lk.example.com lktoken --listen :8080
`)
}
