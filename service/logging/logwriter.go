package logging

import (
	"io"
	"sync"
	"time"
)

// LogWriter batches log lines (the audit log's above all) on their way to an
// io.Writer such as os.Stderr, so that a busy server makes one write per
// batch instead of one system call per request.
//
// No line is dropped and none waits long: a line written while the writer is
// idle is handed on at once by a background goroutine; under load lines are
// gathered for at most logFlushDelay, and a batch that reaches logBufferLimit
// is written by the caller itself (back-pressure instead of unbounded memory).
// Close hands on everything still buffered; call it before the process exits.
// Lines keep the order in which Write was called.
type LogWriter struct {
	out io.Writer

	mu     sync.Mutex // guards buf, closed and err
	buf    []byte
	closed bool
	err    error

	wmu   sync.Mutex // serialises writes to out, so batches keep their order
	spare []byte     // the other buffer, reused; guarded by wmu

	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

const (
	// logFlushDelay bounds how long a line may wait while lines keep coming.
	logFlushDelay = 5 * time.Millisecond
	// logBufferLimit is the batch size at which a writer flushes itself.
	logBufferLimit = 256 << 10
)

// NewLogWriter returns a LogWriter handing lines on to out. Close it.
func NewLogWriter(out io.Writer) *LogWriter {
	w := &LogWriter{
		out:  out,
		kick: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.flushLoop()
	return w
}

// Write buffers p (one log line, as slog writes them). It never fails; an
// error of the underlying writer is reported by Close.
func (w *LogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		// After Close, write through, still in order.
		w.wmu.Lock()
		defer w.wmu.Unlock()
		return w.out.Write(p)
	}
	w.buf = append(w.buf, p...)
	full := len(w.buf) >= logBufferLimit
	w.mu.Unlock()
	if full {
		w.Flush()
	} else {
		select {
		case w.kick <- struct{}{}:
		default: // a flush is already due
		}
	}
	return len(p), nil
}

// Flush hands every buffered line on to the underlying writer now.
func (w *LogWriter) Flush() {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	w.mu.Lock()
	batch := w.buf
	w.buf = w.spare[:0]
	w.mu.Unlock()
	if len(batch) > 0 {
		w.write(batch)
	}
	w.spare = batch[:0]
}

// write hands batch on; the caller holds wmu.
func (w *LogWriter) write(batch []byte) {
	if _, err := w.out.Write(batch); err != nil {
		w.mu.Lock()
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
	}
}

// flushLoop flushes as soon as a line arrives, then at most once per
// logFlushDelay while lines keep arriving.
func (w *LogWriter) flushLoop() {
	defer close(w.done)
	pause := time.NewTimer(logFlushDelay)
	pause.Stop()
	for {
		select {
		case <-w.kick:
		case <-w.stop:
			return
		}
		w.Flush()
		pause.Reset(logFlushDelay)
		select {
		case <-pause.C:
		case <-w.stop:
			pause.Stop()
			return
		}
	}
}

// Close writes out everything buffered and stops the background flusher.
// Lines written after Close go straight through. It returns the first error
// of the underlying writer, if any.
func (w *LogWriter) Close() error {
	w.closeOnce.Do(func() {
		close(w.stop)
		<-w.done
		w.wmu.Lock()
		w.mu.Lock()
		w.closed = true
		batch := w.buf
		w.buf = nil
		w.mu.Unlock()
		if len(batch) > 0 {
			w.write(batch)
		}
		w.wmu.Unlock()
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
