// Package config reads lktoken's settings from flags and environment into a
// [Config], checks them, and names in every error exactly what the user set:
// the flag (--max-lifetime), the variable (LKTOKEN_MAX_LIFETIME), or the file
// variable the value came from (LIVEKIT_API_SECRET_FILE).
//
// Every setting is declared once, in specs (settings.go): its flag, its
// variable, the Config field it fills with its typed default and parser
// (bounds included, which --help shows), and the field id its errors go by.
// Domain packages never spell a flag or a variable: they report problems as
// [setting.Error]s naming their own fields (keys.FieldSecretFile,
// mint.FieldMaxLifetime), and [Config.Explain] renders those with the names
// the user typed. A spec that gives no field id gets config's own.
//
// To add a setting:
//  1. add its field to Config (or to the struct of the package that uses it,
//     which Config holds);
//  2. add one spec to specs: flag, variable, value (text, trimmed, oneOf,
//     boolean, whole, duration or list with a parser), help; give it the
//     domain package's field id if that package's errors name it;
//  3. use the field where the server is composed.
//
// A check that spans several settings goes in (*loader).check, naming each
// by l.field(&c.Field).
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
	"github.com/lktoken/lktoken/service/setting"
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
	// Ops are the limits, timeouts and operations settings (ops.go).
	Ops OpsConfig
	// RateLimit is the per-caller rate limit (ratelimit.go).
	RateLimit RateLimitConfig
	// Auth is caller authentication by OpenID Connect and the room policy
	// (auth.go).
	Auth AuthConfig
	// Identity is how a verified caller becomes a LiveKit identity
	// (identity.go).
	Identity IdentityConfig
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

	// functionsPort is FUNCTIONS_CUSTOMHANDLER_PORT (see checkListen).
	functionsPort string
	// names maps each field to what the user typed; nil (a Config made by
	// hand) names every setting by its variable.
	names map[setting.Field]string
}

// ErrVersion is returned by LoadConfig for --version: the caller prints the
// version and exits 0.
var ErrVersion = errors.New("version requested")

