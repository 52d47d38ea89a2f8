package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// On SIGTERM the binary answers not-ready at once, keeps accepting and
// minting for the drain delay, then closes the listener and exits 0.
func TestSIGTERMDrains(t *testing.T) {
	p := start(t, nil, "--dev", "--drain-delay", "1500ms")
	base := "http://" + p.Addr
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	status := func(method, path string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"roomName":"r","participantIdentity":"u"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"draining: not ready, still serving"`) }, "draining")
	if got := status("GET", "/readyz"); got != 503 {
		t.Errorf("/readyz after SIGTERM: %d, want 503", got)
	}
	minted := 0
	for time.Since(sent) < time.Second {
		if got := status("POST", "/lktoken.v1.TokenService/GenerateToken"); got != 200 {
			t.Fatalf("mint %s after SIGTERM, inside the drain delay: %d", time.Since(sent), got)
		}
		minted++
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after the drain")
	}
	if took := time.Since(sent); took < 1500*time.Millisecond {
		t.Errorf("exited %s after SIGTERM, before the drain delay ended", took)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d", code)
	}
	t.Logf("%d tokens minted on new connections during the drain delay", minted)
}

// Ctrl-C (SIGINT) stops without the delay; so does a second SIGTERM.
func TestInterruptOrSecondSignalSkipsTheDelay(t *testing.T) {
	for _, sigs := range [][]os.Signal{{os.Interrupt}, {syscall.SIGTERM, syscall.SIGTERM}} {
		p := start(t, nil, "--dev", "--drain-delay", "1h")
		sent := time.Now()
		for _, s := range sigs {
			if err := p.Cmd.Process.Signal(s); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"`) }, "a log line")
			time.Sleep(100 * time.Millisecond)
		}
		select {
		case <-p.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("%v: still running 15s into a 1h drain delay", sigs)
		}
		if code := p.Cmd.ProcessState.ExitCode(); code != 0 || time.Since(sent) > 10*time.Second {
			t.Errorf("%v: exit %d after %s", sigs, code, time.Since(sent))
		}
	}
}

func TestHealthcheckSubcommand(t *testing.T) {
	p := start(t, nil, "--dev")
	_, port, _ := net.SplitHostPort(p.Addr)
	run := func(env []string, args ...string) (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append([]string{"healthcheck"}, args...)...)
		cmd.Env = append([]string{}, env...) // never nil: a nil Env inherits the test's environment
		out, _ := cmd.CombinedOutput()
		return cmd.ProcessState.ExitCode(), string(out)
	}
	// As in the image: the address from the environment, nothing else set.
	if code, out := run([]string{"LKTOKEN_LISTEN=:" + port}); code != 0 {
		t.Errorf("ready server: exit %d %s", code, out)
	}
	if code, out := run(nil, "--listen", p.Addr); code != 0 {
		t.Errorf("--listen: exit %d %s", code, out)
	}
	if code, out := run([]string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + port}); code != 0 {
		t.Errorf("FUNCTIONS_CUSTOMHANDLER_PORT: exit %d %s", code, out)
	}
	// Draining: not ready, so unhealthy.
	d := start(t, nil, "--dev", "--drain-delay", "1h")
	if err := d.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(d.Logs(), `"msg":"draining`) }, "draining")
	if code, out := run(nil, "--listen", d.Addr); code != 1 || !strings.Contains(out, "503 Service Unavailable: not ready: shutting down") {
		t.Errorf("draining server: exit %d %q", code, out)
	}
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	// Nothing listening.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	free := ln.Addr().String()
	ln.Close()
	if code, out := run(nil, "--listen", free); code != 1 || !strings.Contains(out, "lktoken healthcheck: ") {
		t.Errorf("no server: exit %d %q", code, out)
	}
	if code, out := run(nil, "--dev"); code != 1 || !strings.Contains(out, "takes only --listen") {
		t.Errorf("--dev: exit %d %q", code, out)
	}
}
