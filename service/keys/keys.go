package keys

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/lktoken/lktoken/service/setting"
)

// minDistinctSecretBytes rejects long but trivially guessable secrets such as
// 40 times the same letter; a random base64 secret of 32 characters has ~25.
const minDistinctSecretBytes = 8

// placeholderSecrets are the example secrets committed in lktoken's
// repository (deploy/kubernetes/keys.yaml.example,
// deploy/azure-functions/local.settings.json.example): long enough to pass
// the strength check, but published, so a forgotten edit must not deploy one.
var placeholderSecrets = []string{
	"replace-me-with-a-secret-of-at-least-32-characters",
}

// WeakSecret says why a secret is unsafe, or "" when it is acceptable.
func WeakSecret(s string) string {
	if slices.Contains(placeholderSecrets, s) {
		return "it is the placeholder from lktoken's example files, published with its source: replace it with a secret of your own"
	}
	if len(s) < MinSecretLength {
		return fmt.Sprintf("%d characters, it must be at least %d", len(s), MinSecretLength)
	}
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			distinct++
		}
	}
	if distinct < minDistinctSecretBytes {
		return fmt.Sprintf("only %d distinct characters, it must have at least %d", distinct, minDistinctSecretBytes)
	}
	return ""
}

// The inputs of a [Source], as its errors name them (package setting):
// package config renders each as the flag or variable the user set.
const (
	FieldAPIKey     setting.Field = "keys.APIKey"
	FieldAPIKeyFile setting.Field = "keys.APIKeyFile"
	FieldSecret     setting.Field = "keys.Secret"
	FieldSecretFile setting.Field = "keys.SecretFile"
	FieldKeysFile   setting.Field = "keys.KeysFile"
	FieldDev        setting.Field = "keys.Dev"
)

// Source says where the API keys come from, so that they can be read again
// on SIGHUP. Exactly one of Secret, SecretFile and KeysFile holds the secrets;
// APIKey or APIKeyFile names the key that signs. Its errors are
// [setting.Error]s naming the Field* of this package.
type Source struct {
	// APIKey is the key whose secret signs tokens.
	APIKey string
	// APIKeyFile is a file holding APIKey instead, read again on SIGHUP, so
	// that the signing key can be switched without a restart (with KeysFile
	// holding the old and the new key).
	APIKeyFile string
	// Secret is the API secret itself (it cannot change on reload).
	Secret string
	// SecretFile is a file holding the API secret instead.
	SecretFile string
	// KeysFile holds "key: secret" lines, LiveKit's keys.yaml format, so the
	// very file livekit-server reads (its key_file) serves here.
	KeysFile string
	// Dev allows LiveKit's dev pair when nothing else is set.
	Dev bool
}

// String never shows a secret.
func (s Source) String() string {
	return fmt.Sprintf("Source{APIKey: %s, APIKeyFile: %s, Secret: [redacted], SecretFile: %s, KeysFile: %s, Dev: %t}",
		s.APIKey, s.APIKeyFile, s.SecretFile, s.KeysFile, s.Dev)
}

// GoString never shows a secret.
func (s Source) GoString() string { return s.String() }

// Reloadable reports whether reading the source again can change anything.
func (s Source) Reloadable() bool {
	return s.SecretFile != "" || s.KeysFile != "" || s.APIKeyFile != ""
}

// ErrNotReloadable is what a reload of a source that is not
// [Source.Reloadable] tells the operator.
var ErrNotReloadable = setting.Errorf("the keys come from settings that a reload cannot change, nothing to reload (use %s, %s or %s)",
	FieldSecretFile, FieldKeysFile, FieldAPIKeyFile)

// keyVar is where the signing key's id was set, for error messages.
func (s Source) keyVar() *setting.Error {
	if s.APIKeyFile != "" {
		return setting.Errorf("%s %s: key", FieldAPIKeyFile, s.APIKeyFile)
	}
	return setting.Errorf("%s", FieldAPIKey)
}

// ReadFile reads the file that the setting field names, without the
// space around its content. The error names the field and the path, never
// the content (it may be a secret).
func ReadFile(field setting.Field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", setting.Errorf("%s: cannot read %s: %w", field, path, errors.Unwrap(err))
	}
	return strings.TrimSpace(string(b)), nil
}

// readAPIKeyFile reads the signing key's id from APIKeyFile.
func (s Source) readAPIKeyFile() (string, error) {
	path := s.APIKeyFile
	id, err := ReadFile(FieldAPIKeyFile, path)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", setting.Errorf("%s %s is empty: write the id of the key that signs into it", FieldAPIKeyFile, path)
	}
	if strings.ContainsAny(id, " \t\r\n:") {
		return "", setting.Errorf("%s %s: want one key id on one line (not a `key: secret` line)", FieldAPIKeyFile, path)
	}
	return id, nil
}

// secretField is the field that held the secret Load checks: the file when
// the secret came from it, so that a weak one names what the user wrote.
func (s Source) secretField() setting.Field {
	if s.SecretFile != "" {
		return FieldSecretFile
	}
	return FieldSecret
}

// Set is every key the server knows and the one that signs.
type Set struct {
	// Signing signs every token.
	Signing Credentials
	// IDs are the key ids loaded (sorted), signing key included; never secrets.
	IDs []string
}

