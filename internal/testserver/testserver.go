// Package testserver starts lktoken for a test and captures what it logs:
// in-process (Serve, Handler) or as the real binary (Exec). Every server
// listens on a free 127.0.0.1 port and stops when the test ends. It is the
// one copy of these helpers for the service packages, cmd/lktoken and the
// end-to-end harness.
package testserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log collects a server's log output. The server writes from its own
// goroutines while the test reads, so every access is locked. The zero
// value is ready to use and keeps everything; with Max set, once more than
// Max bytes are held only the last Max/2 are kept (for long suites with
// chatty servers).
type Log struct {
	Max int

	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.Max > 0 && l.buf.Len() > l.Max {
		rest := bytes.Clone(l.buf.Bytes()[l.buf.Len()-l.Max/2:])
		l.buf.Reset()
		l.buf.Write(rest)
	}
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// WaitTimeout bounds every wait of this package.
const WaitTimeout = 15 * time.Second

// WaitFor waits until the log contains s, failing the test after
// WaitTimeout. Log lines arrive through a pipe and a batching writer, so a
// line may land a few milliseconds after the answer it belongs to.
func (l *Log) WaitFor(t testing.TB, s string) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !strings.Contains(l.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within %s:\n%s", s, WaitTimeout, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addr waits for the first JSON log line whose msg is msg and returns its
// addr field (lktoken logs "listening" and "metrics listening" so).
func (l *Log) Addr(t testing.TB, msg string) string {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		if addr, ok := lineAddr(l.String(), msg); ok {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line with an addr within %s:\n%s", msg, WaitTimeout, l.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lineAddr(logs, msg string) (string, bool) {
	for line := range strings.Lines(logs) {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == msg && rec.Addr != "" {
			return rec.Addr, true
		}
	}
	return "", false
}

// Listen returns a listener on a free loopback port, closed when the test
// ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// Serve runs serve (a server's Serve method) on a free loopback port and
// returns the base URL. When the test ends the context is canceled, and the
// test fails unless serve returns nil within 10 s.
func Serve(t testing.TB, serve func(ctx context.Context, ln net.Listener) error) string {
	t.Helper()
	ln := Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	})
	return "http://" + ln.Addr().String()
}

// Handler serves h over HTTP/1.1 and cleartext HTTP/2 (as gRPC needs) on a
// free loopback port until the test ends, and returns the base URL.
func Handler(t testing.TB, h http.Handler) string {
	t.Helper()
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: h, Protocols: &p, ReadHeaderTimeout: 5 * time.Second}
	ln := Listen(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// Proc is a running server binary whose standard error is collected in Log.
type Proc struct {
	Cmd *exec.Cmd
	// Addr is the address it logged as "listening".
	Addr string
	Log  *Log

	done chan struct{}
}

// Exec runs the lktoken binary bin with exactly env (nil: an empty
// environment) and args plus --listen 127.0.0.1:0, and returns once it has
// logged the address it listens on. It is killed when the test ends.
func Exec(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	args = append(args, "--listen", "127.0.0.1:0")
	p := &Proc{Cmd: exec.Command(bin, args...), Log: &Log{}, done: make(chan struct{})}
	p.Cmd.Env = append([]string{}, env...) // never nil: a nil Env would inherit the test's LIVEKIT_*/LKTOKEN_*
	stderr, err := p.Cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			line := append(sc.Bytes(), '\n')
			_, _ = p.Log.Write(line)
			if addr, ok := lineAddr(string(line), "listening"); ok {
				select {
				case listening <- addr:
				default:
				}
			}
		}
		_ = p.Cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Kill()
		<-p.done
	})
	select {
	case p.Addr = <-listening:
	case <-p.done:
		t.Fatalf("%s exited before listening (%v):\n%s", bin, p.Cmd.ProcessState, p.Log.String())
	case <-time.After(WaitTimeout):
		t.Fatalf("%s did not listen within %s:\n%s", bin, WaitTimeout, p.Log.String())
	}
	return p
}

// Done is closed once the process has exited and its output is all in Log.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Logs is everything the process has logged so far.
func (p *Proc) Logs() string { return p.Log.String() }

// WriteFile writes content to path through a rename, as docs/operations.md
// asks of key files: a server reading it (on SIGHUP) never sees half a file.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
