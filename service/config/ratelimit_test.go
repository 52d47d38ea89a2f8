package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/service/ratelimit"
)

func TestRateLimitSettings(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(nil, envOf(prodEnv), &bytes.Buffer{})
	if err != nil || cfg.RateLimit.Enabled() {
		t.Fatalf("default: %+v %v, want off", cfg.RateLimit, err)
	}
	cfg, err = LoadConfig([]string{"--dev"}, envOf(map[string]string{}), &bytes.Buffer{})
	if err != nil || cfg.RateLimit.Enabled() {
		t.Fatalf("--dev: %+v %v, want off", cfg.RateLimit, err)
	}
	pwFile := filepath.Join(t.TempDir(), "redis-password")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = LoadConfig([]string{"--rate-limit", "20/min", "--rate-burst", "5", "--rate-limit-redis-url", "rediss://cache:6380/1", "--rate-limit-failure", "closed",
		"--trusted-proxies", "10.0.0.0/8"}, envOf(withEnv(map[string]string{"LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE": pwFile})), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.RateLimit
	if r.Policy != (ratelimit.Policy{Count: 20, Per: time.Minute, Burst: 5}) || r.RedisURL != "rediss://cache:6380/1" || !r.FailClosed ||
		r.RedisPassword != "s3cret" || r.RedisPasswordFile != pwFile {
		t.Fatalf("settings read as %+v", r)
	}
	if a, _ := r.Proxies.Client("10.1.1.1:1", map[string][]string{"X-Forwarded-For": {"192.0.2.9"}}); a.String() != "192.0.2.9" {
		t.Fatalf("trusted proxy's client %v", a)
	}
	cfg, _ = LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_RATE_LIMIT": "100/s"})), &bytes.Buffer{})
	if cfg.RateLimit.Policy.Burst != 100 {
		t.Fatalf("burst %d, want the count (100) by default", cfg.RateLimit.Policy.Burst)
	}
}

// A wrong Redis URL, an unknown rate syntax or a burst of 0 refuse to start,
// naming what the user set.
func TestRateLimitRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--rate-limit", "20/fortnight"}, nil, `--rate-limit "20/fortnight": unknown unit "fortnight": use s, min, h, day, or a duration such as 10s`},
		{nil, map[string]string{"LKTOKEN_RATE_LIMIT": "twenty"}, `LKTOKEN_RATE_LIMIT "twenty": want <count>/<unit>, e.g. 20/min`},
		{[]string{"--rate-limit", "20/min", "--rate-burst", "0"}, nil, `--rate-burst "0": must be a whole number of requests from 1 to 1000000`},
		{[]string{"--rate-limit", "20/min", "--rate-limit-redis-url", "http://cache:6379"}, nil, `--rate-limit-redis-url "http://cache:6379": the scheme "http" is not redis:// or rediss:// (TLS)`},
		{[]string{"--rate-limit", "20/min"}, map[string]string{"LKTOKEN_RATE_LIMIT_REDIS_URL": "redis://:hunter2@cache"}, "LKTOKEN_RATE_LIMIT_REDIS_URL: the URL carries a password"},
		{[]string{"--rate-limit", "1/s", "--rate-limit-failure", "maybe"}, nil, `--rate-limit-failure "maybe": must be open or closed`},
		{[]string{"--rate-limit", "1/s", "--trusted-proxies", "10.0.0.0/33"}, nil, `--trusted-proxies: "10.0.0.0/33" is neither an address nor a CIDR range`},
		{[]string{"--rate-limit", "1/s"}, map[string]string{"LKTOKEN_TRUSTED_PROXY_HEADER": "X-Real-IP"}, `LKTOKEN_TRUSTED_PROXY_HEADER "X-Real-IP": must be X-Forwarded-For or Forwarded`},
		{[]string{"--rate-limit", "1/s"}, map[string]string{"LKTOKEN_RATE_LIMIT_REDIS_PASSWORD": "a", "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE": "/nonexistent"},
			"both LKTOKEN_RATE_LIMIT_REDIS_PASSWORD and LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE are set: set only one"},
		{[]string{"--rate-burst", "5"}, nil, "--rate-burst is set, but has no effect without LKTOKEN_RATE_LIMIT"},
		{[]string{"--rate-limit", "1/s"}, map[string]string{"LKTOKEN_RATE_LIMIT_REDIS_PASSWORD": "pw"}, "LKTOKEN_RATE_LIMIT_REDIS_PASSWORD is set, but has no effect without LKTOKEN_RATE_LIMIT_REDIS_URL"},
	} {
		_, err := LoadConfig(c.args, envOf(withEnv(c.env)), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err = %v, want %q", c.args, c.env, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), `"a"`) || strings.Contains(err.Error(), "pw\"")) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
