package keys

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/setting"
)

const (
	kSecret1 = "ks1-0123456789abcdefghijklmnopqrstuv"
	kSecret2 = "ks2-vutsrqponmlkjihgfedcba9876543210"
)

func keysFile(t *testing.T, content string) string { return cases.File(t, "keys.yaml", content) }

func TestKeysFileLoads(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	two := keysFile(t, "a: "+kSecret1+"\nb: "+kSecret2+"\n")
	cases := []struct {
		name string
		src  Source
		want string
	}{
		{"missing file", Source{APIKey: "a", KeysFile: "/nonexistent/keys.yaml"}, "keys.KeysFile: cannot read /nonexistent/keys.yaml: no such file or directory"},
		{"no key named", Source{KeysFile: two}, "keys.APIKey is not set: with several keys in keys.KeysFile (a, b) it must name the one that signs"},
		{"unknown key", Source{APIKey: "c", KeysFile: two}, `keys.APIKey "c" is not in keys.KeysFile ` + two + ` (it holds a, b): add it or name one of those`},
		{"with a secret too", Source{APIKey: "a", KeysFile: two, Secret: kSecret1}, "keys.KeysFile is set together with keys.Secret or keys.SecretFile: set only one source of secrets"},
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
	t.Parallel()
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
	t.Parallel()
	for _, s := range []string{testCreds.String(), testCreds.GoString()} {
		if strings.Contains(s, testCreds.APISecret) || !strings.Contains(s, "[redacted]") {
			t.Errorf("printed credentials: %s", s)
		}
	}
}

// LIVEKIT_API_KEY_FILE names the signing key; a reload reads it again, so
// the signing key switches between the keys of the keys file, and a file
// naming a key that is not there is refused with the old keys kept.
func TestAPIKeyFileSwitchesTheSigningKey(t *testing.T) {
	t.Parallel()
	keysPath := keysFile(t, "a: "+kSecret1+"\nb: "+kSecret2+"\n")
	idPath := filepath.Join(t.TempDir(), "signing-key")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(idPath, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a\n")
	src := Source{APIKeyFile: idPath, KeysFile: keysPath}
	ks, err := src.Load()
	if err != nil || ks.Signing != (Credentials{APIKey: "a", APISecret: kSecret1}) || strings.Join(ks.IDs, ",") != "a,b" {
		t.Fatalf("load: %v %v", ks.Signing, err)
	}
	if !src.Reloadable() {
		t.Error("not reloadable")
	}
	ring := NewRing(ks)
	write("  b \n")
	if _, err := ring.Reload(src); err != nil || ring.Signing() != (Credentials{APIKey: "b", APISecret: kSecret2}) {
		t.Fatalf("switch to b: %v %v", ring.Signing(), err)
	}
	for _, c := range []struct{ content, want string }{
		{"c\n", "keys.APIKeyFile " + idPath + `: key "c" is not in keys.KeysFile ` + keysPath + " (it holds a, b): add it or name one of those"},
		{"\n", "keys.APIKeyFile " + idPath + " is empty: write the id of the key that signs into it"},
		{"b: " + kSecret2 + "\n", "keys.APIKeyFile " + idPath + ": want one key id on one line (not a `key: secret` line)"},
	} {
		write(c.content)
		if _, err := ring.Reload(src); err == nil || err.Error() != c.want {
			t.Errorf("%q: err %v\nwant %s", c.content, err, c.want)
		}
		if ring.Signing().APIKey != "b" {
			t.Errorf("%q: a refused reload changed the signing key to %q", c.content, ring.Signing().APIKey)
		}
		if err != nil && strings.Contains(err.Error(), kSecret2) {
			t.Error("the error shows a secret")
		}
	}
	for _, c := range []struct {
		src  Source
		want string
	}{
		{Source{APIKey: "a", APIKeyFile: idPath, KeysFile: keysPath}, "both keys.APIKey and keys.APIKeyFile are set: set only one"},
		{Source{APIKeyFile: "/nonexistent/signing-key", KeysFile: keysPath}, "keys.APIKeyFile: cannot read /nonexistent/signing-key: no such file or directory"},
	} {
		if _, err := c.src.Load(); err == nil || err.Error() != c.want {
			t.Errorf("err %v, want %s", err, c.want)
		}
	}
}

// A weak secret names the setting that held it: the file when it came from
// one (at start and on every reload), the secret itself otherwise.
func TestWeakSecretNamesItsSource(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for src, want := range map[*Source]string{
		{APIKey: "a", SecretFile: path}:  "keys.SecretFile is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)",
		{APIKey: "a", Secret: "hunter2"}: "keys.Secret is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)",
	} {
		_, err := src.Load()
		var se *setting.Error
		if err == nil || err.Error() != want || !errors.As(err, &se) {
			t.Errorf("%v: err = %v, want %s", src, err, want)
		}
	}
}

// The secrets of the committed example files are refused, with a message
// that says to replace them: a forgotten edit must not deploy a secret
// published with the source.
func TestExampleSecretsRefused(t *testing.T) {
	t.Parallel()
	const want = "it is the placeholder from lktoken's example files, published with its source: replace it with a secret of your own"
	ks, err := readKeysFile(FieldKeysFile, "../../deploy/kubernetes/keys.yaml.example")
	if err != nil || len(ks) == 0 {
		t.Fatalf("keys.yaml.example: %v", err)
	}
	var secrets []string
	for _, s := range ks {
		secrets = append(secrets, s)
	}
	b, err := os.ReadFile("../../deploy/azure-functions/local.settings.json.example")
	if err != nil {
		t.Fatal(err)
	}
	var local struct{ Values map[string]string }
	if err := json.Unmarshal(b, &local); err != nil || local.Values["LIVEKIT_API_SECRET"] == "" {
		t.Fatalf("local.settings.json.example: %v", err)
	}
	secrets = append(secrets, local.Values["LIVEKIT_API_SECRET"])
	for _, s := range secrets {
		if got := WeakSecret(s); got != want {
			t.Errorf("WeakSecret(example) = %q, want %q", got, want)
		}
	}
	_, err = Source{KeysFile: "../../deploy/kubernetes/keys.yaml.example"}.Load()
	if err == nil || !strings.Contains(err.Error(), `keys.KeysFile ../../deploy/kubernetes/keys.yaml.example: the secret of key "APIexample" is too weak: `+want) {
		t.Errorf("Load(keys.yaml.example): %v", err)
	}
}
