package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/service/identity"
)

const testPseudonymKey = "pseudonym-key-0123456789abcdefghijklm"

func TestIdentitySettings(t *testing.T) {
	t.Parallel()
	oidcEnv := func(kv ...string) map[string]string {
		m := withEnv(map[string]string{"LKTOKEN_OIDC_ISSUER": "https://id.example.com/", "LKTOKEN_OIDC_AUDIENCE": "lktoken"})
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	keyFile := filepath.Join(t.TempDir(), "pseudonym-key")
	if err := os.WriteFile(keyFile, []byte(testPseudonymKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want IdentityConfig
	}{
		{nil, oidcEnv(), IdentityConfig{}},
		{nil, withEnv(nil), IdentityConfig{}},
		{nil, withEnv(map[string]string{"LKTOKEN_IDENTITY_MODE": "exclusive"}), IdentityConfig{}},
		{nil, oidcEnv("LKTOKEN_IDENTITY_MODE", "per-session"), IdentityConfig{Mode: identity.Mode{PerSession: true}}},
		{[]string{"--identity-mode", "pseudonymous"}, oidcEnv("LKTOKEN_PSEUDONYM_KEY", testPseudonymKey),
			IdentityConfig{Mode: identity.Mode{Pseudonymous: true}, Key: testPseudonymKey}},
		{nil, oidcEnv("LKTOKEN_IDENTITY_MODE", "per-session,pseudonymous", "LKTOKEN_PSEUDONYM_KEY_FILE", keyFile),
			IdentityConfig{Mode: identity.Mode{PerSession: true, Pseudonymous: true}, Key: testPseudonymKey, KeyFile: keyFile}},
	} {
		cfg, err := LoadConfig(c.args, envOf(c.env), &bytes.Buffer{})
		if err != nil || cfg.Identity != c.want {
			t.Errorf("%v %v: %+v, %v; want %+v", c.args, c.env["LKTOKEN_IDENTITY_MODE"], cfg.Identity, err, c.want)
		}
	}
}

func TestIdentityRefusals(t *testing.T) {
	t.Parallel()
	oidc := map[string]string{"LKTOKEN_OIDC_ISSUER": "https://id.example.com/", "LKTOKEN_OIDC_AUDIENCE": "lktoken"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := withEnv(base)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "per-device"),
			`LKTOKEN_IDENTITY_MODE: "per-device" is not a mode; want exclusive or per-session, optionally with pseudonymous (e.g. per-session,pseudonymous)`},
		{[]string{"--identity-mode", "exclusive,per-session"}, with(oidc), `--identity-mode: "exclusive" and "per-session" exclude each other: choose one`},
		{nil, with(nil, "LKTOKEN_IDENTITY_MODE", "per-session"),
			`LKTOKEN_IDENTITY_MODE "per-session" has no effect without LKTOKEN_OIDC_ISSUER: without a verified caller the request names the identity`},
		{[]string{"--identity-mode", "pseudonymous"}, with(nil, "LKTOKEN_PSEUDONYM_KEY", testPseudonymKey),
			`--identity-mode "pseudonymous" has no effect without LKTOKEN_OIDC_ISSUER: without a verified caller the request names the identity`},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "pseudonymous"),
			"LKTOKEN_IDENTITY_MODE \"pseudonymous\" needs a key: set LKTOKEN_PSEUDONYM_KEY or LKTOKEN_PSEUDONYM_KEY_FILE, at least 32 characters (generate one with `openssl rand -base64 48`)"},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "pseudonymous", "LKTOKEN_PSEUDONYM_KEY", "short"),
			"LKTOKEN_PSEUDONYM_KEY is too weak: 5 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "pseudonymous", "LKTOKEN_PSEUDONYM_KEY_FILE", empty),
			"LKTOKEN_PSEUDONYM_KEY_FILE " + empty + " is empty: the pseudonymous identity mode needs a key of at least 32 characters (generate one with `openssl rand -base64 48`)"},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "pseudonymous", "LKTOKEN_PSEUDONYM_KEY_FILE", empty+"-missing"),
			"LKTOKEN_PSEUDONYM_KEY_FILE: cannot read " + empty + "-missing: no such file or directory"},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "pseudonymous", "LKTOKEN_PSEUDONYM_KEY", testPseudonymKey, "LKTOKEN_PSEUDONYM_KEY_FILE", empty),
			"both LKTOKEN_PSEUDONYM_KEY and LKTOKEN_PSEUDONYM_KEY_FILE are set: set only one"},
		{nil, with(oidc, "LKTOKEN_IDENTITY_MODE", "per-session", "LKTOKEN_PSEUDONYM_KEY", testPseudonymKey),
			"LKTOKEN_PSEUDONYM_KEY is set, but has no effect unless LKTOKEN_IDENTITY_MODE includes pseudonymous"},
		{nil, with(oidc, "LKTOKEN_PSEUDONYM_KEY_FILE", empty),
			"LKTOKEN_PSEUDONYM_KEY_FILE is set, but has no effect unless LKTOKEN_IDENTITY_MODE includes pseudonymous"},
	} {
		_, err := LoadConfig(c.args, envOf(c.env), &bytes.Buffer{})
		if err == nil || err.Error() != c.want {
			t.Errorf("got  %v\nwant %s", err, c.want)
		}
	}
}

func TestHelpListsIdentitySettings(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, _ = LoadConfig([]string{"--help"}, envOf(nil), &out)
	for _, want := range []string{"--identity-mode", "$LKTOKEN_IDENTITY_MODE (default exclusive)", "$LKTOKEN_PSEUDONYM_KEY", "$LKTOKEN_PSEUDONYM_KEY_FILE", "DUPLICATE_IDENTITY", "lktoken.subject"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}
