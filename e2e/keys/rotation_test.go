package keys

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/lktoken/lktoken/e2e/harness"
	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// mint returns a token from lt, checking which key signed it.
func mint(t *testing.T, ctx context.Context, lt *harness.LKToken, signer string) string {
	t.Helper()
	resp, err := lt.Client(nil).GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{RoomName: "standup", ParticipantIdentity: "user-42"})
	if err != nil {
		t.Fatalf("GenerateToken: %v", err)
	}
	v, err := auth.ParseAPIToken(resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIKey() != signer {
		t.Fatalf("token signed by %q, want %q", v.APIKey(), signer)
	}
	return resp.Token
}

// accepts checks what livekit-server's /rtc/validate answers for token.
func accepts(t *testing.T, ctx context.Context, lk *harness.LiveKit, what, token string, want int) {
	t.Helper()
	code, _, err := lk.Validate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if code != want {
		t.Errorf("%s: LiveKit answered %d, want %d", what, code, want)
	}
}

// waitLog waits until lt has logged s.
func waitLog(t *testing.T, lt *harness.LKToken, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(lt.Logs(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("lktoken did not log %s within 30s:\n%s", s, harness.Tail(lt.Logs(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The key rotation recipe of docs/operations.md ("Rotation"), step by step,
// against the real binaries sharing one keys file: every token is accepted by
// the LiveKit server while its key is in the file, and the old key's tokens
// are refused once it is gone. livekit-server reads key_file only when it
// starts (v1.13.3 has no SIGHUP handler: a HUP stops it), so the recipe
// restarts it where lktoken gets a HUP. The switch of the signing key is a
// HUP too (LIVEKIT_API_KEY_FILE), with no restart of lktoken.
func TestRotationRecipe(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 14*time.Minute)
	defer cancel()
	bin := binaries(t, ctx)
	dir := t.TempDir()
	keys, signer := filepath.Join(dir, "keys.yaml"), filepath.Join(dir, "signing-key")
	restartLiveKit := func(lk *harness.LiveKit) *harness.LiveKit {
		t.Helper()
		if err := lk.Stop(); err != nil {
			t.Fatal(err)
		}
		return startLiveKit(t, ctx, bin.livekit, keys, secretA, secretB)
	}

	// Step 1: every lktoken names its signing key in a file.
	writeKeys(t, keys, "keyA: "+secretA+"\n")
	writeKeys(t, signer, "keyA\n")
	lk := startLiveKit(t, ctx, bin.livekit, keys, secretA, secretB)
	lt := startLKToken(t, ctx, bin.lktoken, harness.LKTokenOptions{
		LiveKitURL: "ws://127.0.0.1:1", // handed to clients only
		Env:        []string{"LIVEKIT_KEYS_FILE=" + keys, "LIVEKIT_API_KEY_FILE=" + signer},
		Secrets:    []string{secretA, secretB},
	})
	old := mint(t, ctx, lt, "keyA")
	accepts(t, ctx, lk, "step 1, keyA", old, 200)

	// Step 2: add the new key; restart livekit-server, HUP lktoken.
	writeKeys(t, keys, "keyA: "+secretA+"\nkeyB: "+secretB+"\n")
	lk = restartLiveKit(lk)
	if err := lt.Reload(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lt, `"msg":"keys reloaded","signing_key":"keyA","key_ids":["keyA","keyB"]`)
	accepts(t, ctx, lk, "step 2, keyA", mint(t, ctx, lt, "keyA"), 200)

	// Step 3: switch the signing key: name keyB in the file, HUP lktoken.
	writeKeys(t, signer, "keyB\n")
	if err := lt.Reload(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lt, `"msg":"keys reloaded","signing_key":"keyB","key_ids":["keyA","keyB"]`)
	accepts(t, ctx, lk, "step 3, keyB", mint(t, ctx, lt, "keyB"), 200)
	accepts(t, ctx, lk, "step 3, a keyA token of step 1", old, 200)

	// Step 4: drop the old key; restart livekit-server, HUP lktoken.
	writeKeys(t, keys, "keyB: "+secretB+"\n")
	lk = restartLiveKit(lk)
	if err := lt.Reload(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, lt, `"msg":"keys reloaded","signing_key":"keyB","key_ids":["keyB"]`)
	accepts(t, ctx, lk, "step 4, keyB", mint(t, ctx, lt, "keyB"), 200)
	accepts(t, ctx, lk, "step 4, a keyA token of step 1", old, 401)
}
