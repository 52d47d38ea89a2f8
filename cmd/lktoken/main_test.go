package main

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
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

// appOrigin is the browser origin of the tests that start without --dev,
// where LKTOKEN_ALLOWED_ORIGINS is required.
const appOrigin = "LKTOKEN_ALLOWED_ORIGINS=https://app.example.com"

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
	cmd.Env = append([]string{}, env...) // never nil: a nil Env inherits the test's environment
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// runSplit is run with standard output and standard error apart.
func runSplit(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append([]string{}, env...) // never nil: a nil Env inherits the test's environment
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	_ = cmd.Run()
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// --help, -h and -help print the usage on standard output and exit 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"--help", "-h", "-help"} {
		out, errOut, code := runSplit(t, nil, arg)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:\n  lktoken [flags]") ||
			!strings.Contains(out, "$LIVEKIT_API_SECRET_FILE") || !strings.Contains(out, "--version") {
			t.Errorf("%s: exit %d, stderr %q, stdout:\n%s", arg, code, errOut, out)
		}
	}
}

// Every example of --help starts as written (the secret file it names
// exists on a real host; here it is a temporary one), and --help documents
// the healthcheck subcommand and each bounded setting's range.
func TestHelpExamplesStart(t *testing.T) {
	t.Parallel()
	out, _, code := runSplit(t, nil, "--help")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"lktoken healthcheck [--listen ADDR]",
		"$LKTOKEN_MAX_LIFETIME (default 24h, from 1m to 24h)",
		"$LKTOKEN_MAX_REQUEST_BYTES (default 65536, from 1024 to 16777216)",
		"$LKTOKEN_DRAIN_DELAY (default 5s, from 0 to 1h)",
		"the default becomes that bound",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	_, examples, ok := strings.Cut(out, "\nExamples:\n")
	if !ok {
		t.Fatal("--help has no examples")
	}
	secret := filepath.Join(t.TempDir(), "lk")
	writeKeys(t, secret, secretA1+"\n")
	n := 0
	for _, ex := range strings.Split(strings.ReplaceAll(examples, "\\\n", ""), "\n") {
		if ex = strings.TrimSpace(ex); ex == "" {
			continue
		}
		n++
		var env, args []string
		fields := strings.Fields(strings.ReplaceAll(ex, "/run/secrets/lk", secret))
		for len(fields) > 0 && fields[0] != "lktoken" {
			env, fields = append(env, fields[0]), fields[1:]
		}
		if len(fields) == 0 {
			t.Fatalf("example %q does not run lktoken", ex)
		}
		args = fields[1:]
		p := start(t, env, args...) // fails the test unless it listens
		_ = p.Cmd.Process.Kill()
	}
	if n != 2 {
		t.Errorf("%d examples, want 2", n)
	}
}

// --version prints one line on standard output, from the binary's build
// information (module version, commit when built in a git checkout), exit 0.
func TestVersion(t *testing.T) {
	t.Parallel()
	bi, err := buildinfo.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runSplit(t, nil, "--version")
	if want := versionOf(bi) + "\n"; code != 0 || errOut != "" || out != want {
		t.Errorf("exit %d, stderr %q, stdout %q; want %q", code, errOut, out, want)
	}
	if !strings.HasPrefix(out, "lktoken ") || !strings.HasSuffix(out, ", "+runtime.Version()+"\n") {
		t.Errorf("stdout %q", out)
	}
}

