package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/hostile"
)

func get(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev")
	code, h, body := get(t, "http://"+p.Addr+"/readyz", nil)
	if code != 200 || body != "ready\n" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("readyz: %d %q", code, body)
	}
}

// Prometheus metrics live on their own address, count requests by route and
// code across protocols, and time minting.
func TestMetrics(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev", "--metrics-listen", "127.0.0.1:0")
	maddr := p.Log.Addr(t, "metrics listening")
	base := "http://" + p.Addr
	cl := hostile.NewClients()
	defer cl.Close()
	valid := []byte(`{"roomName":"r","participantIdentity":"u"}`)
	for _, c := range []hostile.Case{
		{Proto: hostile.ConnectJSON, Body: valid},
		{Proto: hostile.ConnectJSON, Body: valid},
		{Proto: hostile.ConnectJSON, Body: []byte(`{}`)},
		{Proto: hostile.ConnectJSON, Body: []byte(`{`)},
		{Proto: hostile.ConnectJSON, Body: []byte(`{"roomName":"` + strings.Repeat("a", 70000) + `"}`)},
		{Proto: hostile.GRPC, Body: hostile.Envelope(0, []byte("\n\x01r\x12\x01u"))},
		{Proto: hostile.GRPC, Body: hostile.Envelope(0, nil)},
		{Proto: hostile.GRPCWeb, Body: hostile.Envelope(0, []byte("\n\x01r\x12\x01u"))},
		{Proto: hostile.ConnectJSON, Path: "/lktoken.v1.TokenService/Random", Body: valid},
		{Proto: hostile.HTTP, Method: "GET", Path: "/healthz"},
		{Proto: hostile.HTTP, Method: "GET", Path: "/readyz"},
		{Proto: hostile.HTTP, Method: "GET", Path: "/wp-admin"},
		// LiveKit's standard token endpoint counts in RPC codes too.
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{"room_name":"r","participant_identity":"u"}`)},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: nil},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{"room_name":123}`)},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte(`{}`)},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Method: "GET"},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{"room_name":"` + strings.Repeat("a", 70000) + `"}`)},
		{Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{"room_config":{"agents":[{"agent_name":"x"}]}}`)}, // not allowed: a refused mint
	} {
		if _, err := cl.Do(base, c); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, _ := get(t, base+"/metrics", nil); code != 404 {
		t.Errorf("/metrics on the public port: %d", code)
	}
	code, _, body := get(t, "http://"+maddr+"/metrics", nil)
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	g := `route="/lktoken.v1.TokenService/GenerateToken"`
	a := `route="/api/token"`
	for _, want := range []string{
		`lktoken_requests_total{code="ok",` + a + `} 2`,
		`lktoken_requests_total{code="invalid_argument",` + a + `} 2`, // bad JSON, and the 415
		`lktoken_requests_total{code="unimplemented",` + a + `} 1`,    // GET: 405
		`lktoken_requests_total{code="resource_exhausted",` + a + `} 1`,
		`lktoken_requests_total{code="permission_denied",` + a + `} 1`,
		`lktoken_mint_duration_seconds_count{outcome="permission_denied"} 1`,
		`lktoken_requests_total{code="ok",` + g + `} 4`,
		`lktoken_requests_total{code="invalid_argument",` + g + `} 3`,
		`lktoken_requests_total{code="resource_exhausted",` + g + `} 1`,
		`lktoken_requests_total{code="200",route="/healthz"} 1`,
		`lktoken_requests_total{code="200",route="/readyz"} 1`,
		`lktoken_requests_total{code="404",route="other"} 3`,      // two above and /metrics on the public port
		`lktoken_mint_duration_seconds_count{outcome="issued"} 6`, // 4 GenerateToken, 2 /api/token
		`lktoken_requests_in_flight 0`,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", strings.Join(regexp.MustCompile(`(?m)^lktoken_requests.*$`).FindAllString(body, -1), "\n"))
	}
}

