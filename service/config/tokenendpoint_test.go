package config_test

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/service/config"
)

func loadDev(t *testing.T, env map[string]string, args ...string) (config.Config, error) {
	t.Helper()
	return config.LoadConfig(append([]string{"--dev"}, args...), func(k string) string { return env[k] }, io.Discard)
}

func TestTokenEndpointSettingsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadDev(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenEndpointPath != "/api/token" || cfg.Policy.MaxMetadataBytes != 4096 || cfg.Policy.MaxAttributesBytes != 4096 || len(cfg.Policy.AllowedAgents) != 0 {
		t.Errorf("defaults: path %q metadata %d attributes %d agents %v",
			cfg.TokenEndpointPath, cfg.Policy.MaxMetadataBytes, cfg.Policy.MaxAttributesBytes, cfg.Policy.AllowedAgents)
	}
}

func TestTokenEndpointSettingsFromEnvAndFlags(t *testing.T) {
	t.Parallel()
	cfg, err := loadDev(t, map[string]string{
		"LKTOKEN_TOKEN_ENDPOINT_PATH":  "/livekit/token",
		"LKTOKEN_MAX_METADATA_BYTES":   "0",
		"LKTOKEN_MAX_ATTRIBUTES_BYTES": "65536",
		"LKTOKEN_ALLOWED_AGENTS":       " helper, notetaker ,,helper",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TokenEndpointPath != "/livekit/token" || cfg.Policy.MaxMetadataBytes != 0 || cfg.Policy.MaxAttributesBytes != 65536 ||
		!reflect.DeepEqual(cfg.Policy.AllowedAgents, []string{"helper", "notetaker"}) {
		t.Errorf("path %q metadata %d attributes %d agents %v",
			cfg.TokenEndpointPath, cfg.Policy.MaxMetadataBytes, cfg.Policy.MaxAttributesBytes, cfg.Policy.AllowedAgents)
	}
	for _, off := range [][]string{{"--token-endpoint-path="}, {"--token-endpoint-path", "off"}} {
		cfg, err := loadDev(t, nil, off...)
		if err != nil || cfg.TokenEndpointPath != "" {
			t.Errorf("%v: path %q, err %v; want disabled", off, cfg.TokenEndpointPath, err)
		}
	}
	cfg, err = loadDev(t, map[string]string{"LKTOKEN_TOKEN_ENDPOINT_PATH": "off"})
	if err != nil || cfg.TokenEndpointPath != "" {
		t.Errorf("LKTOKEN_TOKEN_ENDPOINT_PATH=off: path %q, err %v; want disabled", cfg.TokenEndpointPath, err)
	}
}

func TestTokenEndpointSettingsRefused(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ env, value, want string }{
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "api/token", `LKTOKEN_TOKEN_ENDPOINT_PATH "api/token": must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/api/", `LKTOKEN_TOKEN_ENDPOINT_PATH "/api/": must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/", `LKTOKEN_TOKEN_ENDPOINT_PATH "/": must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/api/{x}", `LKTOKEN_TOKEN_ENDPOINT_PATH "/api/{x}": must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/healthz", `LKTOKEN_TOKEN_ENDPOINT_PATH "/healthz": collides with another lktoken route; choose another path such as /api/token`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/readyz", `LKTOKEN_TOKEN_ENDPOINT_PATH "/readyz": collides with another lktoken route; choose another path such as /api/token`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/metrics", `LKTOKEN_TOKEN_ENDPOINT_PATH "/metrics": collides with another lktoken route; choose another path such as /api/token`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", `LKTOKEN_TOKEN_ENDPOINT_PATH "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": collides with another lktoken route; choose another path such as /api/token`},
		{"LKTOKEN_TOKEN_ENDPOINT_PATH", "/lktoken.v1.TokenService/X", `LKTOKEN_TOKEN_ENDPOINT_PATH "/lktoken.v1.TokenService/X": collides with another lktoken route; choose another path such as /api/token`},
		{"LKTOKEN_MAX_METADATA_BYTES", "524289", `LKTOKEN_MAX_METADATA_BYTES "524289": must be a whole number of bytes from 0 to 524288`},
		{"LKTOKEN_MAX_METADATA_BYTES", "4k", `LKTOKEN_MAX_METADATA_BYTES "4k": must be a whole number of bytes from 0 to 524288`},
		{"LKTOKEN_MAX_ATTRIBUTES_BYTES", "-1", `LKTOKEN_MAX_ATTRIBUTES_BYTES "-1": must be a whole number of bytes from 0 to 65536`},
		{"LKTOKEN_ALLOWED_AGENTS", "a,b\x01", `LKTOKEN_ALLOWED_AGENTS: "b\x01" contains a control character`},
	} {
		_, err := loadDev(t, map[string]string{c.env: c.value})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%q: %v\nwant %s", c.env, c.value, err, c.want)
		}
	}
	// The flag's spelling names the flag.
	_, err := loadDev(t, nil, "--token-endpoint-path", "/readyz")
	if want := `--token-endpoint-path "/readyz": collides with another lktoken route; choose another path such as /api/token`; err == nil || err.Error() != want {
		t.Errorf("--token-endpoint-path /readyz: %v\nwant %s", err, want)
	}
}
