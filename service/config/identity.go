package config

import (
	"errors"

	"github.com/lktoken/lktoken/service/identity"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/setting"
)

// IdentityConfig is the identity mode and, when it is pseudonymous, its key.
type IdentityConfig struct {
	Mode identity.Mode
	// Key is the pseudonym key; KeyFile, when set, held it and is read
	// again on SIGHUP (ReadPseudonymKeyFile).
	Key     Secret
	KeyFile string
}

// parseIdentityMode reads LKTOKEN_IDENTITY_MODE; its errors quote the word
// that is wrong.
func parseIdentityMode(s string) (identity.Mode, error) {
	m, err := identity.ParseMode(s)
	if err != nil {
		return m, badItem(err.Error())
	}
	return m, nil
}

// checkIdentity checks the identity mode against the rest: a mode other
// than exclusive needs a verified caller (OpenID Connect), pseudonymous
// needs a key, and a key needs pseudonymous. It reads the key file.
func (l *loader) checkIdentity() {
	c := &l.cfg.Identity
	mode, key, file := l.field(&c.Mode), l.field(&c.Key), l.field(&c.KeyFile)
	raw := l.spec(&c.Mode).raw
	if c.Mode != (identity.Mode{}) && !l.cfg.Auth.OIDCEnabled() {
		l.fail("%s %q has no effect without %s: without a verified caller the request names the identity", mode, raw, l.field(&l.cfg.Auth.OIDC.Issuer))
	}
	set := key
	if c.KeyFile != "" {
		set = file
	}
	switch {
	case c.Key != "" && c.KeyFile != "":
		l.fail("both %s and %s are set: set only one", key, file)
	case !c.Mode.Pseudonymous && (c.Key != "" || c.KeyFile != ""):
		l.fail("%s is set, but has no effect unless %s includes pseudonymous", set, mode)
	case !c.Mode.Pseudonymous:
	case c.KeyFile != "":
		k, err := ReadPseudonymKeyFile(c.KeyFile)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		c.Key = Secret(k)
	case c.Key == "":
		l.fail("%s %q needs a key: set %s or %s, at least %d characters (generate one with `openssl rand -base64 48`)", mode, raw, key, file, identity.MinKeyLength)
	default:
		if err := checkPseudonymKey(key, "", string(c.Key)); err != nil {
			l.errs = append(l.errs, err)
		}
	}
}

// fieldPseudonymKeyFile is the field of LKTOKEN_PSEUDONYM_KEY_FILE, which
// ReadPseudonymKeyFile's errors name.
var fieldPseudonymKeyFile = func() setting.Field {
	var c Config
	return (&loader{cfg: &c, specs: specs(&c)}).field(&c.Identity.KeyFile)
}()

// ReadPseudonymKeyFile reads and checks the pseudonym key file at path (at
// start and on SIGHUP). Its errors name the file's setting: render them with
// [Config.Explain].
func ReadPseudonymKeyFile(path string) (string, error) {
	key, err := keys.ReadFile(fieldPseudonymKeyFile, path)
	if err != nil {
		return "", err
	}
	return key, checkPseudonymKey(fieldPseudonymKeyFile, path, key)
}

// checkPseudonymKey refuses an empty or weak key; field is the setting that
// held it and path its file ("" for none).
func checkPseudonymKey(field setting.Field, path, key string) error {
	if path != "" {
		path = " " + path
	}
	switch err := identity.CheckKey(key); {
	case errors.Is(err, identity.ErrKeyMissing):
		return setting.Errorf("%s%s is empty: the pseudonymous identity mode needs a key of at least %d characters (generate one with `openssl rand -base64 48`)", field, path, identity.MinKeyLength)
	case err != nil:
		return setting.Errorf("%s%s is %s", field, path, err)
	}
	return nil
}
