package keys

import (
	"errors"

	"github.com/lktoken/lktoken/service/setting"
)

// MinSecretLength is the shortest API secret accepted outside dev mode. The
// token is an HMAC-SHA256 JWT; LiveKit's own generated secrets are longer.
const MinSecretLength = 32

// Dev-mode credentials: what `livekit-server --dev` accepts.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "secret"
	DevServerURL = "ws://localhost:7880"
)

// Credentials are the LiveKit API key (the token's issuer) and the secret that
// signs tokens. The secret must never be logged; String and GoString redact it
// so that a stray %v cannot leak it.
type Credentials struct {
	APIKey    string
	APISecret string
}

// String returns the key with the secret redacted.
func (c Credentials) String() string {
	return "Credentials{APIKey: " + c.APIKey + ", APISecret: [redacted]}"
}

// GoString returns the key with the secret redacted.
func (c Credentials) GoString() string { return c.String() }

// check reports what is missing or unsafe; secret is the field that held
// the secret.
func (c Credentials) check(secret setting.Field) error {
	errs := []error{c.checkKey()}
	switch {
	case c.APISecret == "":
		errs = append(errs, setting.Errorf("%s is not set: set it (or %s, a file holding it) to your LiveKit API secret (or run with %s for local development)", FieldSecret, FieldSecretFile, FieldDev))
	case WeakSecret(c.APISecret) != "":
		errs = append(errs, setting.Errorf("%s is too weak: %s (generate one with `openssl rand -base64 48`)", secret, WeakSecret(c.APISecret)))
	}
	return errors.Join(errs...)
}

// checkKey reports a missing key.
func (c Credentials) checkKey() error {
	if c.APIKey == "" {
		return setting.Errorf("%s is not set: set it to your LiveKit API key (or run with %s for local development)", FieldAPIKey, FieldDev)
	}
	return nil
}
