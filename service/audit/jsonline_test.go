package audit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// The fast mint line (jsonline.go) must be exactly what slog writes for the
// same entry. These tests are its guard against the library it replaces.

// stamp matches the time of a line; both paths stamp with time.Now, so the
// comparison replaces it (TestFastMintLineTime checks its format).
var stamp = regexp.MustCompile(`^\{"time":"[^"]*",`)

// linesOf runs Mint on e through slog's JSON handler and through the fast
// path, at level, with the same clock.
func linesOf(t *testing.T, e Entry, level slog.Level) (slow, fast string) {
	t.Helper()
	now := func() time.Time { return e.Started.Add(1234567 * time.Nanosecond) }
	var sb, fb bytes.Buffer
	New(slog.New(slog.NewJSONHandler(&sb, &slog.HandlerOptions{Level: level})), now).Mint(context.Background(), e)
	fl := New(slog.New(NewJSONHandler(&fb, level)), now)
	if fl.fast == nil {
		t.Fatal("NewJSONHandler's logger does not take the fast path")
	}
	fl.Mint(context.Background(), e)
	return stamp.ReplaceAllString(sb.String(), `{"time":"T",`), stamp.ReplaceAllString(fb.String(), `{"time":"T",`)
}

// nasty is text that exercises every escaping rule.
var nasty = []string{
	"", "standup-room-42", "user-42@example.com", `quo"te`, `back\slash`, "tab\there", "nl\nx", "cr\rx",
	"\x00\x01\x1f\x7f", "\b\f", "<script>&amp;</script>", "é ü 日本 🎉", "a\xffb", "\xc3", "\xed\xa0\x80",
	"\u2028\u2029", "line\u2028sep", strings.Repeat("é", 200), strings.Repeat("x", 301), "\ufffd", "\uFEFF",
}

func randomText(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return nasty[r.IntN(len(nasty))]
	}
	var b []byte
	for range r.IntN(40) {
		switch r.IntN(6) {
		case 0:
			b = append(b, byte(r.IntN(0x20)))
		case 1:
			b = append(b, byte(0x80+r.IntN(0x80))) // often invalid UTF-8
		case 2:
			b = append(b, string(rune(r.IntN(0x3000)))...)
		case 3:
			b = append(b, `"\<>&`[r.IntN(5)])
		default:
			b = append(b, byte(0x20+r.IntN(0x5f)))
		}
	}
	return string(b)
}

var errs = []error{
	nil,
	connect.NewError(connect.CodeInvalidArgument, errors.New("room_name: bad")),
	connect.NewError(connect.CodePermissionDenied, errors.New("no")),
	connect.NewError(connect.CodeInternal, errors.New("signing")),
	connect.NewError(connect.CodeUnauthenticated, errors.New("who")),
	errors.New("plain error"),
}

func TestFastMintLineMatchesSlog(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	started := time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)
	for i := range 20000 {
		e := Entry{
			RequestID: randomText(r), Peer: randomText(r), Route: randomText(r),
			Room: randomText(r), Identity: randomText(r),
			Lifetime: time.Duration(r.Int64N(100000)) * time.Second / time.Duration(1+r.IntN(3)),
			Err:      errs[r.IntN(len(errs))],
			Started:  started,
		}
		if r.IntN(3) == 0 {
			e.Issuer, e.Subject = randomText(r), randomText(r)
		}
		if r.IntN(3) == 0 {
			e.Policy = randomText(r)
		}
		level := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}[r.IntN(4)]
		slow, fast := linesOf(t, e, level)
		if slow != fast {
			t.Fatalf("entry %d (%+v) at %v:\nslog: %q\nfast: %q", i, e, level, slow, fast)
		}
	}
}

// Entries with agents go through slog itself, and are written the same.
func TestMintLineWithAgentsGoesThroughSlog(t *testing.T) {
	e := Entry{RequestID: "r", Room: "room", Identity: "id", Agents: []string{"a<b", "c\x01"}, Started: time.Now()}
	slow, fast := linesOf(t, e, slog.LevelInfo)
	if slow != fast || !strings.Contains(fast, `"agents":[`) {
		t.Fatalf("slog: %q\nfast: %q", slow, fast)
	}
}