// LoadConfig reads flags from args and variables through getenv. A flag wins
// over its variable, which wins over the default. It returns flag.ErrHelp after
// printing usage to out when asked for --help, and ErrVersion for --version.
// Every error names what to set, as the user set it: the flag when one was
// given, otherwise the variable.
func LoadConfig(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var cfg Config
	l := &loader{cfg: &cfg, specs: specs(&cfg)}
	fs := flag.NewFlagSet("lktoken", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are returned, usage printed on --help only
	fs.Usage = func() {}
	for _, s := range l.specs {
		if e := getenv(s.env); e != "" {
			s.raw, s.origin = e, fromEnv
		}
		if s.flag != "" {
			fs.Var(s, s.flag, s.help)
		}
	}
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(out, l.specs)
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
	cfg.names = map[setting.Field]string{}
	for _, s := range l.specs {
		cfg.names[s.id()] = s.name()
	}
	l.parse()
	if len(l.errs) == 0 {
		l.check()
	}
	if err := errors.Join(l.errs...); err != nil {
		return Config{}, cfg.Explain(err)
	}
	return cfg, nil
}

// Name is how errors call the setting of field f: its flag when the user
// gave the flag, otherwise its variable.
func (c Config) Name(f setting.Field) string {
	if n, ok := c.names[f]; ok {
		return n
	}
	if n, ok := variables[f]; ok {
		return n
	}
	return string(f)
}

// Explain renders err's [setting.Error]s with the names the user knows, as
// [Config.Name] gives them: for a reload's errors, say, which the domain
// packages report by field.
func (c Config) Explain(err error) error { return setting.Render(err, c.Name) }

// variables maps every field to its variable: the names of a Config made by
// hand, and of settings the user did not set.
var variables = func() map[setting.Field]string {
	m := map[setting.Field]string{}
	for _, s := range specs(&Config{}) {
		m[s.id()] = s.env
	}
	return m
}()

// loader reads the specs bound to cfg and gathers every error, so that one
// start reports all of them.
type loader struct {
	cfg   *Config
	specs []*spec
	errs  []error
}

// fail records a problem; format and args as for setting.Errorf.
func (l *loader) fail(format string, args ...any) {
	l.errs = append(l.errs, setting.Errorf(format, args...))
}

// spec returns the spec that fills dst, a pointer into l.cfg.
func (l *loader) spec(dst any) *spec {
	for _, s := range l.specs {
		if s.value.dst() == dst {
			return s
		}
	}
	panic(fmt.Sprintf("config: no setting fills %T", dst))
}

// field is the field id of the setting that fills dst.
func (l *loader) field(dst any) setting.Field { return l.spec(dst).id() }

// set reports whether the user set the setting that fills dst.
func (l *loader) set(dst any) bool { return l.spec(dst).origin != fromDefault }

// parse stores every default, then every value the user set.
func (l *loader) parse() {
	for _, s := range l.specs {
		s.value.reset()
		if s.origin == fromDefault {
			continue
		}
		err := s.value.parse(s.raw)
		var se *setting.Error
		var item badItem
		switch {
		case err == nil:
		case errors.As(err, &se):
			l.errs = append(l.errs, err) // it names the field itself
		case s.secret:
			l.fail("%s: %s", s.id(), err)
		case errors.As(err, &item):
			l.fail("%s: %s", s.id(), err)
		default:
			l.fail("%s %q: %s", s.id(), s.raw, err)
		}
	}
}

// badItem is a parse error that quotes the offending part of a list
// itself, so the whole value is not quoted again.
type badItem string

func (b badItem) Error() string { return string(b) }

// check is what spans several settings, once each parses.
func (l *loader) check() {
	c := l.cfg
	c.Keys.Dev = c.Dev
	l.checkListen()
	if set, err := c.Keys.Load(); err != nil {
		l.errs = append(l.errs, err)
	} else {
		c.Credentials, c.KeyIDs = set.Signing, set.IDs
	}
	if c.Dev && c.Policy.ServerURL == "" {
		c.Policy.ServerURL = keys.DevServerURL
	}
	if err := checkServerURL(c.Policy.ServerURL); err != nil {
		l.fail("%s %s", l.field(&c.Policy.ServerURL), err)
	}
	l.checkLifetimes()
	switch {
	case len(c.AllowedOrigins) == 0 && c.Dev:
		c.AllowedOrigins = []string{DevAllowedOrigin}
	case len(c.AllowedOrigins) == 0:
		l.fail("%s is not set: list the browser origins that may call lktoken, e.g. https://app.example.com (only %s allows %s by default)",
			l.field(&c.AllowedOrigins), l.field(&c.Dev), DevAllowedOrigin)
	}
	l.checkBearerToken()
	l.checkAuth()
	l.checkIdentity()
	l.checkRateLimit()
}

// checkListen resolves the address to listen on: LKTOKEN_LISTEN, or
// 127.0.0.1 at FUNCTIONS_CUSTOMHANDLER_PORT when the Azure Functions host
// runs lktoken as its custom handler (the host forwards requests to that
// port on the loopback interface).
func (l *loader) checkListen() {
	c := l.cfg
	listen, port := l.field(&c.Listen), l.field(&c.functionsPort)
	if c.functionsPort == "" {
		if c.Listen == "" {
			l.fail("%s is empty: set an address such as 127.0.0.1:8080 or :8080", listen)
		}
		return
	}
	if n, err := strconv.Atoi(c.functionsPort); err != nil || n < 1 || n > 65535 {
		l.fail("%s %q: must be a TCP port from 1 to 65535 (the Azure Functions host sets it)", port, c.functionsPort)
		return
	}
	if l.set(&c.Listen) {
		l.fail("%s %s and %s %q are both set: under Azure Functions the host chooses the port; leave %s unset", port, c.functionsPort, listen, c.Listen, listen)
		return
	}
	c.Listen = "127.0.0.1:" + c.functionsPort
}

// checkLifetimes fits the default lifetime into the bounds the user set:
// when only a bound is set (--max-lifetime 30m), a default outside it
// becomes that bound; a default the user set outside the bounds is refused,
// naming both. mint.Policy.Check then checks the policy as a whole.
func (l *loader) checkLifetimes() {
	p := &l.cfg.Policy
	def, lo, hi := l.field(&p.DefaultLifetime), l.field(&p.MinLifetime), l.field(&p.MaxLifetime)
	switch {
	case p.MinLifetime > p.MaxLifetime:
		l.fail("%s %s is longer than %s %s: lower %s or raise %s", lo, short(p.MinLifetime), hi, short(p.MaxLifetime), lo, hi)
		return
	case !l.set(&p.DefaultLifetime):
		p.DefaultLifetime = min(max(p.DefaultLifetime, p.MinLifetime), p.MaxLifetime)
	case p.DefaultLifetime > p.MaxLifetime:
		l.fail("%s %s is longer than %s %s: lower %s or raise %s", def, short(p.DefaultLifetime), hi, short(p.MaxLifetime), def, hi)
		return
	case p.DefaultLifetime < p.MinLifetime:
		l.fail("%s %s is shorter than %s %s: raise %s or lower %s", def, short(p.DefaultLifetime), lo, short(p.MinLifetime), def, lo)
		return
	}
	if err := p.Check(); err != nil {
		l.errs = append(l.errs, err)
	}
}

// ListenAddr returns the address a server started with args and getenv
// listens on, reading only --listen, LKTOKEN_LISTEN and
// FUNCTIONS_CUSTOMHANDLER_PORT: what `lktoken healthcheck` probes, which must
// work whatever else the server's configuration holds.
func ListenAddr(args []string, getenv func(string) string) (string, error) {
	var cfg Config
	l := &loader{cfg: &cfg, specs: specs(&cfg)}
	listen, port := l.spec(&cfg.Listen), l.spec(&cfg.functionsPort)
	l.specs = []*spec{listen, port}
	fs := flag.NewFlagSet("lktoken healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range l.specs {
		if e := getenv(s.env); e != "" {
			s.raw, s.origin = e, fromEnv
		}
	}
	fs.Var(listen, listen.flag, listen.help)
	if err := fs.Parse(args); err != nil {
		return "", fmt.Errorf("%w (lktoken healthcheck takes only --%s)", err, listen.flag)
	}
	if fs.NArg() > 0 {
		return "", fmt.Errorf("unexpected argument %q: lktoken healthcheck takes only --%s", fs.Arg(0), listen.flag)
	}
	cfg.names = map[setting.Field]string{listen.id(): listen.name(), port.id(): port.name()}
	l.parse()
	l.checkListen()
	if err := errors.Join(l.errs...); err != nil {
		return "", cfg.Explain(err)
	}
	return cfg.Listen, nil
}

// checkServerURL says what is wrong with the LiveKit URL s, after its name.
func checkServerURL(s string) error {
	if s == "" {
		return errors.New("is not set: set it to the LiveKit server URL clients connect to, e.g. wss://my-project.livekit.cloud (or run with --dev)")
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%q: must be an absolute ws://, wss://, http:// or https:// URL", s)
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
func parseOrigins(s string) ([]string, error) {
	var origins []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			return nil, badItem(`"*" is not allowed; list the frontend origins, e.g. https://app.example.com`)
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, badItem(fmt.Sprintf("%q is not an origin; write scheme://host[:port], e.g. https://app.example.com", o))
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

// servedPaths are the exact paths lktoken serves besides the token
// endpoint, and servedPrefixes the prefixes of its RPC routes (the Connect
// service and gRPC reflection): the token endpoint must not shadow any.
var (
	servedPaths    = []string{"/healthz", "/readyz", "/metrics"}
	servedPrefixes = []string{"/lktoken.", "/grpc."}
)

// parseEndpointPath accepts one exact path ("/api/token") that cannot shadow
// another route; "off" and "" disable the endpoint.
func parseEndpointPath(p string) (string, error) {
	if p == "" || p == "off" {
		return "", nil
	}
	u, err := url.Parse(p)
	bad := err != nil || u.Path != p || !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") ||
		strings.ContainsAny(p, "{} \t") || strings.Contains(p, "//")
	if bad {
		return "", errors.New("must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)")
	}
	if slices.Contains(servedPaths, p) || slices.ContainsFunc(servedPrefixes, func(pre string) bool { return strings.HasPrefix(p, pre) }) {
		return "", errors.New("collides with another lktoken route; choose another path such as /api/token")
	}
	return p, nil
}

// parseAgents reads the agent allowlist. Names are matched exactly, as LiveKit
// matches them against a worker's registered agent_name.
func parseAgents(s string) ([]string, error) {
	var agents []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if strings.ContainsFunc(a, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, badItem(fmt.Sprintf("%q contains a control character", a))
		}
		if !slices.Contains(agents, a) {
			agents = append(agents, a)
		}
	}
	return agents, nil
}

func printUsage(out io.Writer, specs []*spec) {
	fmt.Fprint(out, `lktoken mints LiveKit access tokens over Connect, gRPC and gRPC-Web, and at
LiveKit's standard token endpoint (POST /api/token, TokenSource.endpoint).

Usage:
  lktoken [flags]
  lktoken healthcheck [--listen ADDR]
      GET /readyz of the server these settings start; exit 0 when it is
      ready, 1 otherwise (the probe of a shell-less container image)

Every setting is a flag, an environment variable, or both; a flag wins.
Durations are Go's (90s, 1h) or whole seconds (3600).

`)
	for _, s := range specs {
		name := "(environment only)"
		if s.flag != "" {
			name = "--" + s.flag
		}
		fmt.Fprintf(out, "  %-22s $%s%s\n      %s\n", name, s.env, s.value.describe(), s.help)
	}
	fmt.Fprintf(out, "  %-22s print the version (module version and commit) and exit\n", "--version")
	fmt.Fprint(out, `
Examples:
  lktoken --dev
  LIVEKIT_API_KEY=APIxxx LIVEKIT_API_SECRET_FILE=/run/secrets/lk LIVEKIT_URL=wss://lk.example.com \
    lktoken --listen :8080 --allowed-origins https://app.example.com
`)
}
