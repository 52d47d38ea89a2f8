package mint

import (
	"errors"
	"testing"
	"time"

	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/keys"

	"github.com/livekit/protocol/auth"
)

var testCreds = keys.Credentials{APIKey: "APItestkey", APISecret: "0123456789abcdef0123456789abcdef-test-secret"}

func TestMintTokenClaimsAreExact(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 500_000_000, time.UTC)
	minted, err := Sign(testCreds, Request{Room: "standup", Identity: "user-42", Name: "Ada", Lifetime: 90 * time.Second}, now)
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
	got := cases.JWTPayload(t, minted.JWT)
	if g, w := cases.JSON(t, got), cases.JSON(t, want); g != w {
		t.Errorf("claims:\n got %s\nwant %s", g, w)
	}
	if minted.ExpiresAt.Unix() != iat+90 || minted.Room != "standup" || minted.Identity != "user-42" {
		t.Errorf("minted = %+v", minted)
	}
}

func TestMintTokenVerifiesWithLiveKitAuth(t *testing.T) {
	t.Parallel()
	minted, err := Sign(testCreds, Request{Room: "r", Identity: "i", Lifetime: time.Hour}, time.Now())
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
		ours, err := Sign(testCreds, Request{Room: "room/1?x=y", Identity: "user 42", Name: name, Lifetime: 2 * time.Hour}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		at := auth.NewAccessToken(testCreds.APIKey, testCreds.APISecret).
			SetIdentity("user 42").SetName(name).SetVideoGrant(JoinGrant("room/1?x=y")).SetValidFor(2 * time.Hour)
		theirs, err := at.ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		a, b := cases.JWTPayload(t, ours.JWT), cases.JWTPayload(t, theirs)
		for _, k := range []string{"iat", "nbf", "exp"} {
			delete(a, k)
			delete(b, k)
		}
		if g, w := cases.JSON(t, a), cases.JSON(t, b); g != w {
			t.Errorf("name %q:\n ours   %s\n theirs %s", name, g, w)
		}
	}
}

func TestMintTokenFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		creds keys.Credentials
		req   Request
	}{
		{"no key", keys.Credentials{APISecret: testCreds.APISecret}, Request{Room: "r", Identity: "i", Lifetime: time.Hour}},
		{"no secret", keys.Credentials{APIKey: "k"}, Request{Room: "r", Identity: "i", Lifetime: time.Hour}},
		{"no lifetime", testCreds, Request{Room: "r", Identity: "i"}},
	}
	for _, c := range cases {
		_, err := Sign(c.creds, c.req, time.Now())
		if !errors.Is(err, ErrSigning) {
			t.Errorf("%s: err = %v, want ErrSigning", c.name, err)
		}
	}
}
