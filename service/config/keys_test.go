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
	path := cases.File(t, "keys.yaml", "# LiveKit keys\n\nAPIone: "+kSecret1+"\n  APItwo : '"+kSecret2+"'  \n")
	// Through LoadConfig, flag form.
	cfg, err := LoadConfig([]string{"--keys-file", path}, envOf(map[string]string{"LIVEKIT_API_KEY": "APIone", "LIVEKIT_URL": "wss://x.example"}), &bytes.Buffer{})
	if err != nil || cfg.Credentials.APISecret != kSecret1 || cfg.Keys.KeysFile != path {
		t.Errorf("config: %v %v", cfg.Credentials, err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	for _, v := range []any{keys.Source{Secret: kSecret1}, OpsConfig{BearerToken: kSecret1}, Secret(kSecret1)} {
		for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := sprintf(f, v); strings.Contains(s, kSecret1) {
				t.Errorf("%s of %T shows the secret: %s", f, v, s)
			}
		}
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }
