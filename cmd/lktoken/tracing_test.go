//go:build otel

package main

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// With --tracing the binary sends a span per RPC over OTLP/HTTP to the
// collector the standard OTEL_* variables name (here a recording server on
// loopback); spans hold no token; a caller's traceparent is linked.
func TestTracingExportsSpans(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posts [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			posts = append(posts, b)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	p := start(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL}, "--dev", "--tracing")
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", "http://"+p.Addr+generatePath, strings.NewReader(validBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || token == nil {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	// Spans are batched; the drain flushes them.
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("no exit")
	}
	mu.Lock()
	all := bytes.Join(posts, nil)
	mu.Unlock()
	if len(posts) == 0 {
		t.Fatalf("no spans exported:\n%s", p.Logs())
	}
	id, _ := hex.DecodeString(traceID)
	for what, want := range map[string][]byte{
		"span name":           []byte("lktoken.v1.TokenService/GenerateToken"),
		"service name":        []byte("lktoken"),
		"caller's trace link": id,
	} {
		if !bytes.Contains(all, want) {
			t.Errorf("exported spans lack the %s", what)
		}
	}
	for _, part := range strings.Split(token[1], ".")[1:] {
		if bytes.Contains(all, []byte(part)) {
			t.Error("a token part reached the collector")
		}
	}
}
