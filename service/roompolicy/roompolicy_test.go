package roompolicy

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

func req(room, identity string) *lktokenv1.GenerateTokenRequest {
	return &lktokenv1.GenerateTokenRequest{RoomName: room, ParticipantIdentity: identity}
}

// TestEvaluate is the table of expressions × claims × requests.
func TestEvaluate(t *testing.T) {
	t.Parallel()
	acme := map[string]any{"sub": "u1", "org": "acme", "level": int64(3), "score": 2.5,
		"groups": []any{"staff", "ops"}, "email_verified": true, "rooms": map[string]any{"standup": true}}
	noOrg := map[string]any{"sub": "u2"}
	wrongType := map[string]any{"sub": "u3", "org": int64(7)}

	const orgOrLobby = `request.room_name.startsWith(claims.org + "-") || request.room_name == "lobby"`
	cases := []struct {
		expr   string
		claims map[string]any
		req    *lktokenv1.GenerateTokenRequest
		want   Outcome
	}{
		// A room per organisation, and a shared lobby.
		{orgOrLobby, acme, req("acme-standup", "u1"), Allowed},
		{orgOrLobby, acme, req("lobby", "u1"), Allowed},
		{orgOrLobby, acme, req("globex-standup", "u1"), Denied},
		{orgOrLobby, acme, req("acme", "u1"), Denied},
		// A claim the token lacks: an error, so denied (fail closed)...
		{orgOrLobby, noOrg, req("acme-standup", "u2"), Failed},
		// ...even where the other branch would be true? CEL's || is
		// commutative over errors: true || error is true.
		{orgOrLobby, noOrg, req("lobby", "u2"), Allowed},
		// A claim of another type than the expression needs.
		{orgOrLobby, wrongType, req("7-x", "u3"), Failed},
		// No claims at all (nil map).
		{orgOrLobby, nil, req("acme-x", "u1"), Failed},
		// Optional claims, the safe way to write it.
		{`request.room_name.startsWith(claims.?org.orValue("-none-") + "-")`, noOrg, req("acme-x", "u2"), Denied},
		{`has(claims.org) && request.room_name.startsWith(claims.org + "-")`, noOrg, req("acme-x", "u2"), Denied},
		{`has(claims.org) && request.room_name.startsWith(claims.org + "-")`, acme, req("acme-x", "u1"), Allowed},
		// Lists and maps in claims.
		{`"ops" in claims.groups`, acme, req("r", "u1"), Allowed},
		{`"admins" in claims.groups`, acme, req("r", "u1"), Denied},
		{`claims.groups.exists(g, request.room_name == g + "-room")`, acme, req("ops-room", "u1"), Allowed},
		{`request.room_name in claims.rooms`, acme, req("standup", "u1"), Allowed},
		{`request.room_name in claims.rooms`, acme, req("secret", "u1"), Denied},
		// Numbers: JSON ints and doubles compare across types.
		{`claims.level >= 3`, acme, req("r", "u1"), Allowed},
		{`claims.level > 3.5`, acme, req("r", "u1"), Denied},
		{`claims.score < 3`, acme, req("r", "u1"), Allowed},
		{`claims.email_verified == true`, acme, req("r", "u1"), Allowed},
		// The request as sent: identity, optional fields, attributes.
		{`request.participant_identity == claims.sub`, acme, req("r", "u1"), Allowed},
		{`request.participant_identity == claims.sub`, acme, req("r", "u9"), Denied},
		{`!has(request.participant_name) || request.participant_name.size() <= 20`, acme,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "u1", ParticipantName: proto.String("Ada")}, Allowed},
		{`has(request.participant_name)`, acme, req("r", "u1"), Denied},
		{`request.participant_attributes["team"] == "blue"`, acme,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "u1", ParticipantAttributes: map[string]string{"team": "blue"}}, Allowed},
		{`request.participant_attributes["team"] == "blue"`, acme, req("r", "u1"), Failed},
		// String extensions.
		{`request.room_name.lowerAscii() == "lobby"`, acme, req("LOBBY", "u1"), Allowed},
		{`request.room_name.split("-")[0] == claims.org`, acme, req("acme-1", "u1"), Allowed},
		{`request.room_name.matches("^[a-z]+-[0-9]+$")`, acme, req("acme-12", "u1"), Allowed},
		{`request.room_name.matches("^[a-z]+-[0-9]+$")`, acme, req("acme-x", "u1"), Denied},
		// Constant policies.
		{`true`, nil, req("any", "u"), Allowed},
		{`false`, acme, req("any", "u1"), Denied},
		// Runtime errors of other kinds.
		{`1 / (claims.level - 3) == 0`, acme, req("r", "u1"), Failed},
	}
	for _, c := range cases {
		p, err := Compile(c.expr)
		if err != nil {
			t.Errorf("Compile(%q): %v", c.expr, err)
			continue
		}
		d := p.Evaluate(context.Background(), c.req, c.claims)
		if d.Outcome != c.want {
			t.Errorf("%q with claims %v, room %q: %s (%v), want %s", c.expr, c.claims, c.req.GetRoomName(), d.Outcome, d.Err, c.want)
		}
		if (d.Outcome == Failed) != (d.Err != nil) {
			t.Errorf("%q: outcome %s with error %v", c.expr, d.Outcome, d.Err)
		}
		if d.Allow() != (c.want == Allowed) {
			t.Errorf("%q: Allow() = %v", c.expr, d.Allow())
		}
	}
}