// The token endpoint's series follow its configured path.
func TestMetricsTokenEndpointCustomPath(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"LKTOKEN_TOKEN_ENDPOINT_PATH=/livekit/token"}, "--dev", "--metrics-listen", "127.0.0.1:0")
	maddr := p.Log.Addr(t, "metrics listening")
	base := "http://" + p.Addr
	cl := hostile.NewClients()
	defer cl.Close()
	for _, c := range []hostile.Case{
		{Name: "custom path", Proto: hostile.PlainJSON, Path: "/livekit/token", Body: []byte(`{}`), Status: 201, Code: "ok"},
		{Name: "custom path, bad JSON", Proto: hostile.PlainJSON, Path: "/livekit/token", Body: []byte(`{`), Status: 400, Code: "invalid_argument"},
		{Name: "default path is not served", Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{}`), Status: 404},
	} {
		r, err := cl.Do(base, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range hostile.Check(c, r) {
			t.Errorf("%s: %s", c.Name, bad)
		}
	}
	_, _, body := get(t, "http://"+maddr+"/metrics", nil)
	for _, want := range []string{
		`lktoken_requests_total{code="ok",route="/livekit/token"} 1` + "\n",
		`lktoken_requests_total{code="invalid_argument",route="/livekit/token"} 1` + "\n",
		`lktoken_requests_total{code="404",route="other"} 1` + "\n",
		`lktoken_mint_duration_seconds_count{outcome="issued"} 1` + "\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `route="/api/token"`) {
		t.Error("a series for /api/token, which is not served")
	}
}

// X-Request-Id: a caller's sane id is echoed and logged, in every protocol;
// a missing or unusable one is replaced by a generated id, echoed and logged.
func TestRequestIDEndToEnd(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev", "--log-level", "debug")
	base := "http://" + p.Addr
	cl := hostile.NewClients()
	defer cl.Close()
	pb := hostile.Envelope(0, []byte("\n\x01r\x12\x01u"))
	for _, c := range []hostile.Case{
		{Name: "rid-connect-1", Proto: hostile.ConnectJSON, Body: []byte(`{"roomName":"r","participantIdentity":"u"}`)},
		{Name: "rid-grpc-1", Proto: hostile.GRPC, Body: pb},
		{Name: "rid-grpcweb-1", Proto: hostile.GRPCWeb, Body: pb},
		{Name: "rid-invalid-1", Proto: hostile.ConnectJSON, Body: []byte(`{}`)},
	} {
		c.Header = http.Header{"X-Request-Id": {c.Name}}
		r, err := cl.Do(base, c)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Header.Get("X-Request-Id"); got != c.Name {
			t.Errorf("%s: echoed %q", c.Name, got)
		}
		waitFor(t, func() bool {
			return strings.Contains(p.Logs(), `"msg":"request received","request_id":"`+c.Name+`"`) &&
				strings.Contains(p.Logs(), `"msg":"mint","request_id":"`+c.Name+`"`)
		}, c.Name+" logged")
	}
	for name, id := range map[string]string{"none": "", "too long": strings.Repeat("x", 129), "space": "a b"} {
		c := hostile.Case{Proto: hostile.ConnectJSON, Body: []byte(`{"roomName":"r","participantIdentity":"u"}`)}
		if id != "" {
			c.Header = http.Header{"X-Request-Id": {id}}
		}
		r, err := cl.Do(base, c)
		if err != nil {
			t.Fatal(err)
		}
		got := r.Header.Get("X-Request-Id")
		if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) {
			t.Errorf("%s: generated id %q", name, got)
			continue
		}
		waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"mint","request_id":"`+got+`"`) }, name+" logged")
	}
}

const bearer = "bt-3f9a8c7e6d5b4a392817f6e5d4c3b2a1"

