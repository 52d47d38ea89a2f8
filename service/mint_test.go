package service

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
)

var testCreds = Credentials{APIKey: "APItestkey", APISecret: "0123456789abcdef0123456789abcdef-test-secret"}

// jwtPayload decodes a JWT's claims without verifying them.
func jwtPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("decode payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("unmarshal payload: %v", err)
	}
	return m
}

func TestMintTokenClaimsAreExact(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 500_000_000, time.UTC)
	minted, err := MintToken(testCreds, TokenRequest{Room: "standup", Identity: "user-42", Name: "Ada", Lifetime: 90 * time.Second}, now)
	if err != nil {
		t.Fatal(err)
	}
	iat := now.Truncate(time.Second).Unix()
	want := map[string]any{
		"iss":      "APItestkey",
		"sub":      "user-42",
		"iat":      float64(iat),
		"nbf":      float64(iat),
		"exp":      float64(iat + 90),
		"identity": "user-42",
		"name":     "Ada",
		"video": map[string]any{
			"roomJoin":          true,
			"room":              "standup",
			"canPublish":        true,
			"canPublishSources": []any{"microphone"},
			"canSubscribe":      true,
			"canPublishData":    false,
		},
	}
	got := jwtPayload(t, minted.JWT)
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("claims:\n got %s\nwant %s", g, w)
	}
	if minted.ExpiresAt.Unix() != iat+90 || minted.Room != "standup" || minted.Identity != "user-42" {
		t.Errorf("minted = %+v", minted)
	}
}

func TestMintTokenVerifiesWithLiveKitAuth(t *testing.T) {
	t.Parallel()
	minted, err := MintToken(testCreds, TokenRequest{Room: "r", Identity: "i", Lifetime: time.Hour}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.ParseAPIToken(minted.JWT)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIKey() != testCreds.APIKey || v.Identity() != "i" {
		t.Errorf("key %q identity %q", v.APIKey(), v.Identity())
	}
	_, grants, err := v.Verify(testCreds.APISecret)
	if err != nil {
		t.Fatalf("Verify with the right secret: %v", err)
	}
	if !grants.Video.RoomJoin || grants.Video.Room != "r" {
		t.Errorf("grants = %+v", grants.Video)
	}
	if _, _, err := v.Verify("another-secret-of-sufficient-length-000"); err == nil {
		t.Error("Verify with a wrong secret succeeded")
	}
}

// Our claims must be exactly what LiveKit's own builder produces for the same
// grant, apart from the times it takes from the wall clock.
func TestMintTokenMatchesLiveKitAccessToken(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "Ada Lovelace", "日本語 ✓"} {
		ours, err := MintToken(testCreds, TokenRequest{Room: "room/1?x=y", Identity: "user 42", Name: name, Lifetime: 2 * time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		at := auth.NewAccessToken(testCreds.APIKey, testCreds.APISecret).
			SetIdentity("user 42").SetName(name).SetVideoGrant(JoinGrant("room/1?x=y")).SetValidFor(2 * time.Hour)
		theirs, err := at.ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		a, b := jwtPayload(t, ours.JWT), jwtPayload(t, theirs)
		for _, k := range []string{"iat", "nbf", "exp"} {
			delete(a, k)
			delete(b, k)
		}
		if g, w := mustJSON(t, a), mustJSON(t, b); g != w {
			t.Errorf("name %q:\n ours   %s\n theirs %s", name, g, w)
		}
	}
}

func TestMintTokenFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		creds Credentials
		req   TokenRequest
	}{
		{"no key", Credentials{APISecret: testCreds.APISecret}, TokenRequest{Room: "r", Identity: "i", Lifetime: time.Hour}},
		{"no secret", Credentials{APIKey: "k"}, TokenRequest{Room: "r", Identity: "i", Lifetime: time.Hour}},
		{"no lifetime", testCreds, TokenRequest{Room: "r", Identity: "i"}},
	}
	for _, c := range cases {
		_, err := MintToken(c.creds, c.req, time.Now())
		if !errors.Is(err, ErrSigning) {
			t.Errorf("%s: err = %v, want ErrSigning", c.name, err)
		}
	}
}

func TestCredentialsNeverPrintTheSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{testCreds.String(), testCreds.GoString()} {
		if strings.Contains(s, testCreds.APISecret) || !strings.Contains(s, "[redacted]") {
			t.Errorf("printed credentials: %s", s)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
