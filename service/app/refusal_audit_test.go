package app

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/hostile"
	"github.com/lktoken/lktoken/service/config"
)

// Every refusal, on every route and protocol, leaves exactly one audit line,
// and one refusal leaves the same line (the same message, keys and outcome)
// whichever route and protocol it came by. Malformed bodies on the Connect
// route used to leave none: connect-go refuses them before GenerateToken
// runs, where /api/token's own decoding went through the mint operation.
func TestEveryRefusalIsAuditedOnceAlike(t *testing.T) {
	t.Parallel()
	const bearer = "a-test-bearer-token-of-enough-length-0123456789"
	cfg := testConfig()
	cfg.Ops.BearerToken = config.Secret(bearer)
	cfg.TokenEndpointPath = hostile.TokenPath
	cfg.MaxRequestBytes = 1024
	srv := startServer(t, cfg)
	clients := hostile.NewClients()
	defer clients.Close()

	auth := http.Header{"Authorization": {"Bearer " + bearer}}
	pb := func(m *lktokenv1.GenerateTokenRequest) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	blank := &lktokenv1.GenerateTokenRequest{RoomName: " ", ParticipantIdentity: "u"}
	big := strings.Repeat("x", 2000)
	garbage := []byte{0xff, 0xff, 0xff}
	type body struct{ connectJSON, connectProto, grpc, token string }
	kinds := []struct {
		name, msg, outcome string
		header             http.Header
		body               body
	}{
		{"unauthenticated", "refused", "unauthenticated", nil, body{`{}`, "", "", `{}`}},
		{"malformed", "mint", "invalid_argument", auth, body{`{"roomName":`, string(garbage), string(garbage), `{"room_name":`}},
		{"invalid", "mint", "invalid_argument", auth,
			body{`{"roomName":" ","participantIdentity":"u"}`, string(pb(blank)), string(pb(blank)), `{"room_name":" ","participant_identity":"u"}`}},
		{"too large", "mint", "resource_exhausted", auth,
			body{`{"roomName":"` + big + `"}`, string(pb(&lktokenv1.GenerateTokenRequest{RoomName: big})), string(pb(&lktokenv1.GenerateTokenRequest{RoomName: big})), `{"room_name":"` + big + `"}`}},
	}
	for _, k := range kinds {
		var first map[string]any
		for _, c := range []hostile.Case{
			{Name: "connect json", Proto: hostile.ConnectJSON, Body: []byte(k.body.connectJSON)},
			{Name: "connect proto", Proto: hostile.ConnectProto, Body: []byte(k.body.connectProto)},
			{Name: "grpc", Proto: hostile.GRPC, Body: hostile.Envelope(0, []byte(k.body.grpc))},
			{Name: "grpc-web", Proto: hostile.GRPCWeb, Body: hostile.Envelope(0, []byte(k.body.grpc))},
			{Name: "/api/token", Proto: hostile.PlainJSON, Path: hostile.TokenPath, Body: []byte(k.body.token)},
		} {
			c.Header = k.header.Clone()
			before := len(srv.Log.String())
			res, err := clients.Do(srv.URL, c)
			if err != nil {
				t.Fatalf("%s, %s: %v", k.name, c.Name, err)
			}
			if res.Code != k.outcome {
				t.Errorf("%s, %s: code %q (%s), want %q", k.name, c.Name, res.Code, res.Message, k.outcome)
			}
			var lines []map[string]any
			for _, l := range strings.Split(strings.TrimSpace(srv.Log.String()[before:]), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("%s, %s: %q: %v", k.name, c.Name, l, err)
				}
				if m["msg"] == "mint" || m["msg"] == "refused" {
					lines = append(lines, m)
				}
			}
			if len(lines) != 1 {
				t.Errorf("%s, %s: %d audit lines, want 1: %v", k.name, c.Name, len(lines), lines)
				continue
			}
			line := lines[0]
			if line["msg"] != k.msg || line["outcome"] != k.outcome {
				t.Errorf("%s, %s: audit line %v, want %s with outcome %s", k.name, c.Name, line, k.msg, k.outcome)
			}
			if first == nil {
				first = line
				continue
			}
			if a, b := slices.Sorted(maps.Keys(first)), slices.Sorted(maps.Keys(line)); !slices.Equal(a, b) {
				t.Errorf("%s, %s: keys %v, but %v on the first protocol", k.name, c.Name, b, a)
			}
		}
	}
	// Refused for the request's form rather than its body: plain HTTP on both
	// routes, audited with the code the caller got.
	for _, c := range []hostile.Case{
		{Name: "connect, PUT", Proto: hostile.ConnectJSON, Method: http.MethodPut, Code: "unimplemented"},
		{Name: "/api/token, PUT", Proto: hostile.PlainJSON, Method: http.MethodPut, Path: hostile.TokenPath, Code: "unimplemented"},
		{Name: "connect, text/plain", Proto: hostile.HTTP, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("{}"), Code: "invalid_argument"},
		{Name: "/api/token, text/plain", Proto: hostile.HTTP, Path: hostile.TokenPath, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("{}"), Code: "invalid_argument"},
	} {
		c.Header = mergeHeader(auth, c.Header)
		before := len(srv.Log.String())
		if _, err := clients.Do(srv.URL, c); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		n := strings.Count(srv.Log.String()[before:], `"msg":"mint"`)
		if n != 1 || !strings.Contains(srv.Log.String()[before:], `"outcome":"`+c.Code+`"`) {
			t.Errorf("%s: %d mint lines, want 1 with outcome %s: %s", c.Name, n, c.Code, srv.Log.String()[before:])
		}
	}
}

func mergeHeader(a, b http.Header) http.Header {
	h := a.Clone()
	for k, v := range b {
		h[k] = v
	}
	return h
}
