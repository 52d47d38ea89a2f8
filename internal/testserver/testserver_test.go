package testserver

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func TestLogKeepsEveryWriteFromManyGoroutines(t *testing.T) {
	t.Parallel()
	var l Log
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = l.Write([]byte("line\n"))
			}
		})
	}
	wg.Wait()
	if n := strings.Count(l.String(), "line\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}

func TestLogMaxKeepsTheTail(t *testing.T) {
	t.Parallel()
	l := Log{Max: 10}
	for _, s := range []string{"0123456789", "abc", "XY"} {
		_, _ = l.Write([]byte(s))
	}
	// Over 10 bytes held: the last 5 are kept, then "XY" is added.
	if got := l.String(); got != "89abcXY" {
		t.Errorf("kept %q", got)
	}
}

func TestLogAddrAndWaitFor(t *testing.T) {
	t.Parallel()
	var l Log
	_, _ = io.WriteString(&l, `{"msg":"starting"}`+"\n"+`{"msg":"metrics listening","addr":"127.0.0.1:9"}`+"\n")
	if got := l.Addr(t, "metrics listening"); got != "127.0.0.1:9" {
		t.Errorf("Addr = %q", got)
	}
	l.WaitFor(t, `"msg":"starting"`)
}

func TestServeAndHandler(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
	served := Serve(t, func(ctx context.Context, ln net.Listener) error {
		srv := &http.Server{Handler: h}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	for _, base := range []string{served, Handler(t, h)} {
		resp, err := http.Get(base)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/1.1" {
			t.Errorf("%s answered %q", base, b)
		}
	}
}
