package api

import (
	"net/http"
	"strconv"
)

// acceptedContentTypes is what the API routes speak, for the 415 answer.
const acceptedContentTypes = "application/json or application/proto (Connect), application/grpc[+proto|+json] (gRPC), application/grpc-web[+proto|+json] (gRPC-Web)"

// explainWriter gives connect-go's bare 405 and 415 answers a body that
// says what to change: those come before any RPC exists, so they are plain
// HTTP, and a developer with curl otherwise sees only a status line.
type explainWriter struct {
	http.ResponseWriter
	r           *http.Request
	wroteHeader bool
	explained   bool
}

func (w *explainWriter) WriteHeader(code int) {
	if w.wroteHeader {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.wroteHeader = true
	var msg string
	switch code {
	case http.StatusMethodNotAllowed:
		msg = "method " + w.r.Method + " not allowed: use POST\n"
	case http.StatusUnsupportedMediaType:
		msg = "unsupported content type " + strconv.Quote(w.r.Header.Get("Content-Type")) + ": use " + acceptedContentTypes + "\n"
	default:
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.explained = true
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
	_, _ = w.ResponseWriter.Write([]byte(msg))
}

func (w *explainWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.explained {
		return len(b), nil // connect-go's own (empty) body for the refusal
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through so streaming (reflection, gRPC) still works.
func (w *explainWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *explainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
