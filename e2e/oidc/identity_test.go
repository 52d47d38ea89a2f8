package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

// pseudonym is the documented pseudonym (docs/auth.md), computed here
// independently of lktoken: HMAC-SHA256(key, issuer NUL claim), 128 bits in
// lower-case base32 without padding.
func pseudonym(key, issuer, claim string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(issuer + "\x00" + claim))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:16]))
}

// TestPseudonymousIdentityAndKeyReload: with
// LKTOKEN_IDENTITY_MODE=per-session,pseudonymous and the key in a file, a
// Hydra token gets, on both routes, an identity "<pseudonym>~<8 characters>"
// that livekit-server admits with lktoken.subject = the pseudonym; SIGHUP
// reads a new key (new pseudonyms); a weak key on SIGHUP keeps the current
// one. The Hydra subject never shows in lktoken's output.
func TestPseudonymousIdentityAndKeyReload(t *testing.T) {
	s := env(t)
	ctx := ctxFor(t, 3*time.Minute)
	keyFile := filepath.Join(t.TempDir(), "pseudonym-key")
	keys := []string{"first-pseudonym-key-0123456789abcdefghij", "second-pseudonym-key-0123456789abcdefghi"}
	if err := os.WriteFile(keyFile, []byte(keys[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lt, err := harness.StartLKToken(ctx, s.bin, harness.LKTokenOptions{
		Credentials: s.creds,
		LiveKitURL:  s.livekit.WSURL,
		Env: []string{
			"LKTOKEN_OIDC_ISSUER=" + s.hydra.Issuer,
			"LKTOKEN_OIDC_AUDIENCE=" + audience,
			"LKTOKEN_IDENTITY_MODE=per-session,pseudonymous",
			"LKTOKEN_PSEUDONYM_KEY_FILE=" + keyFile,
		},
		Secrets: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pseudonymous lktoken output (last lines):\n%s", harness.Tail(lt.Logs(), 30))
		}
		if err := lt.Stop(); err != nil {
			t.Error(err)
		}
	})
	if err := waitReadyz(ctx, lt.URL); err != nil {
		t.Fatal(err)
	}
	ps := &servers{hydra: s.hydra, livekit: s.livekit, lktoken: lt, client: s.client, creds: s.creds}
	tok := hydraToken(ctx, t, s, audience)
	sub := s.client.ID

	// mintAs mints on route r and returns the identity livekit-server admits
	// and lists, after checking its attribute.
	mintAs := func(r int, key string) string {
		t.Helper()
		room := unique("oidc-pseudonym")
		a := post(ctx, t, ps, routes[r].path, routes[r].body(room, ""), tok)
		if a.status != http.StatusOK && a.status != http.StatusCreated {
			t.Fatalf("%s: %d %s", routes[r].name, a.status, harness.Redact(a.body))
		}
		if _, claims := jwtParts(t, a.minted()); strings.Contains(fmt.Sprint(claims), sub) {
			t.Errorf("%s: the token shows the subject: %v", routes[r].name, claims)
		}
		sc, err := harness.Join(ctx, s.livekit.WSURL, a.minted())
		if err != nil {
			t.Fatalf("%s: join: %v", routes[r].name, err)
		}
		defer sc.Close()
		listed, err := s.livekit.ListParticipants(ctx, room)
		if err != nil || len(listed) != 1 {
			t.Fatalf("%s: ListParticipants: %v %v", routes[r].name, listed, err)
		}
		p := pseudonym(key, s.hydra.Issuer, sub)
		got := listed[0].GetIdentity()
		if !regexp.MustCompile(`^`+p+`~[0-9A-Za-z]{8}$`).MatchString(got) || sc.Join.GetParticipant().GetIdentity() != got ||
			fmt.Sprint(listed[0].GetAttributes()) != "map[lktoken.subject:"+p+"]" {
			t.Errorf("%s: livekit-server lists %q with %v, want %s~<8 characters> with lktoken.subject %s", routes[r].name, got, listed[0].GetAttributes(), p, p)
		}
		t.Logf("%s: Hydra subject %s joined as %q, lktoken.subject %v", routes[r].name, sub, got, listed[0].GetAttributes())
		return got
	}
	for r := range routes {
		mintAs(r, keys[0])
	}

	// A new key on SIGHUP: new pseudonyms.
	if err := os.WriteFile(keyFile, []byte(keys[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := lt.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, func() bool { return strings.Contains(lt.Logs(), `"msg":"pseudonym key reloaded"`) })
	mintAs(0, keys[1])

	// A weak key on SIGHUP is refused; the current key stays.
	if err := os.WriteFile(keyFile, []byte("weak\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := lt.Reload(); err != nil {
		t.Fatal(err)
	}
	waitFor(ctx, t, func() bool {
		return strings.Contains(lt.Logs(), `"msg":"reload failed, keeping the current pseudonym key","error":"LKTOKEN_PSEUDONYM_KEY_FILE `+keyFile+` is too weak: 4 characters, it must be at least 32`)
	})
	mintAs(1, keys[1])

	logs := lt.Logs()
	if strings.Contains(logs, sub) {
		t.Errorf("lktoken's output shows the Hydra subject %s:\n%s", sub, logs)
	}
	if want := `"principal_issuer":"` + s.hydra.Issuer + `","principal_subject":"` + pseudonym(keys[1], s.hydra.Issuer, sub) + `"`; !strings.Contains(logs, want) {
		t.Errorf("no audit line with %s in:\n%s", want, logs)
	}
}

func waitFor(ctx context.Context, t *testing.T, ok func() bool) {
	t.Helper()
	for !ok() {
		select {
		case <-ctx.Done():
			t.Fatal("timed out")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
