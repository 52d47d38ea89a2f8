package app

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Small answers go out uncompressed even to clients that accept gzip, as
// every browser does: compressing ~650 bytes of mostly base64 costs more CPU
// than the rest of the request and saves little.
func TestSmallAnswersAreNotCompressed(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	for _, ctype := range []string{"application/json", "application/proto"} {
		body := `{"roomName":"standup","participantIdentity":"user-42"}`
		if ctype == "application/proto" {
			body = "\x0a\x07standup\x12\x07user-42"
		}
		// A Transport asked for gzip explicitly does not decompress by itself.
		resp, raw := do(t, "POST", srv.URL+generatePath, http.Header{"Content-Type": {ctype}, "Accept-Encoding": {"gzip, deflate, br"}}, body)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: status %d, Content-Encoding %q", ctype, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if ctype == "application/json" {
			var answer struct{ Token string }
			if err := json.Unmarshal([]byte(raw), &answer); err != nil || answer.Token == "" {
				t.Errorf("answer %q: %v", raw, err)
			}
		}
		if len(raw) >= 1024 { // api.compressMinBytes
			t.Errorf("%s: answer of %d bytes, not below the threshold this test is about", ctype, len(raw))
		}
	}
}
