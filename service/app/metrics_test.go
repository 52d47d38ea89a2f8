package app

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// requests_total reads each answer's code from the wire: the HTTP status
// (Connect, /api/token), grpc-status in a trailer (gRPC) or in the body's
// trailer frame (gRPC-Web), however the body was split into writes.
func TestRequestsCountedByTheCodeOnTheWire(t *testing.T) {
	t.Parallel()
	m := NewMetrics()
	cfg := testConfig()
	cfg.TokenEndpointPath = "/api/token"
	h := testHandler(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), m, nil)
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.Start()
	defer srv.Close()
	frame := func(flag byte, b []byte) []byte {
		return append([]byte{flag, 0, 0, byte(len(b) >> 8), byte(len(b))}, b...)
	}
	valid := frame(0, []byte("\n\x01r\x12\x01u"))
	for _, c := range []struct{ ctype, path, body string }{
		{"application/json", generatePath, `{"roomName":"r","participantIdentity":"u"}`},
		{"application/json", generatePath, `{"roomName":" ","participantIdentity":"u"}`},
		{"application/grpc-web+proto", generatePath, string(valid)},
		{"application/grpc-web+proto", generatePath, string(frame(0, nil))},
		{"application/grpc-web+proto", generatePath, string(frame(0, []byte("\n\x01r")))},
		{"application/json", "/api/token", `{"room_config":{"name":"x"}}`},
	} {
		resp, err := srv.Client().Post(srv.URL+c.path, c.ctype, bytes.NewReader([]byte(c.body)))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	g := `route="/lktoken.v1.TokenService/GenerateToken"`
	for _, want := range []string{
		`lktoken_requests_total{code="ok",` + g + `} 2`,
		`lktoken_requests_total{code="invalid_argument",` + g + `} 3`,
		`lktoken_requests_total{code="permission_denied",route="/api/token"} 1`,
	} {
		if !strings.Contains(w.Body.String(), want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(w.Body.String())
	}
}