func TestVersionFormat(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/lktoken/lktoken", Version: "v1.2.3"}}
	if got, want := versionOf(bi), "lktoken v1.2.3, go1.26.8"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	bi.Main.Version = "v0.0.0-20261201220000-2e0df11c3f5a+dirty"
	bi.Settings = []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "2e0df11c3f5a0123456789abcdef0123456789ab"},
		{Key: "vcs.time", Value: "2026-12-01T22:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	want := "lktoken v0.0.0-20261201220000-2e0df11c3f5a+dirty, commit 2e0df11c3f5a0123456789abcdef0123456789ab of 2026-12-01T22:00:00Z, with uncommitted changes, go1.26.8"
	if got := versionOf(bi); got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// An address that cannot be listened on is refused like any other setting:
// one line naming the flag or the variable that was set, exit 2.
func TestListenFailureRefusesToStart(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--dev", "--listen", addr}, "--listen \"" + addr + "\": cannot listen there: bind: address already in use"},
		{[]string{"LKTOKEN_LISTEN=" + addr}, []string{"--dev"}, "LKTOKEN_LISTEN \"" + addr + "\": cannot listen there: bind: address already in use"},
		{[]string{"LKTOKEN_LISTEN=localhost"}, []string{"--dev"}, "LKTOKEN_LISTEN \"localhost\": cannot listen there: address localhost: missing port in address"},
	} {
		out, code := run(t, c.env, c.args...)
		if want := "lktoken: refusing to start:\n" + c.want + "\n"; code != 2 || out != want {
			t.Errorf("%v %v: exit %d:\n%s\nwant:\n%s", c.env, c.args, code, out, want)
		}
	}
	// The metrics address too (after the dev-mode warning line).
	out, code := run(t, nil, "--dev", "--listen", "127.0.0.1:0", "--metrics-listen", addr)
	if want := "lktoken: refusing to start:\n--metrics-listen \"" + addr + "\": cannot listen there: bind: address already in use\n"; code != 2 || !strings.HasSuffix(out, want) ||
		strings.Contains(out, `"msg":"listening"`) {
		t.Errorf("metrics: exit %d:\n%s\nwant the last line:\n%s", code, out, want)
	}
}

func TestUnknownFlagRefusesToStart(t *testing.T) {
	t.Parallel()
	out, code := run(t, nil, "--dev", "--listne", ":8080")
	if want := "lktoken: refusing to start:\nflag provided but not defined: -listne (see lktoken --help)\n"; code != 2 || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
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
			"LIVEKIT_URL is not set: set it to the LiveKit server URL clients connect to, e.g. wss://my-project.livekit.cloud (or run with --dev)\n" +
			"LKTOKEN_ALLOWED_ORIGINS is not set: list the browser origins that may call lktoken, e.g. https://app.example.com (only --dev allows http://localhost:4200 by default)\n"},
		{"no secret", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_URL=wss://x.example", appOrigin}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET is not set: set it (or LIVEKIT_API_SECRET_FILE, a file holding it) to your LiveKit API secret (or run with --dev for local development)\n"},
		{"short secret", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET=tooshort", "LIVEKIT_URL=wss://x.example", appOrigin}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET is too weak: 8 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)\n"},
		// A secret file that is missing or empty is one line, not also "LIVEKIT_API_SECRET is not set".
		{"missing secret file", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET_FILE=/nonexistent/secret", "LIVEKIT_URL=wss://x.example", appOrigin}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET_FILE: cannot read /nonexistent/secret: no such file or directory\n"},
		{"missing secret file and key", []string{"LIVEKIT_API_SECRET_FILE=/nonexistent/secret", "LIVEKIT_URL=wss://x.example", appOrigin}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET_FILE: cannot read /nonexistent/secret: no such file or directory\n" +
			"LIVEKIT_API_KEY is not set: set it to your LiveKit API key (or run with --dev for local development)\n"},
		{"empty secret file", []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET_FILE=/dev/null", "LIVEKIT_URL=wss://x.example", appOrigin}, "lktoken: refusing to start:\n" +
			"LIVEKIT_API_SECRET_FILE /dev/null is empty: write the LiveKit API secret into it\n"},
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
	// Durations in log lines read as durations, not as nanoseconds.
	if !strings.Contains(p.Logs(), `"msg":"shutting down","drain_timeout":"15s"}`) {
		t.Errorf("drain timeout not logged as 15s:\n%s", p.Logs())
	}
}

// A secret read from a file is judged as that file: a weak one names the
// file's variable, at start and on SIGHUP (where the old secret stays); the
// example files' placeholder secret is refused with a word to replace it.
func TestSecretFilesNameTheFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	secretFile, tokenFile := filepath.Join(dir, "secret"), filepath.Join(dir, "token")
	writeKeys(t, secretFile, "hunter2\n")
	writeKeys(t, tokenFile, "hunter2\n")
	const placeholder = "replace-me-with-a-secret-of-at-least-32-characters"
	base := []string{"LIVEKIT_API_KEY=k", "LIVEKIT_URL=wss://lk.example.com", appOrigin}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"LIVEKIT_API_SECRET_FILE=" + secretFile}, "LIVEKIT_API_SECRET_FILE is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{[]string{"LIVEKIT_API_SECRET=hunter2"}, "LIVEKIT_API_SECRET is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{[]string{"LIVEKIT_API_SECRET=" + secretA1, "LKTOKEN_BEARER_TOKEN_FILE=" + tokenFile}, "LKTOKEN_BEARER_TOKEN_FILE is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{[]string{"LIVEKIT_API_SECRET=" + secretA1, "LKTOKEN_BEARER_TOKEN=hunter2"}, "LKTOKEN_BEARER_TOKEN is too weak: 7 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{[]string{"LIVEKIT_API_SECRET=" + placeholder}, "LIVEKIT_API_SECRET is too weak: it is the placeholder from lktoken's example files, published with its source: replace it with a secret of your own (generate one with `openssl rand -base64 48`)"},
	} {
		out, code := run(t, append(c.env, base...))
		if want := "lktoken: refusing to start:\n" + c.want + "\n"; code != 2 || out != want {
			t.Errorf("%v: exit %d:\n%s\nwant:\n%s", c.env, code, out, want)
		}
	}

	writeKeys(t, secretFile, secretA1+"\n")
	p := start(t, append([]string{"LIVEKIT_API_SECRET_FILE=" + secretFile}, base...))
	writeKeys(t, secretFile, placeholder+"\n")
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	want := `"msg":"reload failed, keeping the current keys","error":"LIVEKIT_API_SECRET_FILE is too weak: it is the placeholder from lktoken's example files, published with its source: replace it with a secret of your own (generate one with ` + "`openssl rand -base64 48`" + `)"`
	waitFor(t, func() bool { return strings.Contains(p.Logs(), want) }, "refused reload")
}

