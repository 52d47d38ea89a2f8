package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lktoken/lktoken/service/keys"
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

// WithDefaults fills the zero settings with the defaults.
func (o OpsConfig) WithDefaults() OpsConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 5*time.Second)
	def(&o.ReadTimeout, 15*time.Second)
	def(&o.WriteTimeout, 15*time.Second)
	def(&o.IdleTimeout, 120*time.Second)
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = 16 << 10
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = 250
	}
	return o
}

// buildOpsConfig reads the settings of OpsConfig; problems go to fail.
func buildOpsConfig(get, name func(env string) string, fail func(error)) OpsConfig {
	var o OpsConfig
	for _, d := range []struct {
		env string
		dst *time.Duration
	}{
		{"LKTOKEN_READ_HEADER_TIMEOUT", &o.ReadHeaderTimeout},
		{"LKTOKEN_READ_TIMEOUT", &o.ReadTimeout},
		{"LKTOKEN_WRITE_TIMEOUT", &o.WriteTimeout},
		{"LKTOKEN_IDLE_TIMEOUT", &o.IdleTimeout},
	} {
		v, err := time.ParseDuration(get(d.env))
		if err != nil || v <= 0 || v > time.Hour {
			fail(fmt.Errorf("%s %q: must be a duration from 1ms to 1h, such as 5s", name(d.env), get(d.env)))
			continue
		}
		*d.dst = v
	}
	for _, n := range []struct {
		env      string
		dst      *int
		min, max int
	}{
		{"LKTOKEN_MAX_HEADER_BYTES", &o.MaxHeaderBytes, 4096, 1 << 20},
		{"LKTOKEN_MAX_CONCURRENT_STREAMS", &o.MaxConcurrentStreams, 1, 10000},
	} {
		v, err := strconv.Atoi(get(n.env))
		if err != nil || v < n.min || v > n.max {
			fail(fmt.Errorf("%s %q: must be a whole number from %d to %d", name(n.env), get(n.env), n.min, n.max))
			continue
		}
		*n.dst = v
	}
	o.MetricsListen = get("LKTOKEN_METRICS_LISTEN")

	token := get("LKTOKEN_BEARER_TOKEN")
	o.BearerTokenFile = get("LKTOKEN_BEARER_TOKEN_FILE")
	if o.BearerTokenFile != "" && token != "" {
		fail(errors.New("both LKTOKEN_BEARER_TOKEN and LKTOKEN_BEARER_TOKEN_FILE are set: set only one"))
	} else if o.BearerTokenFile != "" {
		var err error
		if token, err = ReadBearerTokenFile(o.BearerTokenFile); err != nil {
			fail(err)
		}
	} else if err := checkBearerToken(token); err != nil {
		fail(err)
	}
	o.BearerToken = Secret(token)

	tracing, err := strconv.ParseBool(get("LKTOKEN_TRACING"))
	if err != nil {
		fail(fmt.Errorf("%s %q: must be true or false", name("LKTOKEN_TRACING"), get("LKTOKEN_TRACING")))
	}
	o.Tracing = tracing
	return o
}

// ReadBearerTokenFile reads and checks LKTOKEN_BEARER_TOKEN_FILE.
func ReadBearerTokenFile(path string) (string, error) {
	token, err := keys.ReadFile("LKTOKEN_BEARER_TOKEN_FILE", path)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", fmt.Errorf("LKTOKEN_BEARER_TOKEN_FILE %s is empty", path)
	}
	return token, checkBearerToken(token)
}

// checkBearerToken refuses a weak token or one that cannot travel in a header.
func checkBearerToken(token string) error {
	if token == "" {
		return nil
	}
	var errs []error
	if why := keys.WeakSecret(token); why != "" {
		errs = append(errs, fmt.Errorf("LKTOKEN_BEARER_TOKEN is too weak: %s (generate one with `openssl rand -base64 48`)", why))
	}
	if strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r > '~' }) {
		errs = append(errs, errors.New("LKTOKEN_BEARER_TOKEN: must be visible ASCII without spaces (it travels in an HTTP header)"))
	}
	return errors.Join(errs...)
}
