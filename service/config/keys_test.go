package config

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/keys"
)

const kSecret1, kSecret2 = "ks1-0123456789abcdefghijklmnopqrstuv", "ks2-vutsrqponmlkjihgfedcba9876543210"

func TestKeysFileLoadsThroughConfig(t *testing.T) {
	t.Parallel()
	path := cases.File(t, "keys.yaml", "# LiveKit keys\n\nAPIone: "+kSecret1+"\n  APItwo : '"+kSecret2+"'  \n")
	// Through LoadConfig, flag form.
	cfg, err := LoadConfig([]string{"--keys-file", path}, envOf(map[string]string{"LIVEKIT_API_KEY": "APIone", "LIVEKIT_URL": "wss://x.example", "LKTOKEN_ALLOWED_ORIGINS": "https://app.example.com"}), &bytes.Buffer{})
	if err != nil || cfg.Credentials.APISecret != kSecret1 || cfg.Keys.KeysFile != path {
		t.Errorf("config: %v %v", cfg.Credentials, err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	t.Parallel()
	for _, v := range []any{keys.Source{Secret: kSecret1}, OpsConfig{BearerToken: kSecret1}, Secret(kSecret1)} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := sprintf(f, v); strings.Contains(s, kSecret1) {
				t.Errorf("%s of %T shows the secret: %s", f, v, s)
			}
		}
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

// Errors about the keys name the flags when the flags were given.
func TestKeysErrorsNameTheFlagsGiven(t *testing.T) {
	t.Parallel()
	path := cases.File(t, "keys.yaml", "APIone: "+kSecret1+"\nAPItwo: "+kSecret2+"\n")
	env := envOf(map[string]string{"LIVEKIT_URL": "wss://x.example", "LKTOKEN_ALLOWED_ORIGINS": "https://app.example.com"})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--keys-file", path, "--api-key", "APIthree"}, `--api-key "APIthree" is not in --keys-file ` + path + ` (it holds APIone, APItwo): add it or name one of those`},
		{[]string{"--keys-file", path}, "LIVEKIT_API_KEY is not set: with several keys in --keys-file (APIone, APItwo) it must name the one that signs"},
	} {
		_, err := LoadConfig(c.args, env, &bytes.Buffer{})
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v\nwant %s", c.args, err, c.want)
		}
	}
	_, err := LoadConfig(nil, envOf(map[string]string{"LIVEKIT_URL": "wss://x.example", "LKTOKEN_ALLOWED_ORIGINS": "https://app.example.com", "LIVEKIT_KEYS_FILE": path, "LIVEKIT_API_KEY": "APIthree"}), &bytes.Buffer{})
	if want := `LIVEKIT_API_KEY "APIthree" is not in LIVEKIT_KEYS_FILE ` + path + ` (it holds APIone, APItwo): add it or name one of those`; err == nil || err.Error() != want {
		t.Errorf("variables: err = %v\nwant %s", err, want)
	}
}

// LIVEKIT_API_KEY_FILE (--api-key-file) names the signing key through
// LoadConfig, and its errors name the flag when the flag was given.
func TestAPIKeyFileThroughConfig(t *testing.T) {
	t.Parallel()
	path := cases.File(t, "keys.yaml", "APIone: "+kSecret1+"\nAPItwo: "+kSecret2+"\n")
	signer := cases.File(t, "signing-key", "APItwo\n")
	env := map[string]string{"LIVEKIT_URL": "wss://x.example", "LKTOKEN_ALLOWED_ORIGINS": "https://app.example.com", "LIVEKIT_KEYS_FILE": path}
	env["LIVEKIT_API_KEY_FILE"] = signer
	cfg, err := LoadConfig(nil, envOf(env), &bytes.Buffer{})
	if err != nil || cfg.Credentials.APIKey != "APItwo" || cfg.Credentials.APISecret != kSecret2 || cfg.Keys.APIKeyFile != signer || !cfg.Keys.Reloadable() {
		t.Fatalf("config: %v %v", cfg.Credentials, err)
	}
	unknown := cases.File(t, "signing-key", "APIthree\n")
	delete(env, "LIVEKIT_API_KEY_FILE")
	_, err = LoadConfig([]string{"--api-key-file", unknown}, envOf(env), &bytes.Buffer{})
	if want := "--api-key-file " + unknown + `: key "APIthree" is not in LIVEKIT_KEYS_FILE ` + path + " (it holds APIone, APItwo): add it or name one of those"; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}