// A SIGHUP with keys from the environment says which settings a reload
// would read.
func TestReloadWithoutFilesSaysWhatToSet(t *testing.T) {
	t.Parallel()
	p := start(t, []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET=" + secretA1, "LIVEKIT_URL=wss://lk.example.com", appOrigin})
	_ = p.Cmd.Process.Signal(syscall.SIGHUP)
	want := `"msg":"reload: the keys come from settings that a reload cannot change, nothing to reload (use LIVEKIT_API_SECRET_FILE, LIVEKIT_KEYS_FILE or LIVEKIT_API_KEY_FILE)"`
	waitFor(t, func() bool { return strings.Contains(p.Logs(), want) }, "the reload's answer")
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

// A value's error names what the user set: the flag, or the variable.
func TestErrorsNameWhatWasSet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--dev", "--log-level", "loud"}, `--log-level "loud": must be debug, info, warn or error`},
		{[]string{"LKTOKEN_LOG_LEVEL=loud"}, []string{"--dev"}, `LKTOKEN_LOG_LEVEL "loud": must be debug, info, warn or error`},
		{nil, []string{"--dev", "--allowed-origins", "https://app.example.com/app"}, `--allowed-origins: "https://app.example.com/app" is not an origin; write scheme://host[:port], e.g. https://app.example.com`},
		// Lifetimes: what the user set, and what to change.
		{nil, []string{"--dev", "--max-lifetime", "30m", "--default-lifetime", "2h"}, "--default-lifetime 2h is longer than --max-lifetime 30m: lower --default-lifetime or raise --max-lifetime"},
		{[]string{"LKTOKEN_MAX_LIFETIME=30m", "LKTOKEN_DEFAULT_LIFETIME=2h"}, []string{"--dev"}, "LKTOKEN_DEFAULT_LIFETIME 2h is longer than LKTOKEN_MAX_LIFETIME 30m: lower LKTOKEN_DEFAULT_LIFETIME or raise LKTOKEN_MAX_LIFETIME"},
		{nil, []string{"--dev", "--max-lifetime", "25h"}, `--max-lifetime "25h": must be a duration from 1m to 24h, such as 24h`},
		{[]string{"LKTOKEN_MIN_LIFETIME=30s"}, []string{"--dev"}, `LKTOKEN_MIN_LIFETIME "30s": must be a duration from 1m to 24h, such as 1m`},
		// The room policy: the flag or the variable, with line and column.
		{nil, []string{"--dev", "--policy", `request.room == "x"`}, "--policy does not compile:\n--policy:1:8: undefined field 'room'\n | request.room == \"x\"\n | .......^"},
		{[]string{`LKTOKEN_POLICY=request.room == "x"`}, []string{"--dev"}, "LKTOKEN_POLICY does not compile:\nLKTOKEN_POLICY:1:8: undefined field 'room'\n | request.room == \"x\"\n | .......^"},
		// The token endpoint may not shadow another route.
		{nil, []string{"--dev", "--token-endpoint-path", "/readyz"}, `--token-endpoint-path "/readyz": collides with another lktoken route; choose another path such as /api/token`},
		{[]string{"LKTOKEN_TOKEN_ENDPOINT_PATH=/healthz"}, []string{"--dev"}, `LKTOKEN_TOKEN_ENDPOINT_PATH "/healthz": collides with another lktoken route; choose another path such as /api/token`},
		{nil, []string{"--dev", "--token-endpoint-path", "/metrics"}, `--token-endpoint-path "/metrics": collides with another lktoken route; choose another path such as /api/token`},
		{nil, []string{"--dev", "--token-endpoint-path", generatePath}, `--token-endpoint-path "` + generatePath + `": collides with another lktoken route; choose another path such as /api/token`},
		{nil, []string{"--dev", "--token-endpoint-path", "api/token"}, `--token-endpoint-path "api/token": must be a plain absolute path starting with / and without a trailing slash, such as /api/token (or off)`},
		// OpenID Connect settings need an issuer.
		{nil, []string{"--dev", "--oidc-audience", "lktoken"}, "--oidc-audience is set, but has no effect without LKTOKEN_OIDC_ISSUER"},
		{[]string{"LKTOKEN_OIDC_AUDIENCE=lktoken"}, []string{"--dev"}, "LKTOKEN_OIDC_AUDIENCE is set, but has no effect without LKTOKEN_OIDC_ISSUER"},
		// Identity modes need a verified caller; pseudonymous needs a key.
		{nil, []string{"--dev", "--identity-mode", "per-session"}, `--identity-mode "per-session" has no effect without LKTOKEN_OIDC_ISSUER: without a verified caller the request names the identity`},
		{[]string{"LKTOKEN_IDENTITY_MODE=per-device"}, []string{"--dev"}, `LKTOKEN_IDENTITY_MODE: "per-device" is not a mode; want exclusive or per-session, optionally with pseudonymous (e.g. per-session,pseudonymous)`},
		{[]string{"LKTOKEN_OIDC_ISSUER=http://127.0.0.1:9/", "LKTOKEN_OIDC_AUDIENCE=lktoken"}, []string{"--dev", "--identity-mode", "per-session,pseudonymous"},
			"--identity-mode \"per-session,pseudonymous\" needs a key: set LKTOKEN_PSEUDONYM_KEY or LKTOKEN_PSEUDONYM_KEY_FILE, at least 32 characters (generate one with `openssl rand -base64 48`)"},
		{[]string{"LKTOKEN_OIDC_ISSUER=http://127.0.0.1:9/", "LKTOKEN_OIDC_AUDIENCE=lktoken", "LKTOKEN_IDENTITY_MODE=pseudonymous", "LKTOKEN_PSEUDONYM_KEY=0123456789"}, []string{"--dev"},
			"LKTOKEN_PSEUDONYM_KEY is too weak: 10 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)"},
		{[]string{"LKTOKEN_OIDC_ISSUER=http://127.0.0.1:9/", "LKTOKEN_OIDC_AUDIENCE=lktoken", "LKTOKEN_PSEUDONYM_KEY=0123456789abcdefghijklmnopqrstuvwxyz"}, []string{"--dev"},
			"LKTOKEN_PSEUDONYM_KEY is set, but has no effect unless LKTOKEN_IDENTITY_MODE includes pseudonymous"},
	} {
		out, code := run(t, c.env, c.args...)
		if want := "lktoken: refusing to start:\n" + c.want + "\n"; code != 2 || out != want {
			t.Errorf("%v %v: exit %d:\n%s\nwant:\n%s", c.env, c.args, code, out, want)
		}
	}
}
