package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fetchError is a failed discovery or key-set fetch. Its reason is short and
// ours, never the provider's words: it is what State (and so the public
// /readyz) shows. Its detail, for the log only, keeps at most
// maxExcerptBytes of what the provider or the network said, sanitized.
type fetchError struct {
	reason string
	detail string
}

func (e *fetchError) Error() string {
	if e.detail == "" {
		return e.reason
	}
	return e.reason + ": " + e.detail
}

// maxExcerptBytes bounds the upstream text a log line keeps.
const maxExcerptBytes = 256

// excerpt makes s fit for one log line: control and bidi-override
// characters and invalid UTF-8 become spaces, and it is cut to
// maxExcerptBytes.
func excerpt(s string) string {
	if len(s) > 4*maxExcerptBytes {
		s = s[:4*maxExcerptBytes]
	}
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return ' '
		}
		return r
	}, s)
	if len(s) <= maxExcerptBytes {
		return s
	}
	cut := maxExcerptBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// maxDocumentBytes bounds a discovery document and a key set.
const maxDocumentBytes = 1 << 20

// get fetches u and returns the body of a 200 answer, read up to
// maxDocumentBytes; what names the step in a failure's reason.
func get(ctx context.Context, client *http.Client, u, accept, what string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &fetchError{reason: what + " failed: not a URL", detail: excerpt(err.Error())}
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, &fetchError{reason: what + " failed: no answer", detail: excerpt(err.Error())}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// The status code only: the reason phrase is the provider's text.
		start, _ := io.ReadAll(io.LimitReader(resp.Body, maxExcerptBytes+1))
		return nil, &fetchError{reason: fmt.Sprintf("%s failed: HTTP %d", what, resp.StatusCode), detail: excerpt(string(start))}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return nil, &fetchError{reason: what + " failed: the answer broke off", detail: excerpt(err.Error())}
	}
	if len(body) > maxDocumentBytes {
		return nil, &fetchError{reason: fmt.Sprintf("%s failed: the answer is larger than %d MiB", what, maxDocumentBytes>>20)}
	}
	return body, nil
}

// maxKeysURLBytes bounds the jwks_uri a discovery document may name.
const maxKeysURLBytes = 2048

// discover reads the provider's discovery document (OpenID Connect
// Discovery 4), once, for its jwks_uri. Its issuer must be the configured
// one exactly (4.3). Both are read by their exact keys.
func (v *Verifier) discover(ctx context.Context) error {
	if v.keys.url.Load() != nil {
		return nil
	}
	u := strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	body, err := get(ctx, v.cfg.HTTPClient, u, "application/json", "discovery")
	if err != nil {
		return err
	}
	var meta map[string]any
	if err := json.Unmarshal(body, &meta); err != nil {
		return &fetchError{reason: "discovery failed: not a JSON object", detail: excerpt(err.Error())}
	}
	if iss, _ := meta["issuer"].(string); iss != v.cfg.Issuer {
		return &fetchError{reason: "discovery failed: the document names another issuer", detail: excerpt(fmt.Sprintf("%q", iss))}
	}
	keysURL, _ := meta["jwks_uri"].(string)
	switch {
	case keysURL == "":
		return &fetchError{reason: "discovery failed: no jwks_uri"}
	case len(keysURL) > maxKeysURLBytes:
		return &fetchError{reason: fmt.Sprintf("discovery failed: jwks_uri is longer than %d bytes", maxKeysURLBytes)}
	}
	if err := checkURL(keysURL); err != nil {
		return &fetchError{reason: "discovery failed: jwks_uri is not a usable URL", detail: excerpt(err.Error())}
	}
	if strings.HasPrefix(v.cfg.Issuer, "https://") && !strings.HasPrefix(keysURL, "https://") {
		// Keys fetched in the clear could be replaced on the way.
		return &fetchError{reason: "discovery failed: jwks_uri is not https", detail: excerpt(keysURL)}
	}
	v.keys.url.Store(&keysURL)
	v.cfg.Log.Info("oidc provider discovered", "issuer", v.cfg.Issuer, "jwks_uri", keysURL)
	return nil
}