// The time is slog's: RFC 3339 with nanoseconds, of the moment of writing.
func TestFastMintLineTime(t *testing.T) {
	var b bytes.Buffer
	before := time.Now()
	New(slog.New(NewJSONHandler(&b, slog.LevelInfo)), time.Now).Mint(context.Background(), Entry{Started: before})
	after := time.Now()
	m := regexp.MustCompile(`^\{"time":"([^"]*)"`).FindStringSubmatch(b.String())
	if m == nil {
		t.Fatalf("no time in %q", b.String())
	}
	ts, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil || ts.Before(before.Round(0).Truncate(time.Nanosecond)) || ts.After(after) {
		t.Fatalf("time %q (%v) not between %v and %v", m[1], err, before, after)
	}
	if got, want := m[1], ts.Format(time.RFC3339Nano); got != want {
		t.Fatalf("time %q, slog would write %q", got, want)
	}
}

// latency_ms is written as encoding/json writes floats, whatever its size.
func TestFastMintFloatsMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	values := []float64{0, 0.001, 0.5, 1, 12.345, 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, 123456789.123, -0.25, -1e-9}
	for range 20000 {
		values = append(values, float64(r.Int64N(1e9))/1000, math.Float64frombits(r.Uint64()&^(0x7ff<<52)|uint64(0x3c0+r.IntN(0x100))<<52))
	}
	var want bytes.Buffer
	h := slog.NewJSONHandler(&want, nil)
	for _, f := range values {
		want.Reset()
		rec := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
		rec.AddAttrs(slog.Float64("f", f))
		if err := h.Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		got := `{"level":"INFO","msg":"","f":` + string(appendFloat(nil, f)) + "}\n"
		if got != want.String() {
			t.Fatalf("%v: fast %q, slog %q", f, got, want.String())
		}
	}
}

// The fast path writes a fixed list of Entry's fields. A field added to
// Entry must be written by both paths (then listed here), or the lines of
// the two would differ without any test noticing.
func TestFastMintLineKnowsEveryEntryField(t *testing.T) {
	known := []string{"RequestID", "Peer", "Route", "Room", "Identity", "Agents", "Issuer", "Subject", "Policy", "Lifetime", "Err", "Started"}
	var fields []string
	for f := range reflect.TypeFor[Entry]().Fields() {
		fields = append(fields, f.Name)
	}
	if !slices.Equal(fields, known) {
		t.Fatalf("audit.Entry has fields %v; writeMint (jsonline.go) and mintSlog write %v: update both, then this list", fields, known)
	}
}

// Other lines through NewJSONHandler are slog's own, WithAttrs included.
func TestJSONHandlerIsSlogs(t *testing.T) {
	var sb, fb bytes.Buffer
	slow := slog.New(slog.NewJSONHandler(&sb, &slog.HandlerOptions{Level: slog.LevelInfo})).With("k", "v")
	fast := slog.New(NewJSONHandler(&fb, slog.LevelInfo)).With("k", "v")
	for _, l := range []*slog.Logger{slow, fast} {
		l.Debug("hidden")
		l.Info("listening", "addr", "127.0.0.1:1", "n", 3, "f", 0.5)
		l.Warn("x\ny", slog.Any("list", []string{"a", "b"}))
	}
	if s, f := stamp.ReplaceAllString(sb.String(), ""), stamp.ReplaceAllString(fb.String(), ""); s != f {
		// Only the first line's stamp is replaced; compare line by line.
		sl, fl := strings.Split(sb.String(), "\n"), strings.Split(fb.String(), "\n")
		for i := range sl {
			if stamp.ReplaceAllString(sl[i], "") != stamp.ReplaceAllString(fl[i], "") {
				t.Fatalf("line %d: slog %q, ours %q", i, sl[i], fl[i])
			}
		}
	}
	if a := New(fast, time.Now); a.fast != nil {
		t.Fatal("a logger with attributes must not take the fast path")
	}
}
