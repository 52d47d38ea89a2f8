package config

import (
	"errors"
	"fmt"

	"github.com/lktoken/lktoken/service/identity"
	"github.com/lktoken/lktoken/service/keys"
)

// The settings of the identity mode (docs/auth.md), listed after the auth
// settings by --help.
var identitySettings = []setting{
	{"identity-mode", "LKTOKEN_IDENTITY_MODE", identity.Exclusive, "how a verified caller's claim becomes its LiveKit identity (with --oidc-issuer only): exclusive (the claim; a second session of the same person replaces the first, DUPLICATE_IDENTITY), per-session (the claim plus a random suffix per token; the claim in the lktoken.subject attribute), each optionally with pseudonymous (the claim replaced by a keyed HMAC), e.g. per-session,pseudonymous"},
	{"", "LKTOKEN_PSEUDONYM_KEY", "", "the HMAC key of the pseudonymous identity mode, at least 32 characters (environment only); every replica needs the same key, and a new key gives everyone a new pseudonym"},
	{"", "LKTOKEN_PSEUDONYM_KEY_FILE", "", "file holding LKTOKEN_PSEUDONYM_KEY instead; read again on SIGHUP"},
}

func init() { settings = append(settings, identitySettings...) }

// IdentityConfig is the identity mode and, when it is pseudonymous, its key.
type IdentityConfig struct {
	Mode identity.Mode
	// Key is the pseudonym key; KeyFile, when set, held it and is read
	// again on SIGHUP (ReadPseudonymKeyFile).
	Key     Secret
	KeyFile string
}

// buildIdentityConfig reads identitySettings; a mode other than exclusive
// needs a verified caller (OpenID Connect), pseudonymous needs a key, and a
// key needs pseudonymous.
func buildIdentityConfig(get, name func(string) string, auth AuthConfig, fail func(error)) IdentityConfig {
	var c IdentityConfig
	raw := get("LKTOKEN_IDENTITY_MODE")
	m, err := identity.ParseMode(raw)
	if err != nil {
		fail(fmt.Errorf("%s %w", name("LKTOKEN_IDENTITY_MODE"), err))
		return c
	}
	c.Mode = m
	if m != (identity.Mode{}) && !auth.OIDCEnabled() {
		fail(fmt.Errorf("%s %q has no effect without LKTOKEN_OIDC_ISSUER (--oidc-issuer): without a verified caller the request names the identity", name("LKTOKEN_IDENTITY_MODE"), raw))
	}
	key := get("LKTOKEN_PSEUDONYM_KEY")
	c.KeyFile = get("LKTOKEN_PSEUDONYM_KEY_FILE")
	set := "LKTOKEN_PSEUDONYM_KEY"
	if c.KeyFile != "" {
		set += "_FILE"
	}
	switch {
	case key != "" && c.KeyFile != "":
		fail(errors.New("both LKTOKEN_PSEUDONYM_KEY and LKTOKEN_PSEUDONYM_KEY_FILE are set: set only one"))
		return c
	case !m.Pseudonymous && (key != "" || c.KeyFile != ""):
		fail(fmt.Errorf("%s is set, but has no effect unless %s includes pseudonymous", set, name("LKTOKEN_IDENTITY_MODE")))
		return c
	case !m.Pseudonymous:
		return c
	case key == "" && c.KeyFile == "":
		err = fmt.Errorf("%s %q needs a key: set LKTOKEN_PSEUDONYM_KEY or LKTOKEN_PSEUDONYM_KEY_FILE, at least %d characters (generate one with `openssl rand -base64 48`)", name("LKTOKEN_IDENTITY_MODE"), raw, identity.MinKeyLength)
	case c.KeyFile != "":
		key, err = ReadPseudonymKeyFile(c.KeyFile)
	default:
		err = checkPseudonymKey("LKTOKEN_PSEUDONYM_KEY", key)
	}
	if err != nil {
		fail(err)
	}
	c.Key = Secret(key)
	return c
}

// ReadPseudonymKeyFile reads and checks LKTOKEN_PSEUDONYM_KEY_FILE.
func ReadPseudonymKeyFile(path string) (string, error) {
	key, err := keys.ReadFile("LKTOKEN_PSEUDONYM_KEY_FILE", path)
	if err != nil {
		return "", err
	}
	return key, checkPseudonymKey("LKTOKEN_PSEUDONYM_KEY_FILE "+path, key)
}

func checkPseudonymKey(what, key string) error {
	switch err := identity.CheckKey(key); {
	case errors.Is(err, identity.ErrKeyMissing):
		return fmt.Errorf("%s is empty: the pseudonymous identity mode needs a key of at least %d characters (generate one with `openssl rand -base64 48`)", what, identity.MinKeyLength)
	case err != nil:
		return fmt.Errorf("%s is %w", what, err)
	}
	return nil
}
