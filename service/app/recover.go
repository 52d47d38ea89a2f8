package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"connectrpc.com/connect"
	"github.com/lktoken/lktoken/service/audit"
	"github.com/lktoken/lktoken/service/requestid"
)

// errPanic is what a caller learns about a panic: it is ours, and the request
// id finds the log line. Nothing of the panic value reaches the caller.
func errPanic(ctx context.Context) *connect.Error {
	return connect.NewError(connect.CodeInternal, fmt.Errorf(
		"the server failed while handling this request; this is a server fault, not your request (request id %s)", requestid.From(ctx)))
}

func logPanic(ctx context.Context, log *slog.Logger, where string, p any) {
	log.LogAttrs(ctx, slog.LevelError, "panic",
		slog.String("request_id", requestid.From(ctx)),
		slog.String("where", where),
		slog.String("panic", audit.Text(fmt.Sprint(p))),
		slog.String("stack", string(debug.Stack())))
}

// recoverRPC turns a panic in an interceptor or handler into internal and a
// log line, so that a caller sees a proper RPC error in its own protocol.
func recoverRPC(log *slog.Logger) connect.HandlerOption {
	return connect.WithRecover(func(ctx context.Context, spec connect.Spec, _ http.Header, p any) error {
		logPanic(ctx, log, spec.Procedure, p)
		return errPanic(ctx)
	})
}

// recoverHTTP is the last line for panics outside RPC handlers (middleware,
// plain routes). Without it net/http would log to stderr and drop the
// connection. If the answer has started, the connection is aborted instead.
func recoverHTTP(log *slog.Logger, next http.Handler) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &startedWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // net/http compares with ==
				panic(p)
			}
			logPanic(r.Context(), log, r.URL.Path, p)
			if rw.started {
				panic(http.ErrAbortHandler)
			}
			_ = ew.Write(w, r, errPanic(r.Context()))
		}()
		next.ServeHTTP(rw, r)
	})
}

// startedWriter notes whether the answer's header has been sent.
type startedWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startedWriter) WriteHeader(code int) {
	w.started = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *startedWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// Flush passes through so streaming (reflection, gRPC) still works.
func (w *startedWriter) Flush() {
	w.started = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *startedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
