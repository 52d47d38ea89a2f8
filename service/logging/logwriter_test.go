package logging

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
)

// Every line written by many goroutines arrives exactly once, each writer's
// lines in its order, by the time Close returns.
func TestLogWriterKeepsEveryLineInOrder(t *testing.T) {
	t.Parallel()
	out := &testserver.Log{}
	w := NewLogWriter(out)
	const writers, lines = 8, 5000 // 40k lines of ~30 bytes: several full batches too
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "{\"writer\":%d,\"line\":%d}\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, l := range got {
		var g, i int
		if _, err := fmt.Sscanf(l, "{\"writer\":%d,\"line\":%d}", &g, &i); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("writer %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
}

// A line written while the server is idle is handed on without waiting for
// more lines or for Close.
func TestLogWriterHandsOnIdleLineWithoutClose(t *testing.T) {
	t.Parallel()
	out := &testserver.Log{}
	w := NewLogWriter(out)
	defer w.Close()
	for _, line := range []string{"first\n", "second\n"} {
		_, _ = w.Write([]byte(line))
		deadline := time.Now().Add(10 * time.Second)
		for !strings.HasSuffix(out.String(), line) {
			if time.Now().After(deadline) {
				t.Fatalf("%q not written within 10s; output %q", line, out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// Lines written after Close (a late log line during exit) still arrive, after
// the buffered ones.
func TestLogWriterAfterClose(t *testing.T) {
	t.Parallel()
	out := &testserver.Log{}
	w := NewLogWriter(out)
	_, _ = w.Write([]byte("before\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("after\n"))
	if got := out.String(); got != "before\nafter\n" {
		t.Errorf("output %q", got)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestLogWriterReportsWriteErrorOnClose(t *testing.T) {
	t.Parallel()
	w := NewLogWriter(failingWriter{})
	_, _ = w.Write([]byte("x\n"))
	if err := w.Close(); err == nil || err.Error() != "disk full" {
		t.Errorf("Close = %v, want disk full", err)
	}
}
