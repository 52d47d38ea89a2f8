package roompolicy

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/service/authn"
)

// TestEvaluationErrorsQuoteNoValues: a failed evaluation says where in the
// policy and what kind of error, never a claim's or the request's value,
// in the Decision and in the Hook's log line.
func TestEvaluationErrorsQuoteNoValues(t *testing.T) {
	t.Parallel()
	const secret = "alice.secret@example.com"
	claims := map[string]any{"sub": "u1", "email": secret, "level": secret, "rooms": map[string]any{"x": true},
		"pattern": secret + "(", "when": secret}
	for expr, want := range map[string]string{
		`timestamp(claims.email) < timestamp("2030-01-01T00:00:00Z")`: "at line 1, column 10: invalid RFC 3339 timestamp",
		`int(claims.level) > 2`:                      "at line 1, column 4: ",
		`claims.rooms[claims.email] == true`:         "at line 1, column 13: no such key",
		`claims.rooms[request.room_name] == true`:    "at line 1, column 13: no such key",
		`request.room_name.matches(claims.pattern)`:  "at line 1, column 26: ",
		`duration(claims.when) > duration("1s")`:     "at line 1, column 9: ",
		"true &&\n  claims.org == request.room_name": "at line 2, column 9: no such key",
		`[1][size(request.room_name)] == 1`:          "at line 1, column 4: index out of range",
	} {
		p, err := Compile(expr)
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		r := req(secret+"-room", secret)
		d := p.Evaluate(context.Background(), r, claims)
		if d.Outcome != Failed {
			t.Errorf("%q: %s", expr, d.Outcome)
			continue
		}
		var buf bytes.Buffer
		allow, _ := Hook{Policy: p, Log: slog.New(slog.NewJSONHandler(&buf, nil))}.Allow(context.Background(), r,
			&authn.Principal{Subject: "u1", Claims: claims})
		if allow {
			t.Errorf("%q: allowed", expr)
		}
		for what, s := range map[string]string{"decision": d.Err.Error(), "log": buf.String()} {
			if strings.Contains(s, "alice") {
				t.Errorf("%q: the %s quotes a value: %s", expr, what, s)
			}
		}
		if !strings.HasPrefix(d.Err.Error(), want) {
			t.Errorf("%q: error %q, want it to start with %q", expr, d.Err, want)
		}
	}
}
