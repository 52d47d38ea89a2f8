package kubernetes

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The load: a few workers, each minting a token, then pausing: a steady,
// bounded rate (about 100 tokens/s) that a drain or a failed pod would
// show as failed requests.
const (
	workers = 3
	pause   = 25 * time.Millisecond
)

// result is one request of the load.
type result struct {
	start, end time.Time
	status     int
	err        error
	token, url string
	body       string
}

// load mints tokens through url (the Service's ClusterIP) until finished,
// on both routes in turn.
type load struct {
	url    string
	client *http.Client
	stop   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	res    []result
}

func startLoad(url string) *load {
	l := &load{url: url, stop: make(chan struct{}), client: newClient()}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				r := l.one(w, i)
				l.mu.Lock()
				l.res = append(l.res, r)
				l.mu.Unlock()
				time.Sleep(pause)
			}
		}()
	}
	return l
}

// newClient is the load's HTTP client: kept-alive connections, as a real
// client keeps them (a drain must close them without failing a request).
func newClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, IdleConnTimeout: 5 * time.Second},
	}
}

func (l *load) one(w, i int) result {
	identity := fmt.Sprintf("w%d-%d", w, i)
	r := result{start: time.Now()}
	defer func() { r.end = time.Now() }()
	// LiveKit's token endpoint answers 201 Created, Connect 200.
	route, body, field, urlField, want := "/api/token", `{"room_name":"k8s","participant_identity":"`+identity+`"}`, "participant_token", "server_url", http.StatusCreated
	if i%2 == 0 {
		route, body, field, urlField, want = "/lktoken.v1.TokenService/GenerateToken", `{"roomName":"k8s","participantIdentity":"`+identity+`"}`, "token", "serverUrl", http.StatusOK
	}
	resp, err := l.client.Post(l.url+route, "application/json", strings.NewReader(body))
	if err != nil {
		r.err = err
		r.end = time.Now()
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	r.status, r.end = resp.StatusCode, time.Now()
	if err != nil {
		r.err = err
		return r
	}
	var m map[string]any
	if resp.StatusCode == want && json.Unmarshal(b, &m) == nil {
		r.token, _ = m[field].(string)
		r.url, _ = m[urlField].(string)
	}
	if r.token == "" {
		r.body = jwtPattern.ReplaceAllString(string(b), "[TOKEN]")
	}
	return r
}

// finish stops the load and returns every result.
func (l *load) finish() []result {
	close(l.stop)
	l.wg.Wait()
	return l.res
}

// keyEpoch says which API keys may sign from a moment on.
type keyEpoch struct {
	from time.Time
	keys []string
}

// keyring is every key's secret and the epochs of the run.
type keyring struct {
	mu      sync.Mutex
	secrets map[string]string
	epochs  []keyEpoch
}

// allow starts an epoch in which keys may sign.
func (k *keyring) allow(keys ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.epochs = append(k.epochs, keyEpoch{from: time.Now(), keys: keys})
}

// allowedDuring lists the keys that could sign a request made in [start, end].
func (k *keyring) allowedDuring(start, end time.Time) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var keys []string
	for i, e := range k.epochs {
		next := time.Time{}
		if i+1 < len(k.epochs) {
			next = k.epochs[i+1].from
		}
		if e.from.After(end) || (!next.IsZero() && !next.After(start)) {
			continue
		}
		keys = append(keys, e.keys...)
	}
	return keys
}

// check verifies a token: HS256 by a key allowed at its moment, for the
// identity the load asked for, in the room it asked for. It returns the key.
func (k *keyring) check(r result) (string, error) {
	parts := strings.Split(r.token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWT (%d parts)", len(parts))
	}
	var header struct{ Alg string }
	var claims struct {
		Iss, Sub string
		Exp      int64
		Video    struct{ Room string }
	}
	for i, v := range []any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return "", err
		}
	}
	if header.Alg != "HS256" {
		return "", fmt.Errorf("alg %q", header.Alg)
	}
	k.mu.Lock()
	secret, ok := k.secrets[claims.Iss]
	k.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("signed by unknown key %q", claims.Iss)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return "", fmt.Errorf("signature does not verify with %s's secret", claims.Iss)
	}
	if allowed := k.allowedDuring(r.start, r.end); !slices.Contains(allowed, claims.Iss) {
		return "", fmt.Errorf("signed by %s, but only %v could sign at %s", claims.Iss, allowed, r.start.Format("15:04:05.000"))
	}
	if claims.Video.Room != "k8s" || !strings.HasPrefix(claims.Sub, "w") || claims.Exp <= time.Now().Unix() {
		return "", fmt.Errorf("claims room %q sub %q exp %d", claims.Video.Room, claims.Sub, claims.Exp)
	}
	return claims.Iss, nil
}

// jwtPattern matches a JWT, which a failure's body must not show.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)

// signer is the API key that signed a token (its iss claim), unverified.
func signer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct{ Iss string }
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.Iss
}
