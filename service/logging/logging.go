// Package logging is lktoken's log: slog in the configured format and level,
// over a [LogWriter] that batches lines on their way to stderr, and the
// writer of whole lines that the audit log (package audit) writes its mint
// lines to directly beside slog's JSON handler.
package logging

import (
	"io"
	"log/slog"
	"sync"
)

// Logs is a process's log.
type Logs struct {
	// Log is the logger every package writes to.
	Log *slog.Logger
	// Lines is the writer under Log's JSON handler, for audit.New's direct
	// mint lines: each Write is one whole line, under the same lock as the
	// handler's own lines. nil with the text format, whose lines only slog
	// writes.
	Lines io.Writer
}

// New returns the log format ("json", the default, or "text") and level
// ("debug", "info", "warn" or "error"; anything else is info) ask for,
// writing to w. w need not be safe for concurrent use.
func New(format, level string, w io.Writer) Logs {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	lw := &lockedWriter{w: w}
	opts := &slog.HandlerOptions{Level: l}
	if format == "text" {
		return Logs{Log: slog.New(slog.NewTextHandler(lw, opts))}
	}
	return Logs{Log: slog.New(slog.NewJSONHandler(lw, opts)), Lines: lw}
}

// lockedWriter writes each line whole under one lock, so that slog's handler
// and the audit log's direct lines never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
