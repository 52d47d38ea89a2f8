package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/keys"
)

const generatePath = "/lktoken.v1.TokenService/GenerateToken"

func do(t *testing.T, method, url string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	hreq, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	jsonBody := `{"roomName":"r","participantIdentity":"u"}`

	t.Run("allowed origin", func(t *testing.T) {
		resp, _ := do(t, "POST", srv.URL+generatePath, http.Header{"Origin": {"http://localhost:4200"}, "Content-Type": {"application/json"}}, jsonBody)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:4200" {
			t.Errorf("status %d, allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary = %q", resp.Header.Values("Vary"))
		}
		if exp := resp.Header.Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "X-Request-Id") {
			t.Errorf("expose headers = %q", exp)
		}
	})
	t.Run("other origin", func(t *testing.T) {
		resp, _ := do(t, "POST", srv.URL+generatePath, http.Header{"Origin": {"https://evil.example"}, "Content-Type": {"application/json"}}, jsonBody)
		for k := range resp.Header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("CORS header %s sent to an unknown origin", k)
			}
		}
		if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary = %q", resp.Header.Values("Vary"))
		}
	})
	t.Run("preflight", func(t *testing.T) {
		resp, _ := do(t, "OPTIONS", srv.URL+generatePath, http.Header{
			"Origin":                         {"http://localhost:4200"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"connect-protocol-version,content-type,x-request-id"},
		}, "")
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("status %d, want 204", resp.StatusCode)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://localhost:4200" {
			t.Errorf("allow-origin %q", got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "POST" {
			t.Errorf("allow-methods %q", got)
		}
		if got := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); got != "connect-protocol-version,content-type,x-request-id" {
			t.Errorf("allow-headers %q", got)
		}
		if got := resp.Header.Get("Access-Control-Max-Age"); got != "7200" {
			t.Errorf("max-age %q", got)
		}
	})
	t.Run("preflight from other origin", func(t *testing.T) {
		resp, _ := do(t, "OPTIONS", srv.URL+generatePath, http.Header{
			"Origin":                        {"https://evil.example"},
			"Access-Control-Request-Method": {"POST"},
		}, "")
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("allow-origin %q for an unknown origin", got)
		}
	})
}

func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	resp, body := do(t, "POST", srv.URL+generatePath, http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"trace-123"}}, `{"roomName":"r","participantIdentity":"u"}`)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("status %d cache-control %q request id %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("X-Request-Id"), body)
	}
	// An unusable id is replaced, not echoed.
	resp, _ = do(t, "POST", srv.URL+generatePath, http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"has space"}}, `{}`)
	if id := resp.Header.Get("X-Request-Id"); !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(id) {
		t.Errorf("generated request id %q", id)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("error response cache-control %q", resp.Header.Get("Cache-Control"))
	}
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	resp, body := do(t, "GET", srv.URL+"/healthz", nil, "")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", resp.StatusCode, body)
	}
	// Reflection is a bidirectional stream: gRPC over cleartext HTTP/2.
	stream := grpcreflect.NewClient(h2cClient(), srv.URL).NewStream(context.Background())
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "lktoken.v1.TokenService" {
		t.Errorf("services = %v", names)
	}
}

func TestSigningFaultIsInternalAndSafe(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Credentials = keys.Credentials{} // signing cannot succeed without a key
	srv := startServer(t, cfg)
	client := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, srv.URL, connect.WithProtoJSON())
	_, err := client.GenerateToken(context.Background(), req("r", "u"))
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInternal {
		t.Fatalf("err = %v, want internal", err)
	}
	id := cerr.Meta().Get("X-Request-Id")
	want := "the server could not sign the token; this is a server fault, not your request (request id " + id + ")"
	if id == "" || cerr.Message() != want {
		t.Errorf("message %q, want %q", cerr.Message(), want)
	}
	logs := srv.Log.String()
	if !strings.Contains(logs, `"msg":"signing failed","request_id":"`+id+`","error":"token signing failed\nmissing API key or secret key"`) {
		t.Errorf("cause not logged:\n%s", logs)
	}
	if !strings.Contains(logs, `"outcome":"internal"`) {
		t.Errorf("audit line missing:\n%s", logs)
	}
}

// The audit log has one line per attempt with every field, and neither the
// secret nor any token issued appears anywhere in the log.
func TestAuditLogHygiene(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	client := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, srv.URL)
	var tokens []string
	for _, r := range []string{"room-a", "room-b"} {
		resp, err := client.GenerateToken(context.Background(), req(r, "user-"+r))
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, resp.Token)
	}
	_, _ = client.GenerateToken(context.Background(), req("", "x"))

	logs := srv.Log.String()
	for _, secret := range append([]string{testCreds.APISecret}, tokens...) {
		if strings.Contains(logs, secret) {
			t.Fatalf("log contains a secret or token")
		}
		// Nor any of the token's three parts (a signature alone is sensitive).
		if !strings.Contains(secret, ".") {
			continue
		}
		for _, part := range strings.Split(secret, ".") {
			if len(part) > 16 && strings.Contains(logs, part) {
				t.Fatalf("log contains part of a token")
			}
		}
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "mint" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 3 {
		t.Fatalf("%d mint lines, want 3:\n%s", len(lines), logs)
	}
	for i, want := range []struct {
		room, identity, outcome string
		lifetime                float64
	}{{"room-a", "user-room-a", "issued", 3600}, {"room-b", "user-room-b", "issued", 3600}, {"", "x", "invalid_argument", 0}} {
		l := lines[i]
		if l["room"] != want.room || l["identity"] != want.identity || l["outcome"] != want.outcome || l["lifetime_s"] != want.lifetime ||
			l["route"] != generatePath || !strings.HasPrefix(l["peer"].(string), "127.0.0.1:") || len(l["request_id"].(string)) != 24 {
			t.Errorf("line %d = %v", i, l)
		}
		if _, ok := l["latency_ms"].(float64); !ok {
			t.Errorf("line %d has no latency", i)
		}
		if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
			t.Errorf("line %d time: %v", i, err)
		}
	}
}
