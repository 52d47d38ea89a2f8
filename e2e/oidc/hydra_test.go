package oidc

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

// TestHydraHarness: the provider the suite relies on behaves as the suite
// assumes: client-credentials tokens are RS256 JWTs with iss, aud, sub and
// kid; rotating the key changes the kid and publishes both keys; a halted
// Hydra resumes with its keys.
func TestHydraHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Ory Hydra (-short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := harness.HydraBinary(ctx)
	if err != nil {
		harness.Unavailable(t, err)
	}
	h, err := harness.StartHydra(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("hydra output (redacted):\n%s", harness.Tail(h.Logs(), 40))
		}
		if err := h.Stop(); err != nil {
			t.Error(err)
		}
	})
	c, err := h.CreateClient(ctx, "lktoken-e2e")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.Token(ctx, c, "lktoken-e2e")
	if err != nil {
		t.Fatal(err)
	}
	head, claims := jwtParts(t, tok)
	t.Logf("header %v, claims iss=%v sub=%v aud=%v", head, claims["iss"], claims["sub"], claims["aud"])
	if head["alg"] != "RS256" || head["kid"] == "" || claims["iss"] != h.Issuer || claims["sub"] != c.ID {
		t.Fatalf("token header %v claims %v", head, claims)
	}
	kid, err := h.RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tok2, err := h.Token(ctx, c, "lktoken-e2e")
	if err != nil {
		t.Fatal(err)
	}
	head2, _ := jwtParts(t, tok2)
	if head2["kid"] != kid || kid == head["kid"] {
		t.Fatalf("after rotation: kid %v, new key %v, old %v", head2["kid"], kid, head["kid"])
	}
	jwks, err := h.JWKS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(jwks), kid) || !strings.Contains(string(jwks), head["kid"].(string)) {
		t.Fatalf("JWKS after rotation lacks a kid: %s", jwks)
	}
	if err := h.Halt(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Token(ctx, c, "lktoken-e2e"); err == nil {
		t.Fatal("token from a halted Hydra")
	}
	if err := h.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	tok3, err := h.Token(ctx, c, "lktoken-e2e")
	if err != nil {
		t.Fatal(err)
	}
	if head3, _ := jwtParts(t, tok3); head3["kid"] != kid {
		t.Fatalf("after resume: kid %v, want %v", head3["kid"], kid)
	}
}
