package ratelimit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startRedis runs Debian's redis-server on a free loopback port in a
// temporary directory, with requirepass when password is set, until the
// test ends; it returns the address.
func startRedis(t *testing.T, password string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (make system-deps installs it): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := []string{"--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", ""}
	if password != "" {
		args = append(args, "--requirepass", password)
	}
	cmd := exec.Command(bin, args...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.Contains(s.Text(), "Ready to accept connections") {
				close(ready)
				break
			}
		}
		for s.Scan() {
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server not ready within 10 s")
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func TestRedisStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts redis-server")
	}
	t.Parallel()
	addr := startRedis(t, "first-password")
	r, err := NewRedis(RedisOptions{URL: "redis://" + addr + "/0", Password: "first-password"})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p := Policy{Count: 10, Per: time.Second, Burst: 3} // 100 ms apart
	l := New(Options{Policy: p, Store: r})
	ctx := context.Background()
	for i := range 3 {
		if d, err := l.Take(ctx, "k"); err != nil || !d.Allowed || d.Remaining != 2-i {
			t.Fatalf("request %d: %+v %v, want allowed with %d remaining", i+1, d, err, 2-i)
		}
	}
	d, err := l.Take(ctx, "k")
	if err != nil || d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("4th request: %+v %v, want refused with at most 100ms to wait", d, err)
	}
	time.Sleep(d.RetryAfter)
	if d, err := l.Take(ctx, "k"); err != nil || !d.Allowed {
		t.Fatalf("after RetryAfter: %+v %v, want allowed", d, err)
	}
	if d, _ := l.Take(ctx, "other"); !d.Allowed {
		t.Fatal("another key shares the budget")
	}

	// A new password applies to new connections (SIGHUP): a fresh store with
	// a wrong one fails, and SetPassword mends it.
	bad, _ := NewRedis(RedisOptions{URL: "redis://" + addr, Password: "wrong"})
	defer bad.Close()
	if _, err := bad.Take(ctx, "k", time.Time{}, p); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v, want WRONGPASS", err)
	}
	bad.SetPassword("first-password")
	if _, err := bad.Take(ctx, "k2", time.Time{}, p); err != nil {
		t.Fatalf("after SetPassword: %v", err)
	}
}

func TestRedisUnreachableIsBounded(t *testing.T) {
	t.Parallel()
	// A TEST-NET address that nothing answers: the dial hangs until the
	// timeout. (Loopback would refuse at once.)
	r, err := NewRedis(RedisOptions{URL: "redis://192.0.2.1:6379", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	l := New(Options{Policy: perMinute, Store: r, Timeout: 50 * time.Millisecond})
	start := time.Now()
	d, err := l.Take(context.Background(), "k")
	if took := time.Since(start); took > time.Second {
		t.Fatalf("waited %v for an unreachable store, want about 50ms", took)
	}
	if err != nil || !d.Unchecked {
		t.Fatalf("%+v %v, want allowed unchecked (fail open)", d, err)
	}
}

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	for in, msg := range map[string]string{
		"http://cache:6379":           `the scheme "http" is not redis:// or rediss://`,
		"redis://:hunter2@cache:6379": "the URL carries a password",
		"redis://":                    "names no host",
		"cache:6379":                  `the scheme "cache" is not`,
		"redis://cache:6379/notadb":   "notadb",
	} {
		_, err := ParseRedisURL(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRedisURL(%q) = %v, want %q", in, err, msg)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	o, err := ParseRedisURL("rediss://cache.example.com:6380/2")
	if err != nil || o.TLSConfig == nil || o.SelectDB != 2 {
		t.Fatalf("rediss: %+v %v, want TLS and db 2", o, err)
	}
}
