package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/pipeline"
)

var creds = keys.Credentials{APIKey: "APIpipeline", APISecret: "pipeline-secret-0123456789abcdefghijkl"}

// steps records what the hooks saw, in order.
type steps struct{ seen []string }

type fakeAuthn struct {
	s *steps
	p *authn.Principal
}

func (a fakeAuthn) Authenticate(_ context.Context, c authn.Caller) (*authn.Principal, error) {
	a.s.seen = append(a.s.seen, "authenticate "+c.Header.Get("Authorization"))
	if c.Header.Get("Authorization") != "Bearer ok" {
		return nil, errors.New("no token")
	}
	return a.p, nil
}

type fakePolicy struct{ s *steps }

func (p fakePolicy) Allow(_ context.Context, req *lktokenv1.GenerateTokenRequest, pr *authn.Principal) (bool, string) {
	p.s.seen = append(p.s.seen, "policy "+req.RoomName+" "+req.ParticipantIdentity+" "+pr.Subject)
	if req.RoomName != "lobby" {
		return false, "rule 1"
	}
	return true, ""
}

type observer struct{ s *steps }

func (o observer) ObserveMint(_ time.Duration, outcome string) {
	o.s.seen = append(o.s.seen, "observe "+outcome)
}

func newOp(t *testing.T) (*pipeline.Operation, *steps, *testserver.Log) {
	t.Helper()
	s := &steps{}
	logs := &testserver.Log{}
	op := pipeline.New(pipeline.Options{
		Issuer:        mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), mint.DefaultPolicy("wss://lk.example.test"), time.Now),
		Authenticator: fakeAuthn{s: s, p: &authn.Principal{Issuer: "https://idp.example", Subject: "sub-1", Identity: "ada", Name: "Ada L."}},
		RoomPolicy:    fakePolicy{s: s},
		Log:           slog.New(slog.NewJSONHandler(logs, nil)),
		Now:           time.Now,
		Observer:      observer{s: s},
	})
	return op, s, logs
}

func call(req *lktokenv1.GenerateTokenRequest) pipeline.Call {
	return pipeline.Call{Route: "/test", Peer: "127.0.0.1:1", Request: req}
}

// mintAs is the one path of a request: authenticate from the headers, then
// Mint with the verified caller.
func mintAs(op *pipeline.Operation, auth string, req *lktokenv1.GenerateTokenRequest) (pipeline.Result, error) {
	ctx := context.Background()
	v, err := op.Authenticate(ctx, authn.Caller{Header: http.Header{"Authorization": {auth}}, Peer: "127.0.0.1:1"}, "/test")
	if err != nil {
		return pipeline.Result{}, err
	}
	c := call(req)
	c.Caller = v
	return op.Mint(ctx, c)
}

func lastLine(t *testing.T, logs *testserver.Log) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Authenticate, bind the identity, validate, room policy, sign; the outcome
// comes back as a value and the audit line names the principal and policy.
func TestMintRunsEveryStepInOrder(t *testing.T) {
	t.Parallel()
	op, s, logs := newOp(t)
	res, err := mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Token.Identity != "ada" || res.Token.Room != "lobby" || res.ServerURL != "wss://lk.example.test" || res.Principal.Subject != "sub-1" {
		t.Errorf("result %+v", res)
	}
	if g := cases.JWTPayload(t, res.Token.JWT); g["sub"] != "ada" || g["name"] != "Ada L." || g["iss"] != creds.APIKey {
		t.Errorf("claims %v", g)
	}
	want := "authenticate Bearer ok|policy lobby ada sub-1|observe issued"
	if got := strings.Join(s.seen, "|"); got != want {
		t.Errorf("steps\n got %s\nwant %s", got, want)
	}
	line := lastLine(t, logs)
	if line["msg"] != "mint" || line["identity"] != "ada" || line["principal_subject"] != "sub-1" ||
		line["principal_issuer"] != "https://idp.example" || line["policy"] != "allowed" || line["outcome"] != "issued" {
		t.Errorf("audit line %v", line)
	}
}

func TestMintRefusals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, auth string
		req        *lktokenv1.GenerateTokenRequest
		code       connect.Code
		msg        string
		steps      string
		logged     string
	}{
		{"unauthenticated", "Bearer no", &lktokenv1.GenerateTokenRequest{RoomName: "lobby"}, connect.CodeUnauthenticated, "no token",
			"authenticate Bearer no", "refused"},
		{"another identity", "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby", ParticipantIdentity: "eve"}, connect.CodePermissionDenied,
			"participant_identity: must be your verified identity, or left out to be filled in with it", "authenticate Bearer ok", "mint"},
		{"invalid", "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: " "}, connect.CodeInvalidArgument,
			"room_name: must not be only whitespace", "authenticate Bearer ok", "mint"},
		{"policy", "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "secret-room"}, connect.CodePermissionDenied,
			"room_name: the room policy does not allow this room (rule 1)", "authenticate Bearer ok|policy secret-room ada sub-1|observe permission_denied", "mint"},
		{"server policy", "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby", ParticipantMetadata: new(string(strings.Repeat("x", 5000)))},
			connect.CodeInvalidArgument, "participant_metadata: must be at most 4096 bytes (server limit)",
			"authenticate Bearer ok|policy lobby ada sub-1|observe invalid_argument", "mint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			op, s, logs := newOp(t)
			_, err := mintAs(op, c.auth, c.req)
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != c.code || cerr.Message() != c.msg {
				t.Fatalf("err %v, want %s %q", err, c.code, c.msg)
			}
			if got := strings.Join(s.seen, "|"); got != c.steps {
				t.Errorf("steps\n got %s\nwant %s", got, c.steps)
			}
			if line := lastLine(t, logs); line["msg"] != c.logged || line["outcome"] != c.code.String() {
				t.Errorf("log line %v", line)
			}
			if c.code == connect.CodeUnauthenticated && cerr.Meta().Get("WWW-Authenticate") != authn.Challenge {
				t.Errorf("challenge %q", cerr.Meta().Get("WWW-Authenticate"))
			}
		})
	}
}

// An operation that authenticates refuses a call that did not pass
// Authenticate (a route wired beside the authentication): fail closed, and
// audited. A route's decoding failure is audited and returned.
func TestMintRefusesUnverifiedCallsAndReportsDecodeErrors(t *testing.T) {
	t.Parallel()
	op, s, logs := newOp(t)
	_, err := op.Mint(context.Background(), call(&lktokenv1.GenerateTokenRequest{RoomName: "lobby"}))
	if connect.CodeOf(err) != connect.CodeInternal {
		t.Fatalf("err %v, want internal", err)
	}
	if len(s.seen) != 0 {
		t.Errorf("steps ran: %v", s.seen)
	}
	if line := lastLine(t, logs); line["msg"] != "mint" || line["outcome"] != "internal" {
		t.Errorf("log line %v", line)
	}
	v, err := op.Authenticate(context.Background(), authn.Caller{Header: http.Header{"Authorization": {"Bearer ok"}}}, "/test")
	if err != nil || v.Principal().Identity != "ada" {
		t.Fatalf("%v %+v", err, v)
	}
	bad := connect.NewError(connect.CodeInvalidArgument, errors.New("not JSON"))
	c := call(nil)
	c.Caller, c.Err = v, bad
	if _, err := op.Mint(context.Background(), c); err != bad {
		t.Errorf("err %v, want the route's", err)
	}
	if line := lastLine(t, logs); line["msg"] != "mint" || line["outcome"] != "invalid_argument" || line["principal_subject"] != "sub-1" {
		t.Errorf("log line %v", line)
	}
}
