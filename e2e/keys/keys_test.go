// Package keys proves, against a real livekit-server, that one LiveKit
// keys.yaml serves livekit-server (key_file) and lktoken
// (LIVEKIT_KEYS_FILE).
package keys

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/testserver"
)

// writeKeys writes a keys file with a rename: a reader never sees half of it.
func writeKeys(t *testing.T, path, content string) { testserver.WriteFile(t, path, content) }

// servers are the binaries every test here runs.
type servers struct {
	livekit, lktoken string
}

func binaries(t *testing.T, ctx context.Context) servers {
	t.Helper()
	lk, err := harness.LiveKitBinary(ctx)
	if err != nil {
		harness.Unavailable(t, err)
	}
	lt, err := harness.BuildLKToken(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return servers{livekit: lk, lktoken: lt}
}

func startLiveKit(t *testing.T, ctx context.Context, bin, keyFile string, secrets ...string) *harness.LiveKit {
	t.Helper()
	lk, err := harness.StartLiveKitWithKeyFile(ctx, bin, keyFile, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("livekit-server output (last lines, redacted):\n%s", harness.Tail(lk.Logs(), 40))
		}
		if err := lk.Stop(); err != nil {
			t.Error(err)
		}
	})
	return lk
}

func startLKToken(t *testing.T, ctx context.Context, bin string, opts harness.LKTokenOptions) *harness.LKToken {
	t.Helper()
	lt, err := harness.StartLKToken(ctx, bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(lt.Logs(), 20))
		}
		if err := lt.Stop(); err != nil {
			t.Error(err)
		}
	})
	return lt
}

// validate mints a token from lt and returns what livekit-server's
// /rtc/validate answers for it.
func validate(t *testing.T, ctx context.Context, lk *harness.LiveKit, lt *harness.LKToken) int {
	t.Helper()
	resp, err := lt.Client(nil).GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{RoomName: "standup", ParticipantIdentity: "user-42"})
	if err != nil {
		t.Fatalf("GenerateToken: %v", err)
	}
	code, _, err := lk.Validate(ctx, resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// Secrets of these tests: random-looking, at least 32 characters.
const (
	secretA = "kA1-9f8e7d6c5b4a3928171605f4e3d2c1b0a99"
	secretB = "kB-aa55bb66cc77dd88ee99ff00112233445566"
	secretC = "kA3-5e4d3c2b1a09f8e7d6c5b4a39281706f22"
)

// One keys.yaml serves livekit-server (key_file) and lktoken
// (LIVEKIT_KEYS_FILE): tokens signed with either key are accepted by the real
// server, so the signing key can move from one to the other; a token signed
// with a key LiveKit does not know is refused.
func TestSharedKeysFileWithRealLiveKit(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 14*time.Minute)
	defer cancel()
	bin := binaries(t, ctx)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.yaml")
	writeKeys(t, keys, "keyA: "+secretA+"\nkeyB: "+secretB+"\n")
	lk := startLiveKit(t, ctx, bin.livekit, keys, secretA, secretB)
	for _, signer := range []string{"keyA", "keyB"} {
		lt := startLKToken(t, ctx, bin.lktoken, harness.LKTokenOptions{
			LiveKitURL: lk.WSURL,
			Env:        []string{"LIVEKIT_KEYS_FILE=" + keys, "LIVEKIT_API_KEY=" + signer},
			Secrets:    []string{secretA, secretB},
		})
		if code := validate(t, ctx, lk, lt); code != 200 {
			t.Errorf("token signed by %s: LiveKit answered %d", signer, code)
		}
	}
	other := filepath.Join(dir, "other.yaml")
	writeKeys(t, other, "keyC: "+secretC+"\n")
	lt := startLKToken(t, ctx, bin.lktoken, harness.LKTokenOptions{
		LiveKitURL: "ws://127.0.0.1:1",
		Env:        []string{"LIVEKIT_KEYS_FILE=" + other},
		Secrets:    []string{secretC},
	})
	if code := validate(t, ctx, lk, lt); code != 401 {
		t.Errorf("token signed by an unknown key: LiveKit answered %d, want 401", code)
	}
}
