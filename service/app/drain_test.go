package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/logging"
)

// drainClient opens a new connection for every request: what a balancer
// does when it sends to a replica, and what proves the listener is open.
var drainClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func drainGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := drainClient.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mintOnce(url string) (int, error) {
	resp, err := drainClient.Post(url+generatePath, "application/json", strings.NewReader(`{"roomName":"r","participantIdentity":"u"}`))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// During the drain delay the server answers not-ready on /readyz but keeps
// accepting connections and minting; after it, the listener is closed.
func TestDrainDelayKeepsServingWhileNotReady(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DrainDelay = 700 * time.Millisecond
	logs := &testserver.Log{}
	srv := New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, logs))
	ln := testserver.Listen(t)
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	drainWaitReady(t, url)

	cancel() // SIGTERM
	began := time.Now()
	for srv.ready.NotReady() != "shutting down" {
		if time.Since(began) > 5*time.Second {
			t.Fatal("not draining")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := drainGet(t, url+"/readyz"); code != 503 || body != "not ready: shutting down\n" {
		t.Errorf("/readyz while draining: %d %q", code, body)
	}
	if code, _ := drainGet(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz while draining: %d (liveness must hold)", code)
	}
	served := 0
	for time.Since(began) < cfg.DrainDelay-200*time.Millisecond {
		code, err := mintOnce(url)
		if err != nil || code != 200 {
			t.Fatalf("mint %s into the drain delay: %d %v", time.Since(began), code, err)
		}
		served++
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v %s into a %s drain delay", err, time.Since(began), cfg.DrainDelay)
	default:
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took < cfg.DrainDelay {
		t.Errorf("stopped after %s, before the %s drain delay", took, cfg.DrainDelay)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("a connection was accepted after the drain")
	}
	l := logs.String()
	for _, want := range []string{`"msg":"draining: not ready, still serving","drain_delay":"700ms"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Index(l, `"msg":"draining`) > strings.Index(l, `"msg":"shutting down"`) {
		t.Error("shutting down logged before draining")
	}
	t.Logf("%d tokens minted on new connections during the drain delay", served)
}

// SkipDrainDelay (Ctrl-C, a second signal) ends the delay at once, also
// when called before the drain begins.
func TestSkipDrainDelay(t *testing.T) {
	t.Parallel()
	for _, before := range []bool{false, true} {
		cfg := testConfig()
		cfg.DrainDelay = time.Hour
		srv := New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, &testserver.Log{}))
		ln := testserver.Listen(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ctx, ln) }()
		drainWaitReady(t, "http://"+ln.Addr().String())
		if before {
			srv.SkipDrainDelay()
		}
		cancel()
		if !before {
			time.Sleep(50 * time.Millisecond)
			srv.SkipDrainDelay()
			srv.SkipDrainDelay() // twice is harmless
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("skip before the drain %v: still draining after 10s of a 1h delay", before)
		}
	}
}

func drainWaitReady(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := drainGet(t, url+"/readyz"); code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
	}
}
