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
	New(slog.New(slog.NewJSONHandler(&sb, &slog.HandlerOptions{Level: level})), now, nil).Mint(context.Background(), e)
	New(slog.New(slog.NewJSONHandler(&fb, &slog.HandlerOptions{Level: level})), now, &fb).Mint(context.Background(), e)
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
	New(slog.New(slog.NewJSONHandler(&b, nil)), time.Now, &b).Mint(context.Background(), Entry{Started: before})
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

// countingHandler counts the records that reach it.
type countingHandler struct {
	slog.Handler
	n *int
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	*h.n++
	return h.Handler.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.n}
}

// The direct path is chosen by New's lines argument, explicitly: a logger
// that was given attributes (log.With) afterwards keeps it, where a fast
// path found by inspecting the logger's handler silently switched off.
func TestDirectPathSurvivesLogWith(t *testing.T) {
	var b bytes.Buffer
	records := 0
	log := slog.New(countingHandler{slog.NewJSONHandler(&b, nil), &records}).With("component", "audit")
	New(log, time.Now, &b).Mint(context.Background(), Entry{RequestID: "r", Room: "room", Identity: "id", Started: time.Now()})
	if records != 0 {
		t.Fatalf("the mint line went through slog (%d records): %q", records, b.String())
	}
	if !strings.Contains(b.String(), `"msg":"mint","request_id":"r",`) {
		t.Fatalf("no direct mint line: %q", b.String())
	}
	// Without lines, the same logger writes it through slog.
	b.Reset()
	New(log, time.Now, nil).Mint(context.Background(), Entry{RequestID: "r", Started: time.Now()})
	if records != 1 {
		t.Fatalf("%d records through slog, want 1", records)
	}
}

// Below the logger's level the direct path writes nothing, as slog would.
func TestDirectPathKeepsTheLevel(t *testing.T) {
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelWarn}))
	New(log, time.Now, &b).Mint(context.Background(), Entry{RequestID: "r", Started: time.Now()})
	if b.Len() != 0 {
		t.Fatalf("an info line below warn: %q", b.String())
	}
}
