package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
)

var binary string

// TestMain builds the real binary once; the tests exec it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lktoken-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "lktoken")
	// The binary gets the build tags this test was built with (see buildtags*_test.go).
	if out, err := exec.Command("go", "build", "-tags", buildTags, "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// slow marks a load or limit test (many connections, or waits on the
// server's timeouts): `go test -short` skips it.
func slow(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a load or limit test: skipped with -short")
	}
}

func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

func TestHelp(t *testing.T) {
	t.Parallel()
	out, code := run(t, nil, "--help")
	if code != 0 || !strings.Contains(out, "Usage:\n  lktoken [flags]") || !strings.Contains(out, "$LIVEKIT_API_SECRET_FILE") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestRefusesToStartWithoutCredentials(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  []string
		want string
	}{
		{"no environment", nil, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_KEY is not set: set it to your LiveKit API key (or run with --dev for local development)\n" +
			"LIVEKIT_API_SECRET is not set: set it (or LIVEKIT_API_SECRET_FILE, a file holding it) to your LiveKit API secret (or run with --dev for local development)\n" +
			"LIVEKIT_URL is not set: set it to the LiveKit server URL clients connect to, e.g. wss://my-project.livekit.cloud (or run with --dev)\n"},
		{"no secret", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_URL=wss://x.example"}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET is not set: set it (or LIVEKIT_API_SECRET_FILE, a file holding it) to your LiveKit API secret (or run with --dev for local development)\n"},
		{"short secret", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET=tooshort", "LIVEKIT_URL=wss://x.example"}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET is too weak: 8 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, code := run(t, c.env)
			if code != 2 || out != c.want {
				t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, c.want)
			}
		})
	}
}

// start runs the binary on a free loopback port and waits until it listens;
// its log is collected (testserver.Exec).
func start(t *testing.T, env []string, args ...string) *testserver.Proc {
	t.Helper()
	return testserver.Exec(t, binary, env, args...)
}

func TestDevModeNeedsNoEnvironment(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev")
	resp, err := http.Post("http://"+p.Addr+"/lktoken.v1.TokenService/GenerateToken", "application/json",
		strings.NewReader(`{"roomName":"standup","participantIdentity":"user-42"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Token, ServerURL string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != 200 || body.Token == "" || body.ServerURL != "ws://localhost:7880" {
		t.Errorf("status %d body %+v", resp.StatusCode, body)
	}
	if !strings.Contains(p.Logs(), `"level":"WARN","msg":"DEVELOPMENT MODE: tokens are signed with LiveKit's public dev credentials; never expose this server","api_key":"devkey"`) {
		t.Errorf("no dev-mode warning:\n%s", p.Logs())
	}
}

// A request in flight when SIGTERM arrives completes; new connections are
// refused afterwards; the process exits 0.
func TestShutdownLetsInFlightRequestFinish(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev", "--log-level", "debug")
	body := `{"roomName":"standup","participantIdentity":"user-42"}`
	conn, err := net.DialTimeout("tcp", p.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// Send the headers and half the body: the request is now in flight.
	head := fmt.Sprintf("POST /lktoken.v1.TokenService/GenerateToken HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", p.Addr, len(body))
	if _, err := io.WriteString(conn, head+body[:10]); err != nil {
		t.Fatal(err)
	}
	// The server logs the request once it has read its headers: it is in flight.
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"request received"`) }, "request received")
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"shutting down"`) }, "shutting down")

	if c, err := net.DialTimeout("tcp", p.Addr, 2*time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after SIGTERM")
	}
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("in-flight request cut off: %v\n%s", err, p.Logs())
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight request lost: %v\n%s", err, p.Logs())
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !regexp.MustCompile(`"token":"eyJ`).Match(raw) {
		t.Errorf("in-flight request: %d %s", resp.StatusCode, raw)
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("process did not exit after the drain")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d\n%s", code, p.Logs())
	}
	if !strings.Contains(p.Logs(), `"msg":"stopped"`) {
		t.Errorf("no clean stop logged:\n%s", p.Logs())
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
