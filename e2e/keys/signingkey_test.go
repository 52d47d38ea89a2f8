package keys

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/lktoken/lktoken/e2e/harness"
	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// The signing key switches without a restart, under load on both token
// routes, against a real livekit-server that holds the old key A and the new
// key B: lktoken reads both from LIVEKIT_KEYS_FILE and signs with the one
// LIVEKIT_API_KEY_FILE names. The switch (rewrite that file, SIGHUP) and the
// drop of A from lktoken's keys file (SIGHUP) fail no request; both keys
// sign; livekit-server accepts every token issued.
func TestSigningKeySwitchUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 14*time.Minute)
	defer cancel()
	bin := binaries(t, ctx)
	dir := t.TempDir()
	lkKeys, keys, signer := filepath.Join(dir, "livekit-keys.yaml"), filepath.Join(dir, "keys.yaml"), filepath.Join(dir, "signing-key")
	both := "keyA: " + secretA + "\nkeyB: " + secretB + "\n"
	writeKeys(t, lkKeys, both)
	writeKeys(t, keys, both)
	writeKeys(t, signer, "keyA\n")
	lk := startLiveKit(t, ctx, bin.livekit, lkKeys, secretA, secretB)
	lt := startLKToken(t, ctx, bin.lktoken, harness.LKTokenOptions{
		LiveKitURL: lk.WSURL,
		Env:        []string{"LIVEKIT_KEYS_FILE=" + keys, "LIVEKIT_API_KEY_FILE=" + signer},
		Secrets:    []string{secretA, secretB},
	})

	var sent, failed atomic.Int64
	var mu sync.Mutex
	signedBy := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := lt.Client(nil)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				identity := fmt.Sprintf("user-%d-%d", c, n)
				var token string
				var err error
				if c%2 == 0 {
					var resp *lktokenv1.GenerateTokenResponse
					if resp, err = client.GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{RoomName: "rotation", ParticipantIdentity: identity}); err == nil {
						token = resp.Token
					}
				} else {
					token, err = tokenEndpoint(ctx, lt.URL, `{"room_name":"rotation","participant_identity":"`+identity+`"}`)
				}
				if err == nil {
					var code int
					var body string
					if code, body, err = lk.Validate(ctx, token); err == nil && (code != http.StatusOK || body != "success") {
						err = fmt.Errorf("livekit-server refused the token: HTTP %d %q", code, body)
					}
				}
				var v *auth.APIKeyTokenVerifier
				if err == nil {
					v, err = auth.ParseAPIToken(token)
				}
				if err != nil {
					failed.Add(1)
					t.Errorf("request %d of client %d: %v", n, c, err)
					return
				}
				mu.Lock()
				signedBy[v.APIKey()]++
				mu.Unlock()
			}
		}()
	}
	more := func(n int64, what string) {
		t.Helper()
		target := sent.Load() + n
		deadline := time.Now().Add(time.Minute)
		for sent.Load() < target && failed.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no %d more requests %s", n, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	reload := func(want string, n int) {
		t.Helper()
		if err := lt.Reload(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(lt.Logs(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("lktoken did not log %s (%d) within 30s:\n%s", want, n, harness.Tail(lt.Logs(), 20))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	more(100, "signed by keyA")
	writeKeys(t, signer, "keyB\n") // make keyB sign
	reload(`"msg":"keys reloaded","signing_key":"keyB","key_ids":["keyA","keyB"]`, 1)
	more(100, "after the switch")
	writeKeys(t, keys, "keyB: "+secretB+"\n") // drop keyA from lktoken
	reload(`"msg":"keys reloaded","signing_key":"keyB","key_ids":["keyB"]`, 1)
	more(100, "after dropping keyA")
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d failed, signed by %v", sent.Load(), failed.Load(), signedBy)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if signedBy["keyA"] == 0 || signedBy["keyB"] == 0 || len(signedBy) != 2 {
		t.Errorf("signed by %v: want keyA and keyB, nothing else", signedBy)
	}
}

// tokenEndpoint POSTs body to LiveKit's standard token endpoint and returns
// the participant_token of its 201 answer.
func tokenEndpoint(ctx context.Context, base, body string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/token", bytes.NewReader([]byte(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	var answer struct {
		ParticipantToken string `json:"participant_token"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &answer) != nil || answer.ParticipantToken == "" {
		return "", fmt.Errorf("/api/token: HTTP %d %.200s", resp.StatusCode, raw)
	}
	return answer.ParticipantToken, nil
}
