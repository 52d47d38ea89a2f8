package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpsConfigDefaultsAndFlags(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(nil, envOf(prodEnv), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := OpsConfig{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 15 * time.Second, WriteTimeout: 15 * time.Second,
		IdleTimeout: 120 * time.Second, MaxHeaderBytes: 16384, MaxConcurrentStreams: 250}
	if cfg.Ops != want || cfg.Ops != (OpsConfig{}).WithDefaults() {
		t.Errorf("ops = %+v", cfg.Ops)
	}
	cfg, err = LoadConfig([]string{"--read-header-timeout", "250ms", "--max-concurrent-streams", "7", "--metrics-listen", "127.0.0.1:9999", "--tracing"},
		envOf(withEnv(map[string]string{"LKTOKEN_IDLE_TIMEOUT": "3s"})), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ops.ReadHeaderTimeout != 250*time.Millisecond || cfg.Ops.MaxConcurrentStreams != 7 || cfg.Ops.MetricsListen != "127.0.0.1:9999" ||
		!cfg.Ops.Tracing || cfg.Ops.IdleTimeout != 3*time.Second {
		t.Errorf("ops = %+v", cfg.Ops)
	}
}

func TestOpsConfigRefusals(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]string{
		"LKTOKEN_READ_HEADER_TIMEOUT=0s":                            `LKTOKEN_READ_HEADER_TIMEOUT "0s": must be a duration from 1ms to 1h, such as 5s`,
		"LKTOKEN_WRITE_TIMEOUT=soon":                                `LKTOKEN_WRITE_TIMEOUT "soon": must be a duration from 1ms to 1h, such as 15s`,
		"LKTOKEN_MAX_HEADER_BYTES=100":                              `LKTOKEN_MAX_HEADER_BYTES "100": must be a whole number of bytes from 4096 to 1048576`,
		"LKTOKEN_MAX_CONCURRENT_STREAMS=0":                          `LKTOKEN_MAX_CONCURRENT_STREAMS "0": must be a whole number from 1 to 10000`,
		"LKTOKEN_TRACING=maybe":                                     `LKTOKEN_TRACING "maybe": must be true or false`,
		"LKTOKEN_BEARER_TOKEN=short":                                "LKTOKEN_BEARER_TOKEN is too weak: 5 characters, it must be at least 32",
		"LKTOKEN_BEARER_TOKEN=" + strings.Repeat("ab", 20):          "LKTOKEN_BEARER_TOKEN is too weak: only 2 distinct characters",
		"LKTOKEN_BEARER_TOKEN=has space 0123456789abcdefghijklmnop": "LKTOKEN_BEARER_TOKEN: must be visible ASCII without spaces",
	} {
		k, v, _ := strings.Cut(env, "=")
		_, err := LoadConfig(nil, envOf(withEnv(map[string]string{k: v})), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", env, err, want)
		}
		if err != nil && strings.Contains(k, "BEARER") && strings.Contains(err.Error(), v) {
			t.Errorf("%s: the error shows the token", env)
		}
	}
}

func TestBearerTokenFile(t *testing.T) {
	t.Parallel()
	token := "file-bearer-0123456789abcdefghijklmn"
	path := filepath.Join(t.TempDir(), "bearer")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_BEARER_TOKEN_FILE": path})), &bytes.Buffer{})
	if err != nil || string(cfg.Ops.BearerToken) != token {
		t.Fatalf("err %v, token read: %v", err, string(cfg.Ops.BearerToken) == token)
	}
	_, err = LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_BEARER_TOKEN_FILE": path, "LKTOKEN_BEARER_TOKEN": token})), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "both LKTOKEN_BEARER_TOKEN and LKTOKEN_BEARER_TOKEN_FILE are set: set only one") {
		t.Errorf("err = %v", err)
	}
	// An empty file must not silently turn authentication off.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_BEARER_TOKEN_FILE": empty})), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LKTOKEN_BEARER_TOKEN_FILE "+empty+" is empty") {
		t.Errorf("err = %v", err)
	}
	_, err = LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_BEARER_TOKEN_FILE": path + ".missing"})), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "LKTOKEN_BEARER_TOKEN_FILE: cannot read "+path+".missing: no such file or directory") {
		t.Errorf("err = %v", err)
	}
}
