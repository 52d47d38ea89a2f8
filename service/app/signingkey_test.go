package app

import (
	"bytes"
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

	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/config"
)

const (
	rotSecretA = "rotation-secret-A-0123456789abcdefghijklmn"
	rotSecretB = "rotation-secret-B-nmlkjihgfedcba9876543210"
)

// The rotation of issue 10 under load, on both token routes: with the keys
// file holding A and B, the signing key switches from A to B by rewriting
// LIVEKIT_API_KEY_FILE and reloading, then A is dropped from the keys file
// and reloaded, then a signing-key file naming an unknown key is refused.
// No request fails; every token verifies with the secret of the key that
// signed it; every request sent after the switch returned is signed by B.
func TestSigningKeySwitchUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	t.Parallel()
	dir := t.TempDir()
	keysPath, idPath := filepath.Join(dir, "keys.yaml"), filepath.Join(dir, "signing-key")
	// With a rename, as docs/operations.md says: never half a file.
	write := func(path, content string) { testserver.WriteFile(t, path, content) }
	write(keysPath, "A: "+rotSecretA+"\nB: "+rotSecretB+"\n")
	write(idPath, "A\n")
	env := map[string]string{"LIVEKIT_KEYS_FILE": keysPath, "LIVEKIT_API_KEY_FILE": idPath, "LIVEKIT_URL": "wss://lk.example.test",
		"LKTOKEN_ALLOWED_ORIGINS": "http://localhost:4200"}
	cfg, err := config.LoadConfig([]string{"--listen", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, cfg)
	srv, logs, base := ts.Srv, ts.Log, ts.URL

	secrets := map[string]string{"A": rotSecretA, "B": rotSecretB}
	var phase atomic.Int32 // 0: A signs; 1: the switch to B has returned
	var sent, failed atomic.Int64
	var mu sync.Mutex
	signedBy := map[string]int{}
	afterSwitch := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			path, body, status, field := generatePath, `{"roomName":"r","participantIdentity":"u"}`, 200, "token"
			if c%2 == 1 {
				path, body, status, field = "/api/token", `{"room_name":"r","participant_identity":"u"}`, 201, "participant_token"
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				sent.Add(1)
				resp, err := client.Post(base+path, "application/json", bytes.NewReader([]byte(body)))
				if err != nil {
					failed.Add(1)
					t.Errorf("%s: %v", path, err)
					return
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var answer map[string]any
				_ = json.Unmarshal(raw, &answer)
				tok, _ := answer[field].(string)
				key, verr := verifyWithKeys(tok, secrets)
				if resp.StatusCode != status || verr != nil {
					failed.Add(1)
					t.Errorf("%s: %d %.200s: %v", path, resp.StatusCode, raw, verr)
					return
				}
				mu.Lock()
				signedBy[key]++
				if p == 1 {
					afterSwitch[key]++
				}
				mu.Unlock()
			}
		}()
	}
	more := func(n int64, what string) {
		t.Helper()
		target := sent.Load() + n
		deadline := time.Now().Add(30 * time.Second)
		for sent.Load() < target && failed.Load() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no %d more requests %s", n, what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	more(300, "before the switch")
	write(idPath, "B\n")
	if err := srv.Reload(); err != nil {
		t.Fatalf("switch to B: %v", err)
	}
	phase.Store(1)
	more(300, "after the switch")
	write(keysPath, "B: "+rotSecretB+"\n")
	if err := srv.Reload(); err != nil {
		t.Fatalf("drop A: %v", err)
	}
	more(300, "after dropping A")
	write(idPath, "C\n")
	if err := srv.Reload(); err == nil {
		t.Error("a signing-key file naming an unknown key was accepted")
	}
	more(300, "after the refused reload")
	close(stop)
	wg.Wait()

	t.Logf("%d requests, %d failed; signed by %v; after the switch %v", sent.Load(), failed.Load(), signedBy, afterSwitch)
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	if signedBy["A"] == 0 || signedBy["B"] == 0 {
		t.Errorf("signed by %v: want both keys", signedBy)
	}
	if afterSwitch["A"] != 0 {
		t.Errorf("%d requests sent after the switch were signed by A", afterSwitch["A"])
	}
	if n := strings.Count(logs.String(), `"msg":"keys reloaded","signing_key":"B"`); n != 2 {
		t.Errorf("%d reload lines naming B, want 2:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"msg":"reload failed, keeping the current keys"`) {
		t.Error("the refused reload is not logged")
	}
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Error("a secret is in the log")
		}
	}
}

// verifyWithKeys checks token with LiveKit's verifier against the secret of
// the key it names, returning that key.
func verifyWithKeys(token string, secrets map[string]string) (string, error) {
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return "", err
	}
	secret, ok := secrets[v.APIKey()]
	if !ok {
		return "", fmt.Errorf("signed by unknown key %q", v.APIKey())
	}
	if _, _, err := v.Verify(secret); err != nil {
		return "", err
	}
	return v.APIKey(), nil
}