// TestCompileErrors: mistakes are found at start, with their position.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	for expr, want := range map[string]string{
		``:                                "empty",
		`   `:                             "empty",
		`request.room == "x"`:             "roompolicy.Expression:1:8: undefined field 'room'",
		`request.room_name.startsWith(1)`: "roompolicy.Expression:1:29: found no matching overload for 'startsWith'",
		`reqest.room_name == "x"`:         "roompolicy.Expression:1:1: undeclared reference to 'reqest'",
		`request.room_name == "x" &&`:     "roompolicy.Expression:1:28: Syntax error",
		"true &&\n  request.room_name = \"lobby\"": "roompolicy.Expression:2:21: Syntax error",
		`request.room_name`:                        "must be a bool",
		`claims.org`:                               "must be a bool",
		`request.expiration_seconds + "s"`:         "no matching overload",
		strings.Repeat("true && ", 3000) + "true":  "longer than",
	} {
		_, err := Compile(expr)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%.40q): %v, want it to say %q", expr, err, want)
		}
	}
}

// TestCostLimit: an expensive expression fails closed instead of running.
func TestCostLimit(t *testing.T) {
	t.Parallel()
	p, err := Compile(`claims.big.all(a, claims.big.all(b, claims.big.all(c, a + b + c != "")))`)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]any, 200)
	for i := range big {
		big[i] = "x"
	}
	d := p.Evaluate(context.Background(), req("r", "u"), map[string]any{"big": big})
	if d.Outcome != Failed || !strings.Contains(d.Err.Error(), "cost") {
		t.Fatalf("%s %v", d.Outcome, d.Err)
	}
}

func TestCanceledContextFails(t *testing.T) {
	t.Parallel()
	p, err := Compile(`claims.big.all(a, claims.big.all(b, a != b || true))`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	big := make([]any, 150)
	for i := range big {
		big[i] = int64(i)
	}
	if d := p.Evaluate(ctx, req("r", "u"), map[string]any{"big": big}); d.Outcome != Failed {
		t.Fatalf("canceled: %s", d.Outcome)
	}
}

// TestCheapPoliciesSkipRuntimeCosting: the usual policies are statically
// bounded and run without cost tracking; comprehensions over claims are not.
func TestCheapPoliciesSkipRuntimeCosting(t *testing.T) {
	t.Parallel()
	for expr, limited := range map[string]bool{
		`request.room_name.startsWith(claims.org + "-") || request.room_name == "lobby"`: false,
		`request.room_name.matches("^[a-z]+-[0-9]+$")`:                                   false,
		`"ops" in claims.groups`:                                    false,
		`claims.groups.exists(g, request.room_name == g + "-room")`: true,
	} {
		p, err := Compile(expr)
		if err != nil {
			t.Fatal(err)
		}
		if p.limited != limited {
			t.Errorf("%q: limited = %v, want %v", expr, p.limited, limited)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p, err := Compile(`request.room_name.startsWith(claims.org + "-") || request.room_name == "lobby"`)
	if err != nil {
		b.Fatal(err)
	}
	r := req("acme-standup", "u1")
	claims := map[string]any{"org": "acme", "sub": "u1"}
	b.ReportAllocs()
	for b.Loop() {
		if !p.Evaluate(context.Background(), r, claims).Allow() {
			b.Fatal("denied")
		}
	}
}
