package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/logging"
)

func TestReadyzWithoutKeys(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Credentials = keys.Credentials{}
	srv := startServer(t, cfg)
	resp, body := do(t, "GET", srv.URL+"/readyz", nil, "")
	if resp.StatusCode != 503 || body != "not ready: no signing key loaded\n" {
		t.Errorf("%d %q", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/healthz", nil, "")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q (liveness does not depend on keys)", resp.StatusCode, body)
	}
}

// Not ready before serving, ready while serving, not ready from the moment a
// drain starts, even while an in-flight request keeps the server up.
func TestReadinessFollowsTheLifecycle(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	srv := New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, &testserver.Log{}))
	if got := srv.ready.NotReady(); got != "starting" {
		t.Errorf("before Serve: %q", got)
	}
	ln := testserver.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	addr := ln.Addr().String()
	deadline := time.Now().Add(10 * time.Second)
	for srv.ready.NotReady() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %q", srv.ready.NotReady())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, body := do(t, "GET", "http://"+addr+"/readyz", nil, "")
	if resp.StatusCode != 200 || body != "ready\n" {
		t.Errorf("serving: %d %q", resp.StatusCode, body)
	}
	// Hold a request in flight, then start the drain.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	jsonBody := `{"roomName":"r","participantIdentity":"u"}`
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", generatePath, len(jsonBody), jsonBody[:5])
	time.Sleep(200 * time.Millisecond) // let the server read the headers; correctness does not depend on it
	cancel()
	for srv.ready.NotReady() != "shutting down" {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("not draining: %q", srv.ready.NotReady())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, _ = io.WriteString(c, jsonBody[5:])
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 || !strings.Contains(string(b), `"token"`) {
		t.Errorf("in-flight: %d %s", r.StatusCode, b)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := srv.ready.NotReady(); got != "shutting down" {
		t.Errorf("after the drain: %q", got)
	}
}
