package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySet is one loaded JWKS: the public signature keys, by kid.
type keySet struct {
	byKid   map[string][]jose.JSONWebKey
	all     []jose.JSONWebKey
	fetched time.Time
}

func (s *keySet) lookup(kid string) []jose.JSONWebKey {
	if s == nil {
		return nil
	}
	if kid == "" {
		return s.all
	}
	return s.byKid[kid]
}

// keyStore keeps the last good key set of a provider and reloads it: in the
// background, and when a token names an unknown kid (at most once per
// refetchInterval, one fetch at a time, every waiting caller sharing it).
// The provider being down never empties it.
type keyStore struct {
	client          *http.Client
	now             func() time.Time
	refetchInterval time.Duration

	url  atomic.Pointer[string] // the JWKS URL, once known
	keys atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    chan struct{} // closed when the running fetch ends
	lastAttempt time.Time     // of a fetch triggered by an unknown kid
	lastErr     error         // of the last fetch, nil after a success
	lastErrAt   time.Time
	onChange    func(old, new *keySet)
	// failed gets a signal (never blocking) when a fetch fails.
	failed chan struct{}
}

// errNoKeysURL: discovery has not told us where the keys are yet.
var errNoKeysURL = &fetchError{reason: "the key set URL is not known yet (discovery has not succeeded)"}

// fetch loads the key set now and keeps it when it is good. Concurrent
// callers share one request.
func (s *keyStore) fetch(ctx context.Context) error {
	s.mu.Lock()
	if ch := s.inflight; ch != nil {
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		err := s.lastErr
		s.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	s.inflight = ch
	s.mu.Unlock()

	ks, err := s.load(ctx)

	s.mu.Lock()
	old := s.keys.Load()
	if err == nil {
		s.keys.Store(ks)
		s.lastErr = nil
	} else {
		s.lastErr, s.lastErrAt = err, s.now()
		select {
		case s.failed <- struct{}{}:
		default:
		}
	}
	onChange := s.onChange
	s.inflight = nil
	close(ch)
	s.mu.Unlock()
	if err == nil && onChange != nil {
		onChange(old, ks)
	}
	return err
}

// refetchForUnknownKid fetches again unless a fetch for an unknown kid
// started less than refetchInterval ago; it reports whether it fetched.
func (s *keyStore) refetchForUnknownKid(ctx context.Context) bool {
	s.mu.Lock()
	now := s.now()
	if s.inflight == nil && !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.refetchInterval {
		s.mu.Unlock()
		return false
	}
	if s.inflight == nil {
		s.lastAttempt = now
	}
	s.mu.Unlock()
	_ = s.fetch(ctx)
	return true
}

func (s *keyStore) load(ctx context.Context) (*keySet, error) {
	u := s.url.Load()
	if u == nil {
		return nil, errNoKeysURL
	}
	body, err := get(ctx, s.client, *u, "application/json, application/jwk-set+json", "key set fetch")
	if err != nil {
		return nil, err
	}
	ks, err := parseKeySet(body)
	if err != nil {
		return nil, &fetchError{reason: "key set fetch failed: no usable key set", detail: excerpt(err.Error())}
	}
	ks.fetched = s.now()
	return ks, nil
}

// parseKeySet keeps the usable public signature keys of a JWKS: RSA (2048
// bits or more), ECDSA and Ed25519, not marked for encryption. Keys of other
// types, or that go-jose cannot read, are skipped as RFC 7517 5 asks; a set
// with none left is an error, so a bad answer never replaces good keys.
func parseKeySet(body []byte) (*keySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	ks := &keySet{byKid: map[string][]jose.JSONWebKey{}}
	for _, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
			// A provider that publishes private keys is broken; use only the
			// public half.
			k = k.Public()
		default:
			continue // symmetric ("oct") and unknown keys never verify a caller
		}
		ks.all = append(ks.all, k)
		ks.byKid[k.KeyID] = append(ks.byKid[k.KeyID], k)
	}
	if len(ks.all) == 0 {
		return nil, errors.New("no usable signature key in the set")
	}
	return ks, nil
}

// recordErr notes a failure outside fetch (discovery) for status.
func (s *keyStore) recordErr(err error) {
	s.mu.Lock()
	s.lastErr, s.lastErrAt = err, s.now()
	s.mu.Unlock()
}

// status is what readiness reports.
//
//lint:ignore ST1008 lastErr is the last refresh's error, reported as data; status itself cannot fail
func (s *keyStore) status() (ks *keySet, lastErr error, lastErrAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.Load(), s.lastErr, s.lastErrAt
}