// Load reads the keys. Every error names the field or file to fix (a
// [setting.Error]); none contains a secret.
func (s Source) Load() (Set, error) {
	var errs []error
	fail := func(err error) { errs = append(errs, err) }
	creds := Credentials{APIKey: s.APIKey, APISecret: s.Secret}
	if s.APIKeyFile != "" {
		if s.APIKey != "" {
			return Set{}, setting.Errorf("both %s and %s are set: set only one", FieldAPIKey, FieldAPIKeyFile)
		}
		id, err := s.readAPIKeyFile()
		if err != nil {
			return Set{}, err
		}
		creds.APIKey = id
	}
	ids := []string(nil)
	switch {
	case s.KeysFile != "":
		if s.Secret != "" || s.SecretFile != "" {
			return Set{}, setting.Errorf("%s is set together with %s or %s: set only one source of secrets", FieldKeysFile, FieldSecret, FieldSecretFile)
		}
		keys, err := readKeysFile(FieldKeysFile, s.KeysFile)
		if err != nil {
			return Set{}, err
		}
		for id, secret := range keys {
			ids = append(ids, id)
			if why := WeakSecret(secret); why != "" && !s.Dev {
				fail(setting.Errorf("%s %s: the secret of key %q is too weak: %s (generate one with `openssl rand -base64 48`)", FieldKeysFile, s.KeysFile, id, why))
			}
		}
		sort.Strings(ids)
		if creds.APIKey == "" && len(keys) == 1 {
			creds.APIKey = ids[0]
		}
		switch secret, ok := keys[creds.APIKey]; {
		case creds.APIKey == "":
			fail(setting.Errorf("%s is not set: with several keys in %s (%s) it must name the one that signs", FieldAPIKey, FieldKeysFile, strings.Join(ids, ", ")))
		case !ok:
			fail(setting.Errorf("%s %q is not in %s %s (it holds %s): add it or name one of those", s.keyVar(), creds.APIKey, FieldKeysFile, s.KeysFile, strings.Join(ids, ", ")))
		default:
			creds.APISecret = secret
		}
		if err := errors.Join(errs...); err != nil {
			return Set{}, err
		}
		return Set{Signing: creds, IDs: ids}, nil
	case s.SecretFile != "":
		if s.Secret != "" {
			fail(setting.Errorf("both %s and %s are set: set only one", FieldSecret, FieldSecretFile))
		}
		secret, err := ReadFile(FieldSecretFile, s.SecretFile)
		creds.APISecret = secret
		var keyErr error
		if !s.Dev {
			keyErr = creds.checkKey()
		}
		switch {
		case err != nil:
			// One line for one problem: not also "the secret is not set".
			return Set{}, errors.Join(append(errs, err, keyErr)...)
		case secret == "":
			return Set{}, errors.Join(append(errs, setting.Errorf("%s %s is empty: write the LiveKit API secret into it", FieldSecretFile, s.SecretFile), keyErr)...)
		}
	}
	if s.Dev {
		if creds.APIKey == "" && creds.APISecret == "" {
			creds = Credentials{APIKey: DevAPIKey, APISecret: DevAPISecret}
		}
		if creds.APIKey == "" || creds.APISecret == "" {
			fail(setting.Errorf("%s with only one of %s and %s set: set both, or neither to use devkey/secret", FieldDev, FieldAPIKey, FieldSecret))
		}
	} else if err := creds.check(s.secretField()); err != nil {
		fail(err)
	}
	if err := errors.Join(errs...); err != nil {
		return Set{}, err
	}
	return Set{Signing: creds, IDs: []string{creds.APIKey}}, nil
}

// readKeysFile parses LiveKit's keys file: one "key: secret" per line, blank
// lines and "#" comments ignored. It is the subset of YAML that livekit-server
// and `livekit-server generate-keys` use; anything else is refused with its
// line number (never its content, which may hold a secret).
func readKeysFile(variable setting.Field, path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, setting.Errorf("%s: cannot read %s: %w", variable, path, errors.Unwrap(err))
	}
	keys := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, secret, ok := strings.Cut(line, ":")
		id, secret = unquote(strings.TrimSpace(id)), unquote(strings.TrimSpace(secret))
		if !ok || id == "" || secret == "" || strings.ContainsAny(id, " \t") {
			return nil, setting.Errorf("%s %s line %d: want `key: secret`", variable, path, n)
		}
		if _, dup := keys[id]; dup {
			return nil, setting.Errorf("%s %s line %d: key %q appears twice", variable, path, n, id)
		}
		keys[id] = secret
	}
	if err := sc.Err(); err != nil {
		return nil, setting.Errorf("%s %s: %w", variable, path, err)
	}
	if len(keys) == 0 {
		return nil, setting.Errorf("%s %s holds no keys: want `key: secret` lines", variable, path)
	}
	return keys, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// Ring holds the current Set. Reads are one atomic load, so a reload
// swaps keys under live traffic without a lock and without a request ever
// seeing half of an old and half of a new key.
type Ring struct {
	current atomic.Pointer[Set]
}

// NewRing returns a keyring holding ks.
func NewRing(ks Set) *Ring {
	k := &Ring{}
	k.current.Store(&ks)
	return k
}

// Signing returns the credentials that sign tokens now.
func (k *Ring) Signing() Credentials { return k.current.Load().Signing }

// IDs returns the key ids loaded now.
func (k *Ring) IDs() []string { return k.current.Load().IDs }

// Loaded reports whether a signing key is present.
func (k *Ring) Loaded() bool {
	c := k.current.Load().Signing
	return c.APIKey != "" && c.APISecret != ""
}

// Reload reads src again and swaps the keys in. On error the old keys stay.
func (k *Ring) Reload(src Source) (Set, error) {
	ks, err := src.Load()
	if err != nil {
		return Set{}, err
	}
	k.current.Store(&ks)
	return ks, nil
}
