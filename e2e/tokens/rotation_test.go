package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
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

// The signing-key rotation of docs/operations.md, against a real
// livekit-server that holds the old key A and the new key B: lktoken reads
// both from LIVEKIT_KEYS_FILE and signs with the one LIVEKIT_API_KEY_FILE
// names. Under load on both token routes it switches from A to B (rewrite
// the signing-key file, SIGHUP) and then drops A from its keys file
// (SIGHUP). No request fails, both keys sign, and livekit-server accepts
// every token issued (GET /rtc/validate answers 200 "success").
func TestSigningKeyRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	env(t) // builds the binaries (or skips when livekit-server cannot be had)
	ctx := ctxFor(t, 5*time.Minute)
	a, b := harness.NewCredentials(), harness.NewCredentials()
	lk, err := harness.StartLiveKitWithKeys(ctx, lkBin, a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := lk.Stop(); err != nil {
			t.Error(err)
		}
	}()
	dir := t.TempDir()
	keysPath, idPath := filepath.Join(dir, "keys.yaml"), filepath.Join(dir, "signing-key")
	write := func(path, content string) {
		t.Helper()
		tmp := path + ".tmp" // a rename: lktoken never reads half a file
		if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(keysPath, a.APIKey+": "+a.APISecret+"\n"+b.APIKey+": "+b.APISecret+"\n")
	write(idPath, a.APIKey+"\n")
	lt, err := harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		KeysFile: keysPath, APIKeyFile: idPath, Secrets: []string{a.APISecret, b.APISecret}, LiveKitURL: lk.WSURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(lt.Logs(), 30))
		}
		if err := lt.Stop(); err != nil {
			t.Error(err)
		}
	}()

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
				var token string
				var err error
				if c%2 == 0 {
					var resp *lktokenv1.GenerateTokenResponse
					resp, err = client.GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{
						RoomName: "rotation", ParticipantIdentity: fmt.Sprintf("user-%d-%d", c, n)})
					if err == nil {
						token = resp.Token
					}
				} else {
					token, err = tokenEndpoint(ctx, lt.URL, fmt.Sprintf(`{"room_name":"rotation","participant_identity":"user-%d-%d"}`, c, n))
				}
				if err == nil {
					var status int
					var body string
					status, body, err = lk.Validate(ctx, token)
					if err == nil && (status != http.StatusOK || body != "success") {
						err = fmt.Errorf("livekit-server refused the token: HTTP %d %q", status, body)
					}
				}
				if err != nil {
					failed.Add(1)
					t.Errorf("request %d of client %d: %v", n, c, err)
					return
				}
				v, err := auth.ParseAPIToken(token)
				if err != nil {
					t.Error(err)
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
	reload := func(n int) {
		t.Helper()
		if err := lt.Reload(); err != nil {
			t.Fatal(err)
		}
		want := `"msg":"keys reloaded","signing_key":"` + b.APIKey + `"`
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(lt.Logs(), want) < n {
			if time.Now().After(deadline) {
				t.Fatalf("no reload line %d naming %s", n, b.APIKey)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	more(100, "signed by A")
	write(idPath, b.APIKey+"\n") // make B sign
	reload(1)
	more(100, "after the switch")
	write(keysPath, b.APIKey+": "+b.APISecret+"\n") // drop A
	reload(2)
	more(100, "after dropping A")
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d failed, signed by %v (A = %s, B = %s)", sent.Load(), failed.Load(), signedBy, a.APIKey, b.APIKey)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if signedBy[a.APIKey] == 0 || signedBy[b.APIKey] == 0 || len(signedBy) != 2 {
		t.Errorf("signed by %v: want A and B, nothing else", signedBy)
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
