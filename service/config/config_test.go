package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
)

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

var prodEnv = map[string]string{
	"LIVEKIT_API_KEY":    "APIprod",
	"LIVEKIT_API_SECRET": "prod-secret-0123456789abcdefghijk",
	"LIVEKIT_URL":        "wss://lk.example.com",
	// Required outside --dev.
	"LKTOKEN_ALLOWED_ORIGINS": "https://app.example.com",
}

func withEnv(extra map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range prodEnv {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(nil, envOf(prodEnv), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dev || cfg.Listen != "127.0.0.1:8080" || cfg.MaxRequestBytes != 65536 || cfg.ShutdownTimeout != 15*time.Second {
		t.Errorf("cfg = %+v", cfg)
	}
	if got := strings.Join(cfg.AllowedOrigins, ","); got != "https://app.example.com" {
		t.Errorf("origins = %q", got)
	}
	want := mint.Policy{ServerURL: "wss://lk.example.com", DefaultLifetime: time.Hour, MinLifetime: time.Minute, MaxLifetime: 24 * time.Hour,
		MaxMetadataBytes: 4096, MaxAttributesBytes: 4096}
	if !reflect.DeepEqual(cfg.Policy, want) {
		t.Errorf("policy = %+v, want %+v", cfg.Policy, want)
	}
}

func TestLoadConfigRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want []string // every line must appear in the error
	}{
		{"nothing set", map[string]string{}, nil, []string{
			"LIVEKIT_API_KEY is not set: set it to your LiveKit API key (or run with --dev for local development)",
			"LIVEKIT_API_SECRET is not set: set it (or LIVEKIT_API_SECRET_FILE, a file holding it) to your LiveKit API secret (or run with --dev for local development)",
			"LIVEKIT_URL is not set: set it to the LiveKit server URL clients connect to, e.g. wss://my-project.livekit.cloud (or run with --dev)",
		}},
		{"no key", withEnv(map[string]string{"LIVEKIT_API_KEY": ""}), nil, []string{"LIVEKIT_API_KEY is not set"}},
		{"no secret", withEnv(map[string]string{"LIVEKIT_API_SECRET": ""}), nil, []string{"LIVEKIT_API_SECRET is not set"}},
		{"short secret", withEnv(map[string]string{"LIVEKIT_API_SECRET": "hunter2"}), nil, []string{
			"LIVEKIT_API_SECRET is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"}},
		{"31-character secret", withEnv(map[string]string{"LIVEKIT_API_SECRET": strings.Repeat("x", 31)}), nil, []string{"is too weak: 31 characters, it must be at least 32"}},
		{"bad url", withEnv(map[string]string{"LIVEKIT_URL": "lk.example.com"}), nil, []string{`LIVEKIT_URL "lk.example.com": must be an absolute ws://, wss://, http:// or https:// URL`}},
		{"wildcard origin", withEnv(map[string]string{"LKTOKEN_ALLOWED_ORIGINS": "*"}), nil, []string{`LKTOKEN_ALLOWED_ORIGINS: "*" is not allowed`}},
		{"origin with path", withEnv(nil), []string{"--allowed-origins", "https://a.example.com/app"}, []string{`"https://a.example.com/app" is not an origin`}},
		{"lifetime below contract", withEnv(map[string]string{"LKTOKEN_MIN_LIFETIME": "30s"}), nil, []string{`LKTOKEN_MIN_LIFETIME "30s": must be a duration from 1m to 24h, such as 1m`}},
		{"lifetime below contract flag", withEnv(nil), []string{"--min-lifetime", "30s"}, []string{`--min-lifetime "30s": must be a duration from 1m to 24h, such as 1m`}},
		{"bounds crossed", withEnv(map[string]string{"LKTOKEN_MIN_LIFETIME": "2h"}), []string{"--max-lifetime", "1h"}, []string{"LKTOKEN_MIN_LIFETIME 2h is longer than --max-lifetime 1h: lower LKTOKEN_MIN_LIFETIME or raise --max-lifetime"}},
		{"default above the max by env", withEnv(map[string]string{"LKTOKEN_DEFAULT_LIFETIME": "2h", "LKTOKEN_MAX_LIFETIME": "30m"}), nil, []string{"LKTOKEN_DEFAULT_LIFETIME 2h is longer than LKTOKEN_MAX_LIFETIME 30m: lower LKTOKEN_DEFAULT_LIFETIME or raise LKTOKEN_MAX_LIFETIME"}},
		{"default below the min", withEnv(nil), []string{"--default-lifetime", "5m", "--min-lifetime", "10m"}, []string{"--default-lifetime 5m is shorter than --min-lifetime 10m: raise --default-lifetime or lower --min-lifetime"}},
		{"default not whole seconds", withEnv(nil), []string{"--default-lifetime", "90500ms"}, []string{"lifetimes must be whole seconds (--default-lifetime, LKTOKEN_MIN_LIFETIME, LKTOKEN_MAX_LIFETIME)"}},
		{"bad duration", withEnv(map[string]string{"LKTOKEN_DEFAULT_LIFETIME": "soon"}), nil, []string{`LKTOKEN_DEFAULT_LIFETIME "soon": must be a duration from 1m to 24h, such as 1h`}},
		{"bad body cap", withEnv(map[string]string{"LKTOKEN_MAX_REQUEST_BYTES": "12"}), nil, []string{`LKTOKEN_MAX_REQUEST_BYTES "12": must be a whole number of bytes from 1024 to 16777216`}},
		// A value's error names where it came from: the flag, or the variable.
		{"bad log level flag", withEnv(nil), []string{"--log-level=loud"}, []string{`--log-level "loud": must be debug, info, warn or error`}},
		{"bad log level variable", withEnv(map[string]string{"LKTOKEN_LOG_LEVEL": "loud"}), nil, []string{`LKTOKEN_LOG_LEVEL "loud": must be debug, info, warn or error`}},
		{"bad duration flag", withEnv(nil), []string{"--default-lifetime", "soon"}, []string{`--default-lifetime "soon": must be a duration from 1m to 24h, such as 1h`}},
		{"bad timeout flag", withEnv(nil), []string{"--read-timeout", "0s"}, []string{`--read-timeout "0s": must be a duration from 1ms to 1h, such as 15s`}},
		{"bad dev flag", map[string]string{}, []string{"--dev=maybe"}, []string{`--dev "maybe": must be true or false`}},
		{"bad dev variable", map[string]string{"LKTOKEN_DEV": "maybe"}, nil, []string{`LKTOKEN_DEV "maybe": must be true or false`}},
		{"bad body cap flag", withEnv(nil), []string{"--max-request-bytes", "12"}, []string{`--max-request-bytes "12": must be a whole number of bytes from 1024 to 16777216`}},
		{"bad streams flag", withEnv(nil), []string{"--max-concurrent-streams", "0"}, []string{`--max-concurrent-streams "0": must be a whole number from 1 to 10000`}},
		{"Functions port and listen flag", withEnv(map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071"}), []string{"--listen", ":9000"}, []string{`FUNCTIONS_CUSTOMHANDLER_PORT 7071 and --listen ":9000" are both set: under Azure Functions the host chooses the port; leave --listen unset`}},
		{"Functions port and listen variable", withEnv(map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071", "LKTOKEN_LISTEN": ":9000"}), nil, []string{`FUNCTIONS_CUSTOMHANDLER_PORT 7071 and LKTOKEN_LISTEN ":9000" are both set: under Azure Functions the host chooses the port; leave LKTOKEN_LISTEN unset`}},
		{"dev variable with half the credentials", map[string]string{"LIVEKIT_API_KEY": "k", "LKTOKEN_DEV": "true"}, nil, []string{"LKTOKEN_DEV with only one of LIVEKIT_API_KEY and LIVEKIT_API_SECRET set"}},
		{"key flag with a keys file lacking it", withEnv(map[string]string{"LIVEKIT_API_SECRET": "", "LIVEKIT_API_KEY": ""}), []string{"--api-key", "nope", "--keys-file", "/nonexistent/keys.yaml"}, []string{"--keys-file: cannot read /nonexistent/keys.yaml: no such file or directory"}},
		{"bad origin flag", withEnv(nil), []string{"--allowed-origins", "*"}, []string{`--allowed-origins: "*" is not allowed`}},
		{"bad url flag", withEnv(nil), []string{"--livekit-url", "lk.example.com"}, []string{`--livekit-url "lk.example.com": must be an absolute ws://, wss://, http:// or https:// URL`}},
		{"default outside bounds by flag", withEnv(nil), []string{"--default-lifetime", "2h", "--max-lifetime", "30m"}, []string{"--default-lifetime 2h is longer than --max-lifetime 30m: lower --default-lifetime or raise --max-lifetime"}},
		{"unknown flag", withEnv(nil), []string{"--nosuch"}, []string{"flag provided but not defined: -nosuch (see lktoken --help)"}},
		{"stray argument", withEnv(nil), []string{"serve"}, []string{`unexpected argument "serve": lktoken takes only flags (see --help)`}},
		{"both secret sources", withEnv(map[string]string{"LIVEKIT_API_SECRET_FILE": "/nonexistent"}), nil, []string{"both LIVEKIT_API_SECRET and LIVEKIT_API_SECRET_FILE are set: set only one"}},
		{"dev with half the credentials", map[string]string{"LIVEKIT_API_KEY": "k"}, []string{"--dev"}, []string{"--dev with only one of LIVEKIT_API_KEY and LIVEKIT_API_SECRET set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadConfig(c.args, envOf(c.env), &bytes.Buffer{})
			if err == nil {
				t.Fatal("config accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not contain\n%s", err, w)
				}
			}
			if strings.Contains(err.Error(), c.env["LIVEKIT_API_SECRET"]) && c.env["LIVEKIT_API_SECRET"] != "" {
				t.Errorf("error reveals the secret: %s", err)
			}
		})
	}
}

func TestLoadConfigDevNeedsNothing(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig([]string{"--dev"}, envOf(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dev || cfg.Credentials != (keys.Credentials{APIKey: "devkey", APISecret: "secret"}) || cfg.Policy.ServerURL != "ws://localhost:7880" {
		t.Errorf("cfg = %+v", cfg)
	}
	// LKTOKEN_DEV=true does the same; explicit credentials win over the dev pair.
	cfg, err = LoadConfig(nil, envOf(map[string]string{"LKTOKEN_DEV": "true", "LIVEKIT_API_KEY": "k", "LIVEKIT_API_SECRET": "s"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Credentials != (keys.Credentials{APIKey: "k", APISecret: "s"}) {
		t.Errorf("credentials = %v", cfg.Credentials)
	}
}

func TestLoadConfigFlagsWinOverEnvironment(t *testing.T) {
	t.Parallel()
	env := withEnv(map[string]string{"LKTOKEN_LISTEN": "127.0.0.1:9000", "LKTOKEN_DEFAULT_LIFETIME": "600"})
	cfg, err := LoadConfig([]string{"--listen", "127.0.0.1:9001", "--allowed-origins", "https://a.example.com, http://localhost:3000"}, envOf(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9001" || cfg.Policy.DefaultLifetime != 10*time.Minute {
		t.Errorf("listen %q default %s", cfg.Listen, cfg.Policy.DefaultLifetime)
	}
	if got := strings.Join(cfg.AllowedOrigins, " "); got != "https://a.example.com http://localhost:3000" {
		t.Errorf("origins = %q", got)
	}
}

func TestLoadConfigSecretFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret")
	secret := "file-secret-0123456789abcdefghijklmnopqrs"
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := withEnv(map[string]string{"LIVEKIT_API_SECRET": "", "LIVEKIT_API_SECRET_FILE": path})
	cfg, err := LoadConfig(nil, envOf(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Credentials.APISecret != secret {
		t.Errorf("secret from file not read (len %d)", len(cfg.Credentials.APISecret))
	}
	env["LIVEKIT_API_SECRET_FILE"] = filepath.Join(t.TempDir(), "missing")
	_, err = LoadConfig(nil, envOf(env), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LIVEKIT_API_SECRET_FILE: cannot read") {
		t.Errorf("err = %v", err)
	}
}

func TestLoadConfigHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, err := LoadConfig([]string{"--help"}, envOf(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	var c Config
	for _, s := range specs(&c) {
		if !strings.Contains(out.String(), "$"+s.env) || (s.flag != "" && !strings.Contains(out.String(), "--"+s.flag)) {
			t.Errorf("--help does not document %s / --%s", s.env, s.flag)
		}
	}
}

// Outside --dev the allowed origins must be set; --dev allows the Angular dev
// server's when none is set. Origins are kept as browsers send them.
func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_ALLOWED_ORIGINS": ""})), &bytes.Buffer{})
	want := "LKTOKEN_ALLOWED_ORIGINS is not set: list the browser origins that may call lktoken, e.g. https://app.example.com (only --dev allows http://localhost:4200 by default)"
	if err == nil || err.Error() != want {
		t.Errorf("unset: err = %v\nwant %s", err, want)
	}
	_, err = LoadConfig([]string{"--allowed-origins", " , "}, envOf(prodEnv), &bytes.Buffer{})
	if want := strings.Replace(want, "LKTOKEN_ALLOWED_ORIGINS", "--allowed-origins", 1); err == nil || err.Error() != want {
		t.Errorf("empty flag: err = %v\nwant %s", err, want)
	}
	cfg, err := LoadConfig([]string{"--dev"}, envOf(nil), &bytes.Buffer{})
	if err != nil || strings.Join(cfg.AllowedOrigins, ",") != "http://localhost:4200" {
		t.Errorf("dev: %v %q", err, cfg.AllowedOrigins)
	}
	cfg, err = LoadConfig([]string{"--dev", "--allowed-origins", "http://localhost:3000"}, envOf(nil), &bytes.Buffer{})
	if err != nil || strings.Join(cfg.AllowedOrigins, ",") != "http://localhost:3000" {
		t.Errorf("dev with origins: %v %q", err, cfg.AllowedOrigins)
	}
	for in, want := range map[string]string{
		"https://app.example.com:443":                         "https://app.example.com",
		"http://app.example.com:80, http://app.example.com":   "http://app.example.com",
		"https://App.Example.COM:8443/":                       "https://app.example.com:8443",
		"http://[::1]:80,https://[::1]:443,http://[::1]:8080": "http://[::1],https://[::1],http://[::1]:8080",
		"https://app.example.com:80":                          "https://app.example.com:80",
	} {
		cfg, err := LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_ALLOWED_ORIGINS": in})), &bytes.Buffer{})
		if got := strings.Join(cfg.AllowedOrigins, ","); err != nil || got != want {
			t.Errorf("%q: %v, origins %q, want %q", in, err, got, want)
		}
	}
}

// A bound alone moves the default lifetime into it: --max-lifetime 30m must
// not blame a default the user never set.
func TestDefaultLifetimeFollowsABound(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		env  map[string]string
		want time.Duration
	}{
		{[]string{"--max-lifetime", "30m"}, nil, 30 * time.Minute},
		{nil, map[string]string{"LKTOKEN_MAX_LIFETIME": "30m"}, 30 * time.Minute},
		{[]string{"--min-lifetime", "2h"}, nil, 2 * time.Hour},
		{nil, map[string]string{"LKTOKEN_MIN_LIFETIME": "2h"}, 2 * time.Hour},
		{[]string{"--max-lifetime", "2h"}, nil, time.Hour},                                      // inside: unchanged
		{[]string{"--max-lifetime", "30m", "--default-lifetime", "10m"}, nil, 10 * time.Minute}, // set: kept
	} {
		cfg, err := LoadConfig(c.args, envOf(withEnv(c.env)), &bytes.Buffer{})
		if err != nil || cfg.Policy.DefaultLifetime != c.want {
			t.Errorf("%v %v: %v, default %s, want %s", c.args, c.env, err, cfg.Policy.DefaultLifetime, c.want)
		}
	}
}

// Every setting is documented for users: its variable (and flag, if any) in
// README.md or docs/, where --help points.
func TestDocsListEverySetting(t *testing.T) {
	t.Parallel()
	var docs strings.Builder
	files, _ := filepath.Glob("../../docs/*.md")
	for _, f := range append(files, "../../README.md") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs.Write(b)
	}
	var c Config
	for _, s := range specs(&c) {
		if !strings.Contains(docs.String(), "`"+s.env+"`") {
			t.Errorf("%s is in no document", s.env)
		}
		if s.flag != "" && !strings.Contains(docs.String(), "`--"+s.flag+"`") {
			t.Errorf("--%s is in no document", s.flag)
		}
	}
}

// A secret's error names the setting that held it as the user set it: the
// file variable when it came from a file, the flag when a flag named the
// file. A Config made by hand names variables.
func TestSecretErrorsNameTheirSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	weak := filepath.Join(dir, "weak")
	keysFile := filepath.Join(dir, "keys.yaml")
	for path, content := range map[string]string{weak: "hunter2\n", keysFile: "k: hunter2\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const tooWeak = " is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"LIVEKIT_API_SECRET": "", "LIVEKIT_API_SECRET_FILE": weak}, nil, "LIVEKIT_API_SECRET_FILE" + tooWeak},
		{map[string]string{"LKTOKEN_BEARER_TOKEN_FILE": weak}, nil, "LKTOKEN_BEARER_TOKEN_FILE" + tooWeak},
		{map[string]string{"LIVEKIT_API_SECRET": "", "LIVEKIT_API_KEY": "", "LIVEKIT_KEYS_FILE": keysFile}, nil,
			"LIVEKIT_KEYS_FILE " + keysFile + `: the secret of key "k" is too weak: 7 characters, it must be at least 32 (generate one with ` + "`openssl rand -base64 48`)"},
		{map[string]string{"LIVEKIT_API_SECRET": "", "LIVEKIT_API_KEY": ""}, []string{"--keys-file", keysFile},
			"--keys-file " + keysFile + `: the secret of key "k" is too weak: 7 characters, it must be at least 32 (generate one with ` + "`openssl rand -base64 48`)"},
		{map[string]string{"LIVEKIT_API_SECRET": "replace-me-with-a-secret-of-at-least-32-characters"}, nil,
			"LIVEKIT_API_SECRET is too weak: it is the placeholder from lktoken's example files, published with its source: replace it with a secret of your own (generate one with `openssl rand -base64 48`)"},
	} {
		_, err := LoadConfig(c.args, envOf(withEnv(c.env)), &bytes.Buffer{})
		if err == nil || err.Error() != c.want {
			t.Errorf("%v %v:\n%v\nwant\n%s", c.env, c.args, err, c.want)
		}
	}
	_, err := Config{}.Keys.Load()
	if got := (Config{}).Explain(err); got == nil || !strings.HasPrefix(got.Error(), "LIVEKIT_API_KEY is not set") {
		t.Errorf("hand-made Config: %v", got)
	}
}
