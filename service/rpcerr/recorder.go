package rpcerr

import (
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"

	"connectrpc.com/connect"
)

// Recorder is an http.ResponseWriter that remembers the outcome of the
// answer written through it, so that the metrics and the audit log learn the
// code of a request the same way whether or not it reached the mint
// operation (connect-go answers a body it cannot read before any handler of
// ours runs). Start it with Reset; read the outcome with Code once the
// handler returned.
type Recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	grpc        bool
	web         *webTrailer // gRPC-Web only
}

// Reset makes w record the answer to r written to rw. rpc says whether r is
// an RPC (Connect, gRPC, gRPC-Web) rather than a plain HTTP request.
func (w *Recorder) Reset(rw http.ResponseWriter, r *http.Request, rpc bool) {
	*w = Recorder{ResponseWriter: rw, status: http.StatusOK}
	// gRPC and gRPC-Web (connect-go matches media types without case).
	if ct := first(r.Header["Content-Type"]); rpc && len(ct) >= 16 && strings.EqualFold(ct[:16], "application/grpc") {
		w.grpc = true
		if len(ct) >= 20 && strings.EqualFold(ct[:20], "application/grpc-web") {
			w.web = &webTrailer{}
		}
	}
}

// Status is the HTTP status of the answer (200 if none was written).
func (w *Recorder) Status() int { return w.status }

// Code is the RPC's code as the caller got it ("ok" for success): gRPC's
// grpc-status (a header or trailer; for gRPC-Web the trailer frame of the
// body), otherwise the code of the HTTP status under the Connect protocol's
// mapping (CodeOfStatus). The keys are in canonical form, so the map is
// indexed directly.
func (w *Recorder) Code() string {
	var v string
	if w.grpc {
		h := w.Header()
		v = first(h["Grpc-Status"])
		if v == "" {
			v = first(h[http.TrailerPrefix+"Grpc-Status"])
		}
		if v == "" && w.web != nil {
			v = w.web.status
		}
	}
	if v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			if n == 0 {
				return "ok"
			}
			return connect.Code(n).String()
		}
	}
	return CodeOfStatus(w.status)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// WriteHeader records the first status.
func (w *Recorder) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *Recorder) Write(b []byte) (int, error) {
	w.wroteHeader = true
	if w.web != nil {
		w.web.scan(b)
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes through so streaming (reflection, gRPC) still works.
func (w *Recorder) Flush() {
	w.wroteHeader = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *Recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// webTrailer follows a gRPC-Web body's envelopes (a flag byte, a 4-byte
// length, the payload) to read grpc-status from the trailer envelope (flag
// 0x80), however the writes split them.
type webTrailer struct {
	head    [5]byte
	nhead   int
	left    uint32 // payload bytes still to come
	trailer bool   // the current payload is the trailer
	buf     []byte // the trailer's payload so far
	status  string
}

func (t *webTrailer) scan(b []byte) {
	for len(b) > 0 {
		if t.left == 0 && t.nhead < 5 {
			n := copy(t.head[t.nhead:], b)
			t.nhead += n
			b = b[n:]
			if t.nhead == 5 {
				t.left = binary.BigEndian.Uint32(t.head[1:])
				t.trailer = t.head[0]&0x80 != 0
				t.nhead = 0
				if t.left == 0 {
					continue
				}
			}
			continue
		}
		n := min(uint32(len(b)), t.left)
		if t.trailer && len(t.buf) < 4096 {
			t.buf = append(t.buf, b[:n]...)
		}
		t.left -= n
		b = b[n:]
		if t.left == 0 && t.trailer {
			t.parse()
		}
	}
}

func (t *webTrailer) parse() {
	for _, line := range strings.Split(string(t.buf), "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "grpc-status") {
			t.status = strings.TrimSpace(v)
		}
	}
	t.buf = t.buf[:0]
}