// With LKTOKEN_BEARER_TOKEN set, every API route in every protocol needs it;
// probes do not; CORS lets browsers send Authorization; the token is never
// logged.
func TestBearerToken(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"LKTOKEN_BEARER_TOKEN=" + bearer}, "--dev", "--log-level", "debug")
	base := "http://" + p.Addr
	cl := hostile.NewClients()
	defer cl.Close()
	pb := hostile.Envelope(0, []byte("\n\x01r\x12\x01u"))
	js := []byte(`{"roomName":"r","participantIdentity":"u"}`)
	missing := `this server requires "Authorization: Bearer <token>"`
	wrong := "the bearer token is not valid"
	auth := func(v string) http.Header {
		if v == "" {
			return nil
		}
		return http.Header{"Authorization": {v}}
	}
	cases := []hostile.Case{
		{Name: "connect, none", Proto: hostile.ConnectJSON, Body: js, Status: 401, Code: "unauthenticated", Message: []string{missing}},
		{Name: "connect, wrong", Proto: hostile.ConnectJSON, Header: auth("Bearer x" + bearer), Body: js, Status: 401, Code: "unauthenticated", Message: []string{wrong}},
		{Name: "connect, prefix of it", Proto: hostile.ConnectJSON, Header: auth("Bearer " + bearer[:20]), Body: js, Status: 401, Code: "unauthenticated", Message: []string{wrong}},
		{Name: "connect, basic scheme", Proto: hostile.ConnectJSON, Header: auth("Basic " + bearer), Body: js, Status: 401, Code: "unauthenticated", Message: []string{missing}},
		{Name: "connect, right", Proto: hostile.ConnectJSON, Header: auth("Bearer " + bearer), Body: js, Status: 200, Code: "ok"},
		{Name: "connect, lower-case scheme", Proto: hostile.ConnectJSON, Header: auth("bearer " + bearer), Body: js, Status: 200, Code: "ok"},
		{Name: "binary, none", Proto: hostile.ConnectProto, Body: pb[5:], Status: 401, Code: "unauthenticated", Message: []string{missing}},
		{Name: "grpc, none", Proto: hostile.GRPC, Body: pb, Status: 200, Code: "unauthenticated", Message: []string{missing}},
		{Name: "grpc, wrong", Proto: hostile.GRPC, Header: auth("Bearer nope"), Body: pb, Status: 200, Code: "unauthenticated", Message: []string{wrong}},
		{Name: "grpc, right", Proto: hostile.GRPC, Header: auth("Bearer " + bearer), Body: pb, Status: 200, Code: "ok"},
		{Name: "grpc-web, none", Proto: hostile.GRPCWeb, Body: pb, Status: 200, Code: "unauthenticated", Message: []string{missing}},
		{Name: "grpc-web, right", Proto: hostile.GRPCWeb, Header: auth("Bearer " + bearer), Body: pb, Status: 200, Code: "ok"},
		{Name: "reflection, none", Proto: hostile.GRPC, Path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Body: hostile.Envelope(0, nil), Status: 200, Code: "unauthenticated", Message: []string{missing}},
		{Name: "unknown path, none", Proto: hostile.ConnectJSON, Path: "/x", Body: js, Status: 401, Code: "unauthenticated", Message: []string{missing}},
		{Name: "token endpoint, none", Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(`{}`), Status: 401, Code: "unauthenticated", Message: []string{missing}},
		{Name: "token endpoint, wrong", Proto: hostile.PlainJSON, Path: hostile.TokenPath, Header: auth("Bearer nope"), Body: []byte(`{}`), Status: 401, Code: "unauthenticated", Message: []string{wrong}},
		{Name: "token endpoint, right", Proto: hostile.PlainJSON, Path: hostile.TokenPath, Header: auth("Bearer " + bearer), Body: []byte(`{"room_name":"r"}`), Status: 201, Code: "ok"},
		{Name: "healthz, none", Proto: hostile.HTTP, Method: "GET", Path: "/healthz", Status: 200, Message: []string{"ok"}},
		{Name: "readyz, none", Proto: hostile.HTTP, Method: "GET", Path: "/readyz", Status: 200, Message: []string{"ready"}},
	}
	for _, c := range cases {
		r, err := cl.Do(base, c)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, bad := range hostile.Check(c, r) {
			t.Errorf("%s: %s", c.Name, bad)
		}
		if r.Status == 401 && r.Header.Get("Www-Authenticate") != `Bearer realm="lktoken"` {
			t.Errorf("%s: WWW-Authenticate %q", c.Name, r.Header.Get("Www-Authenticate"))
		}
	}
	// A browser preflight may ask to send Authorization, to either API.
	for _, path := range []string{hostile.GeneratePath, hostile.TokenPath} {
		req, _ := http.NewRequest("OPTIONS", base+path, nil)
		req.Header.Set("Origin", "http://localhost:4200")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 || strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")) != "authorization,content-type" ||
			resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:4200" {
			t.Errorf("preflight to %s: %d allow-headers %q allow-origin %q", path, resp.StatusCode,
				resp.Header.Get("Access-Control-Allow-Headers"), resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
	// Log lines arrive through a pipe (and a batching writer): wait for them.
	waitFor(t, func() bool { return strings.Count(p.Logs(), `"msg":"refused"`) >= 12 }, "12 refusal lines")
	if n := strings.Count(p.Logs(), `"msg":"refused"`); n != 12 {
		t.Errorf("%d refusals logged, want 12", n)
	}
	if !strings.Contains(p.Logs(), `"msg":"refused","request_id":"`) || !strings.Contains(p.Logs(), `"outcome":"unauthenticated","reason":"the bearer token is not valid"}`) {
		t.Errorf("refusal line:\n%s", p.Logs())
	}
	if strings.Contains(p.Logs(), bearer[3:]) {
		t.Error("the bearer token is in the log")
	}
}

func TestWeakBearerTokenIsRefused(t *testing.T) {
	t.Parallel()
	out, code := run(t, []string{"LKTOKEN_BEARER_TOKEN=password", "LKTOKEN_DEV=true"})
	if code != 2 || !strings.Contains(out, "LKTOKEN_BEARER_TOKEN is too weak: 8 characters, it must be at least 32") || strings.Contains(out, "password") {
		t.Errorf("exit %d: %s", code, out)
	}
}

// goroutines reads go_goroutines from the binary's metrics endpoint.
func goroutines(t *testing.T, metricsAddr string) int {
	t.Helper()
	_, _, body := get(t, "http://"+metricsAddr+"/metrics", nil)
	m := regexp.MustCompile(`(?m)^go_goroutines (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no go_goroutines")
	}
	var n int
	_, _ = fmt.Sscan(m[1], &n)
	return n
}

// settleGoroutines waits until the binary is back to base goroutines (a
// little slack for the runtime), failing after 30s.
func settleGoroutines(t *testing.T, metricsAddr string, base int) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := goroutines(t, metricsAddr)
		if n <= base+2 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines in the binary, baseline %d", n, base)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A bearer token from a file is replaced on SIGHUP; a bad file keeps the old.
func TestBearerTokenFileReload(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bearer")
	writeKeys(t, path, bearer+"\n")
	p := start(t, []string{"LKTOKEN_BEARER_TOKEN_FILE=" + path}, "--dev")
	call := func(token string) int {
		req, _ := http.NewRequest("POST", "http://"+p.Addr+generatePath, strings.NewReader(validBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if call(bearer) != 200 {
		t.Fatal("first token refused")
	}
	next := "bt2-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	writeKeys(t, path, next+"\n")
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"bearer token reloaded"`) }, "bearer token reloaded")
	if a, b := call(bearer), call(next); a != 401 || b != 200 {
		t.Errorf("after reload: old %d, new %d", a, b)
	}
	writeKeys(t, path, "weak\n")
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool {
		return strings.Contains(p.Logs(), `"msg":"reload failed, keeping the current bearer token","error":"LKTOKEN_BEARER_TOKEN_FILE is too weak: 4 characters, it must be at least 32`)
	}, "refused reload")
	if call(next) != 200 {
		t.Error("the current token stopped working after a refused reload")
	}
}
