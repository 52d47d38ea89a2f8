package config

import (
	"errors"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/setting"
)

// OpsConfig holds the limits, timeouts and operations settings. The zero
// value means "defaults" (see WithDefaults), so tests may leave it empty.
type OpsConfig struct {
	// ReadHeaderTimeout bounds the time to read request headers (slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the time to read a whole request.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the headers to the end of the answer.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections that stay idle this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's header block.
	MaxHeaderBytes int
	// MaxConcurrentStreams caps open HTTP/2 streams per connection.
	MaxConcurrentStreams int
	// MetricsListen is the address of the Prometheus endpoint; "" is off.
	MetricsListen string
	// BearerToken, when set, is required from every API caller.
	BearerToken Secret
	// BearerTokenFile, when set, held BearerToken; it is read again on SIGHUP.
	BearerTokenFile string
	// Tracing turns on OpenTelemetry spans for every RPC.
	Tracing bool
}

// Secret is a string that never prints.
type Secret string

// String hides the value.
func (Secret) String() string { return "[redacted]" }

// GoString hides the value.
func (Secret) GoString() string { return "[redacted]" }

// WithDefaults fills the zero settings with their defaults: the ones specs
// declares, so that a Config made by hand serves like a loaded one.
func (o OpsConfig) WithDefaults() OpsConfig {
	var d Config
	for _, s := range specs(&d) {
		s.value.reset()
	}
	def := func(v *time.Duration, dv time.Duration) {
		if *v == 0 {
			*v = dv
		}
	}
	def(&o.ReadHeaderTimeout, d.Ops.ReadHeaderTimeout)
	def(&o.ReadTimeout, d.Ops.ReadTimeout)
	def(&o.WriteTimeout, d.Ops.WriteTimeout)
	def(&o.IdleTimeout, d.Ops.IdleTimeout)
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = d.Ops.MaxHeaderBytes
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = d.Ops.MaxConcurrentStreams
	}
	return o
}

// checkBearerToken reads the bearer token from its file when one is named
// and checks it, naming the setting it came from.
func (l *loader) checkBearerToken() {
	o := &l.cfg.Ops
	token, file := l.field(&o.BearerToken), l.field(&o.BearerTokenFile)
	switch {
	case o.BearerTokenFile != "" && o.BearerToken != "":
		l.fail("both %s and %s are set: set only one", token, file)
	case o.BearerTokenFile != "":
		t, err := ReadBearerTokenFile(o.BearerTokenFile)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		o.BearerToken = Secret(t)
	default:
		if err := checkBearerToken(token, string(o.BearerToken)); err != nil {
			l.errs = append(l.errs, err)
		}
	}
}

// fieldBearerTokenFile is the field of LKTOKEN_BEARER_TOKEN_FILE, which
// ReadBearerTokenFile's errors name.
var fieldBearerTokenFile = func() setting.Field {
	var c Config
	return (&loader{cfg: &c, specs: specs(&c)}).field(&c.Ops.BearerTokenFile)
}()

// ReadBearerTokenFile reads and checks the bearer token file at path (at
// start and on SIGHUP). Its errors name the file's setting: render them
// with [Config.Explain].
func ReadBearerTokenFile(path string) (string, error) {
	token, err := keys.ReadFile(fieldBearerTokenFile, path)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", setting.Errorf("%s %s is empty", fieldBearerTokenFile, path)
	}
	return token, checkBearerToken(fieldBearerTokenFile, token)
}

// checkBearerToken refuses a weak token or one that cannot travel in a
// header; field is the setting that held it.
func checkBearerToken(field setting.Field, token string) error {
	if token == "" {
		return nil
	}
	var errs []error
	if why := keys.WeakSecret(token); why != "" {
		errs = append(errs, setting.Errorf("%s is too weak: %s (generate one with `openssl rand -base64 48`)", field, why))
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		errs = append(errs, setting.Errorf("%s: must be visible ASCII without spaces (it travels in an HTTP header)", field))
	}
	return errors.Join(errs...)
}
