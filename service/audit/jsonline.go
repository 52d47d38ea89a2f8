package audit

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// The mint line is the one line every request writes; going through slog
// cost about a tenth of a request's CPU time (building the record, its
// attribute slice, encoding/json for the latency) and the deepest stack of
// the request. So a Log that is handed the writer under its logger's JSON
// handler (New's lines; package logging provides both) writes its mint lines
// there itself, byte for byte as that handler would. Every other line, and a
// mint line this path does not cover (one with agents), still goes through
// slog. TestFastMintLineMatchesSlog holds the two together.

// fastMint reports whether e's line can be written by writeMint: everything
// but agents, which slog writes with encoding/json's own escaping.
func fastMint(e *Entry) bool { return len(e.Agents) == 0 }

var lineBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// writeMint writes the mint line of e to w as slog's JSON handler writes the
// record Log.mintSlog logs: the same keys, in the same order, escaped the
// same way, stamped with time.Now as slog.Logger stamps records. The line
// goes out in one Write.
func writeMint(w io.Writer, level slog.Level, e *Entry, outcome string, latencyMS float64) {
	bp := lineBuffers.Get().(*[]byte)
	b := append((*bp)[:0], `{"time":"`...)
	b = time.Now().Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, level.String())
	b = append(b, `,"msg":"mint","request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"peer":`...)
	b = appendString(b, e.Peer)
	b = append(b, `,"route":`...)
	b = appendString(b, e.Route)
	b = append(b, `,"room":`...)
	b = appendString(b, Text(e.Room))
	b = append(b, `,"identity":`...)
	b = appendString(b, Text(e.Identity))
	if e.Issuer != "" || e.Subject != "" {
		b = append(b, `,"principal_issuer":`...)
		b = appendString(b, Text(e.Issuer))
		b = append(b, `,"principal_subject":`...)
		b = appendString(b, Text(e.Subject))
	}
	if e.Policy != "" {
		b = append(b, `,"policy":`...)
		b = appendString(b, Text(e.Policy))
	}
	b = append(b, `,"lifetime_s":`...)
	b = strconv.AppendInt(b, int64(e.Lifetime/time.Second), 10)
	b = append(b, `,"outcome":`...)
	b = appendString(b, outcome)
	b = append(b, `,"latency_ms":`...)
	b = appendFloat(b, latencyMS)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
	if cap(b) <= 16<<10 { // as slog does, keep only small buffers
		*bp = b
		lineBuffers.Put(bp)
	}
}

// mintFast writes e's line directly if the Log was given its lines writer
// and the line is one writeMint covers; it reports whether the line was
// handled (written, or below the logger's level).
func (a *Log) mintFast(ctx context.Context, e *Entry, outcome string, level slog.Level, latencyMS float64) bool {
	if a.lines == nil || !fastMint(e) {
		return false
	}
	if a.log.Enabled(ctx, level) {
		writeMint(a.lines, level, e, outcome, latencyMS)
	}
	return true
}

// appendFloat writes f as encoding/json does (slog formats floats with it).
// latency_ms is always finite; NaN and infinities never reach here.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// encoding/json writes e-7, not e-07.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// plain marks the ASCII bytes slog's JSON handler copies as they are: all
// but the control characters, the quote and the backslash (its safeSet).
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendString writes s quoted and escaped as slog's JSON handler does:
// control characters as \n, \r, \t or \u00XX, invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped, everything else (HTML characters included) as is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
