package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	kSecret1 = "ks1-0123456789abcdefghijklmnopqrstuv"
	kSecret2 = "ks2-vutsrqponmlkjihgfedcba9876543210"
)

func keysFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysFileLoads(t *testing.T) {
	path := keysFile(t, "# LiveKit keys\n\nAPIone: "+kSecret1+"\n  APItwo : '"+kSecret2+"'  \n")
	ks, err := Source{APIKey: "APItwo", KeysFile: path}.Load()
	if err != nil {
		t.Fatal(err)
	}
	if ks.Signing != (Credentials{APIKey: "APItwo", APISecret: kSecret2}) || strings.Join(ks.IDs, ",") != "APIone,APItwo" {
		t.Errorf("keyset %v %v", ks.Signing, ks.IDs)
	}
	// One key needs no LIVEKIT_API_KEY.
	ks, err = Source{KeysFile: keysFile(t, "solo: "+kSecret1+"\n")}.Load()
	if err != nil || ks.Signing.APIKey != "solo" {
		t.Errorf("solo: %v %v", ks.Signing, err)
	}
}

func TestKeysFileRefusals(t *testing.T) {
	two := keysFile(t, "a: "+kSecret1+"\nb: "+kSecret2+"\n")
	cases := []struct {
		name string
		src  Source
		want string
	}{
		{"missing file", Source{APIKey: "a", KeysFile: "/nonexistent/keys.yaml"}, "LIVEKIT_KEYS_FILE: cannot read /nonexistent/keys.yaml: no such file or directory"},
		{"no key named", Source{KeysFile: two}, "LIVEKIT_API_KEY is not set: with several keys in LIVEKIT_KEYS_FILE (a, b) it must name the one that signs"},
		{"unknown key", Source{APIKey: "c", KeysFile: two}, `LIVEKIT_API_KEY "c" is not in LIVEKIT_KEYS_FILE ` + two + ` (it holds a, b): add it or name one of those`},
		{"with a secret too", Source{APIKey: "a", KeysFile: two, Secret: kSecret1}, "LIVEKIT_KEYS_FILE is set together with LIVEKIT_API_SECRET or LIVEKIT_API_SECRET_FILE: set only one source of secrets"},
		{"short secret", Source{APIKey: "a", KeysFile: keysFile(t, "a: "+kSecret1+"\nb: short\n")}, `the secret of key "b" is too weak: 5 characters, it must be at least 32`},
		{"repetitive secret", Source{APIKey: "a", KeysFile: keysFile(t, "a: "+strings.Repeat("ab", 20)+"\n")}, `the secret of key "a" is too weak: only 2 distinct characters, it must have at least 8`},
		{"not key: secret", Source{KeysFile: keysFile(t, "a: "+kSecret1+"\n"+kSecret2+"\n")}, "line 2: want `key: secret`"},
		{"duplicate key", Source{KeysFile: keysFile(t, "a: "+kSecret1+"\na: "+kSecret2+"\n")}, `line 2: key "a" appears twice`},
		{"empty", Source{KeysFile: keysFile(t, "# nothing\n")}, "holds no keys: want `key: secret` lines"},
	}
	for _, c := range cases {
		_, err := c.src.Load()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
			continue
		}
		for _, s := range []string{kSecret1, kSecret2, "short", strings.Repeat("ab", 20)} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error shows a secret: %v", c.name, err)
			}
		}
	}
}

func TestKeyringReloadKeepsOldKeysOnError(t *testing.T) {
	path := keysFile(t, "a: "+kSecret1+"\n")
	src := Source{APIKey: "a", KeysFile: path}
	ks, err := src.Load()
	if err != nil {
		t.Fatal(err)
	}
	k := NewRing(ks)
	if err := os.WriteFile(path, []byte("a: "+kSecret2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(src); err != nil || k.Signing().APISecret != kSecret2 {
		t.Fatalf("reload: %v", err)
	}
	if err := os.WriteFile(path, []byte("a: weak\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Reload(src); err == nil || k.Signing().APISecret != kSecret2 || !k.Loaded() {
		t.Fatalf("weak reload: err %v, secret kept: %v", err, k.Signing().APISecret == kSecret2)
	}
}

var testCreds = Credentials{APIKey: "APItestkey", APISecret: "0123456789abcdef0123456789abcdef-test-secret"}

func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	for _, s := range []string{testCreds.String(), testCreds.GoString()} {
		if strings.Contains(s, testCreds.APISecret) || !strings.Contains(s, "[redacted]") {
			t.Errorf("printed credentials: %s", s)
		}
	}
}
