package app_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/auth"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/app"
	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/pipeline"
)

const (
	testKey       = "APItestkey"
	testSecret    = "a-test-secret-that-is-long-enough-0123456789"
	testServerURL = "wss://voice.example.test"
	testOrigin    = "http://localhost:4200"
)

type testServer struct {
	url  string
	now  time.Time
	logs *testserver.Log
	api  lktokenv1connect.TokenServiceClient
}

// startServer serves the real NewHandler on a loopback port. A fixed clock
// near the real time makes tokens comparable byte for byte and still valid.
func startServer(t *testing.T, configure func(*mint.Policy, *app.HandlerOptions)) *testServer {
	t.Helper()
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	policy := mint.DefaultPolicy(testServerURL)
	logs := &testserver.Log{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	opts := app.HandlerOptions{
		AllowedOrigins:    []string{testOrigin},
		MaxRequestBytes:   65536,
		TokenEndpointPath: "/api/token",
		Log:               log,
	}
	if configure != nil {
		configure(&policy, &opts)
	}
	h := app.NewHandler(newOperation(keys.Credentials{APIKey: testKey, APISecret: testSecret}, policy, clock, log), opts)
	url := testserver.Handler(t, h)
	return &testServer{
		url:  url,
		now:  now,
		logs: logs,
		api:  lktokenv1connect.NewTokenServiceClient(http.DefaultClient, url),
	}
}

// newOperation is the mint operation signing with creds under policy.
func newOperation(creds keys.Credentials, policy mint.Policy, clock func() time.Time, log *slog.Logger) *pipeline.Operation {
	return pipeline.New(pipeline.Options{
		Issuer: mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), policy, clock),
		Log:    log,
		Now:    clock,
	})
}

type response struct {
	status int
	header http.Header
	body   string
}

func (s *testServer) post(t *testing.T, body string) response {
	t.Helper()
	return s.do(t, http.MethodPost, "/api/token", body, map[string]string{"Content-Type": "application/json"})
}

func (s *testServer) do(t *testing.T, method, path, body string, headers map[string]string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// issued checks a 201 answer's exact shape and returns its verified token.
func issued(t *testing.T, r response) (string, *auth.ClaimGrants) {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("status %d, want 201; body %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	g := verify(t, body["participant_token"])
	// The room and display name the token was minted for; participant_name
	// only when it carries one.
	want := map[string]string{"server_url": testServerURL, "participant_token": body["participant_token"], "room_name": g.Video.Room}
	if g.Name != "" {
		want["participant_name"] = g.Name
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("body %s\nwant exactly %v", r.body, want)
	}
	return body["participant_token"], g
}

func verify(t *testing.T, token string) *auth.ClaimGrants {
	t.Helper()
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if v.APIKey() != testKey {
		t.Errorf("issuer %q, want %q", v.APIKey(), testKey)
	}
	_, grants, err := v.Verify(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return grants
}

// refused checks a refusal's status and exact JSON body.
func refused(t *testing.T, r response, status int, code, message string) {
	t.Helper()
	if r.status != status {
		t.Errorf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var got struct{ Code, Message string }
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	if got.Code != code || got.Message != message {
		t.Errorf("got  {%q, %q}\nwant {%q, %q}", got.Code, got.Message, code, message)
	}
}

func joinGrant(room string) *auth.VideoGrant { return mint.JoinGrant(room) }

func TestTokenEndpointSnakeCaseInAndOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	r := s.post(t, `{"room_name":"standup","participant_identity":"user-42","participant_name":"Ada Lovelace",
		"participant_metadata":"{\"role\":\"host\"}","participant_attributes":{"team":"blue","seat":""}}`)
	_, got := issued(t, r)
	want := &auth.ClaimGrants{
		Identity:   "user-42",
		Name:       "Ada Lovelace",
		Video:      joinGrant("standup"),
		Metadata:   `{"role":"host"}`,
		Attributes: map[string]string{"team": "blue", "seat": ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants\n got %+v\nwant %+v", got, want)
	}
	if !strings.HasPrefix(r.body, `{"server_url":"`+testServerURL+`","participant_token":"`) ||
		!strings.HasSuffix(r.body, `","room_name":"standup","participant_name":"Ada Lovelace"}`+"\n") {
		t.Errorf("body is not compact snake_case JSON: %s", r.body)
	}

	// protojson also reads lowerCamelCase, which some hand-written clients send.
	_, got = issued(t, s.post(t, `{"roomName":"standup","participantIdentity":"user-42","participantName":"Ada Lovelace",
		"participantMetadata":"{\"role\":\"host\"}","participantAttributes":{"team":"blue","seat":""}}`))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("camelCase grants\n got %+v\nwant %+v", got, want)
	}
}

var (
	generatedIdentity = regexp.MustCompile(`^identity-[0-9A-Za-z]{12}$`)
	generatedRoom     = regexp.MustCompile(`^room-[0-9A-Za-z]{12}$`)
)

func TestTokenEndpointGeneratesMissingRoomAndIdentity(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	seen := map[string]bool{}
	for i, body := range []string{"", "{}", `{"room_name":"","participant_identity":""}`} {
		for range 20 {
			_, g := issued(t, s.post(t, body))
			if !generatedIdentity.MatchString(g.Identity) || !generatedRoom.MatchString(g.Video.Room) {
				t.Fatalf("body %d: generated identity %q / room %q do not have the documented form", i, g.Identity, g.Video.Room)
			}
			if seen[g.Identity] || seen[g.Video.Room] {
				t.Fatalf("generated identity %q or room %q repeated", g.Identity, g.Video.Room)
			}
			seen[g.Identity], seen[g.Video.Room] = true, true
		}
	}

	// Given ones are kept; only the missing one is generated.
	_, g := issued(t, s.post(t, `{"room_name":"standup"}`))
	if g.Video.Room != "standup" || !generatedIdentity.MatchString(g.Identity) || g.Name != "" {
		t.Errorf("room %q identity %q name %q", g.Video.Room, g.Identity, g.Name)
	}
	_, g = issued(t, s.post(t, `{"participant_identity":"user-42"}`))
	if g.Identity != "user-42" || !generatedRoom.MatchString(g.Video.Room) {
		t.Errorf("room %q identity %q", g.Video.Room, g.Identity)
	}
}

func TestTokenEndpointByteCaps(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	meta := func(n int) string {
		return `{"participant_metadata":"` + strings.Repeat("é", n/2) + strings.Repeat("x", n%2) + `"}`
	}
	attrs := func(n int) string { return `{"participant_attributes":{"k":"` + strings.Repeat("x", n-1) + `"}}` }

	_, g := issued(t, s.post(t, meta(4096)))
	if len(g.Metadata) != 4096 {
		t.Errorf("metadata of %d bytes, want 4096", len(g.Metadata))
	}
	refused(t, s.post(t, meta(4097)), 400, "invalid_argument", "participant_metadata: must be at most 4096 bytes (server limit)")

	_, g = issued(t, s.post(t, attrs(4096)))
	if len(g.Attributes["k"]) != 4095 {
		t.Errorf("attribute value of %d bytes, want 4095", len(g.Attributes["k"]))
	}
	refused(t, s.post(t, attrs(4097)), 400, "invalid_argument",
		"participant_attributes: keys and values must total at most 4096 bytes (server limit); these total 4097")

	// Both at once: one answer names both.
	refused(t, s.post(t, `{"participant_metadata":"`+strings.Repeat("m", 4097)+`","participant_attributes":{"k":"`+strings.Repeat("v", 4096)+`"}}`),
		400, "invalid_argument",
		"participant_metadata: must be at most 4096 bytes (server limit); participant_attributes: keys and values must total at most 4096 bytes (server limit); these total 4097")
}

func TestByteCapsAreConfigurableAndApplyToGenerateToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(p *mint.Policy, _ *app.HandlerOptions) {
		p.MaxMetadataBytes, p.MaxAttributesBytes = 10, 6
	})
	ctx := context.Background()
	base := func() *lktokenv1.GenerateTokenRequest {
		return &lktokenv1.GenerateTokenRequest{RoomName: "standup", ParticipantIdentity: "user-42"}
	}

	ok := base()
	ok.ParticipantMetadata = proto.String("0123456789")
	ok.ParticipantAttributes = map[string]string{"ab": "cd", "e": "f"}
	resp, err := s.api.GenerateToken(ctx, ok)
	if err != nil {
		t.Fatal(err)
	}
	g := verify(t, resp.GetToken())
	if g.Metadata != "0123456789" || !reflect.DeepEqual(g.Attributes, map[string]string{"ab": "cd", "e": "f"}) {
		t.Errorf("metadata %q attributes %v", g.Metadata, g.Attributes)
	}

	for _, c := range []struct {
		name  string
		edit  func(*lktokenv1.GenerateTokenRequest)
		tsreq string
		msg   string
	}{
		{"metadata", func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantMetadata = proto.String("0123456789A") },
			`{"room_name":"standup","participant_identity":"user-42","participant_metadata":"0123456789A"}`,
			"participant_metadata: must be at most 10 bytes (server limit)"},
		{"attributes", func(r *lktokenv1.GenerateTokenRequest) {
			r.ParticipantAttributes = map[string]string{"ab": "cd", "e": "fg"}
		},
			`{"room_name":"standup","participant_identity":"user-42","participant_attributes":{"ab":"cd","e":"fg"}}`,
			"participant_attributes: keys and values must total at most 6 bytes (server limit); these total 7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := base()
			c.edit(req)
			_, err := s.api.GenerateToken(ctx, req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument || connectMessage(err) != c.msg {
				t.Errorf("GenerateToken: %v, want invalid_argument %q", err, c.msg)
			}
			refused(t, s.post(t, c.tsreq), 400, "invalid_argument", c.msg)
		})
	}
}

func connectMessage(err error) string {
	var cerr *connect.Error
	if errors.As(err, &cerr) {
		return cerr.Message()
	}
	return ""
}

func TestTokenEndpointAgentAllowlist(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(p *mint.Policy, _ *app.HandlerOptions) { p.AllowedAgents = []string{"helper", "notetaker"} })

	_, g := issued(t, s.post(t, `{"room_name":"standup","room_config":{"agents":[
		{"agent_name":"helper","metadata":"{\"lang\":\"en\"}","deployment":"staging"},{"agent_name":"notetaker"}]}}`))
	rc := g.GetRoomConfiguration()
	if rc == nil || len(rc.GetAgents()) != 2 {
		t.Fatalf("roomConfig %v, want two agents", rc)
	}
	a, b := rc.GetAgents()[0], rc.GetAgents()[1]
	if a.GetAgentName() != "helper" || a.GetMetadata() != `{"lang":"en"}` || a.GetDeployment() != "staging" || b.GetAgentName() != "notetaker" {
		t.Errorf("agents %v", rc.GetAgents())
	}
	if rc.GetName() != "" || rc.GetEgress() != nil || rc.GetMaxParticipants() != 0 {
		t.Errorf("roomConfig carries more than agents: %v", rc)
	}
	if g.Video.Room != "standup" {
		t.Errorf("room %q", g.Video.Room)
	}

	for _, c := range []struct {
		name, body, msg string
		status          int
	}{
		{"unknown agent", `{"room_config":{"agents":[{"agent_name":"root-shell"}]}}`,
			`room_config.agents[0].agent_name: agent "root-shell" is not in the agent allowlist of this server`, 403},
		{"unnamed agent", `{"room_config":{"agents":[{"agent_name":"helper"},{"metadata":"x"}]}}`,
			`room_config.agents[1].agent_name: agent "" is not in the agent allowlist of this server`, 403},
		{"other room setting", `{"room_config":{"max_participants":100,"name":"x","agents":[{"agent_name":"helper"}]}}`,
			"room_config.name is not allowed (this server honours only room_config.agents); room_config.max_participants is not allowed (this server honours only room_config.agents)", 403},
		{"egress", `{"room_config":{"egress":{"room":{"room_name":"x"}}}}`,
			"room_config.egress is not allowed (this server honours only room_config.agents)", 403},
		{"agent attributes", `{"room_config":{"agents":[{"agent_name":"helper","attributes":{"a":"b"},"restart_policy":"JRP_NEVER"}]}}`,
			"room_config.agents[0].restart_policy is not allowed (only agent_name, metadata and deployment are); room_config.agents[0].attributes is not allowed (only agent_name, metadata and deployment are)", 403},
		{"agent deployment breaking LiveKit's rule", `{"room_config":{"agents":[{"agent_name":"helper","deployment":"my_env"}]}}`,
			`room_config.agents[0].deployment: deployment contains reserved character '_'`, 400},
		{"agent metadata over the cap", `{"room_config":{"agents":[{"agent_name":"helper","metadata":"` + strings.Repeat("x", 4097) + `"}]}}`,
			"room_config.agents[0].metadata: must be at most 4096 bytes (server limit)", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			code := "permission_denied"
			if c.status == 400 {
				code = "invalid_argument"
			}
			refused(t, s.post(t, c.body), c.status, code, c.msg)
		})
	}
}

func TestTokenEndpointNoAgentsByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	refused(t, s.post(t, `{"room_config":{"agents":[{"agent_name":"helper"}]}}`), 403, "permission_denied",
		`room_config.agents[0].agent_name: agent "helper" is not in the agent allowlist of this server`)
}

// The endpoint's refusals of the contract's rules are GenerateToken's, word
// for word: one rulebook.
func TestTokenEndpointRefusalsMatchGenerateToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, c := range []struct {
		name string
		body string
		req  *lktokenv1.GenerateTokenRequest
		msg  string
	}{
		{"blank name", `{"room_name":"r","participant_identity":"i","participant_name":"   "}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "i", ParticipantName: proto.String("   ")},
			"participant_name: must not be only whitespace"},
		{"hash in identity", `{"room_name":"r","participant_identity":"a#b"}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "a#b"},
			"participant_identity: must not contain '#' (LiveKit reserves it in identities)"},
		{"control character in room", `{"room_name":"a\u0007b","participant_identity":"i"}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "a\u0007b", ParticipantIdentity: "i"},
			"room_name: must not contain control or bidirectional-override characters"},
		{"room too long", `{"room_name":"` + strings.Repeat("r", 257) + `","participant_identity":"i"}`,
			&lktokenv1.GenerateTokenRequest{RoomName: strings.Repeat("r", 257), ParticipantIdentity: "i"},
			"room_name: must be at most 256 bytes"},
		{"reserved attribute key", `{"room_name":"r","participant_identity":"i","participant_attributes":{"lk.agent.state":"x"}}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "i", ParticipantAttributes: map[string]string{"lk.agent.state": "x"}},
			`participant_attributes["lk.agent.state"]: must not start with 'lk.' (LiveKit reserves that prefix)`},
		{"empty attribute key", `{"room_name":"r","participant_identity":"i","participant_attributes":{"":"x"}}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "i", ParticipantAttributes: map[string]string{"": "x"}},
			`participant_attributes[""]: must be at least 1 bytes`},
		{"blank attribute key", `{"room_name":"r","participant_identity":"i","participant_attributes":{" ":"x"}}`,
			&lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "i", ParticipantAttributes: map[string]string{" ": "x"}},
			`participant_attributes[" "]: must not be only whitespace`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.api.GenerateToken(context.Background(), c.req)
			if connect.CodeOf(err) != connect.CodeInvalidArgument || connectMessage(err) != c.msg {
				t.Errorf("GenerateToken: %v, want invalid_argument %q", err, c.msg)
			}
			refused(t, s.post(t, c.body), 400, "invalid_argument", c.msg)
		})
	}
}

func TestTokenEndpointHTTPRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *mint.Policy, o *app.HandlerOptions) { o.MaxRequestBytes = 1024 })
	jsonCT := map[string]string{"Content-Type": "application/json"}

	r := s.do(t, http.MethodGet, "/api/token", "", nil)
	refused(t, r, 405, "unimplemented", "method GET is not allowed on /api/token: use POST with a JSON body")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q, want POST", r.header.Get("Allow"))
	}
	refused(t, s.do(t, http.MethodPut, "/api/token", "{}", jsonCT), 405, "unimplemented",
		"method PUT is not allowed on /api/token: use POST with a JSON body")

	refused(t, s.do(t, http.MethodPost, "/api/token", "room_name=x", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}),
		415, "invalid_argument", `Content-Type must be application/json, not "application/x-www-form-urlencoded"`)
	refused(t, s.do(t, http.MethodPost, "/api/token", "{}", nil), 415, "invalid_argument", `Content-Type must be application/json, not ""`)
	// Parameters such as charset are fine.
	issued(t, s.do(t, http.MethodPost, "/api/token", "{}", map[string]string{"Content-Type": "application/json; charset=utf-8"}))

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte("{}"))
	_ = zw.Close()
	refused(t, s.do(t, http.MethodPost, "/api/token", gz.String(), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}),
		415, "invalid_argument", `Content-Encoding "gzip" is not supported on /api/token: send the JSON uncompressed`)

	// The body cap: exactly 1024 bytes pass, 1025 do not.
	pad := func(n int) string {
		body := `{"participant_metadata":""}`
		return `{"participant_metadata":"` + strings.Repeat("x", n-len(body)) + `"}`
	}
	issued(t, s.post(t, pad(1024)))
	refused(t, s.post(t, pad(1025)), 413, "resource_exhausted", "request body is larger than 1024 bytes (server limit)")

	refused(t, s.post(t, `{"room_name":`), 400, "invalid_argument",
		"request body is not a TokenSourceRequest JSON object: unexpected EOF")
	refused(t, s.post(t, `{"room_name":"x","room":["x"}`), 400, "invalid_argument",
		"request body is not a TokenSourceRequest JSON object: syntax error (line 1:29): unexpected token }")
	refused(t, s.post(t, `{"participant_attributes":{"a":1}}`), 400, "invalid_argument",
		`request body is not a TokenSourceRequest JSON object: (line 1:32): invalid value for string field value: 1`)
	refused(t, s.post(t, `[]`), 400, "invalid_argument",
		"request body is not a TokenSourceRequest JSON object: syntax error (line 1:1): unexpected token [")
}

func TestTokenEndpointCORSAndRequestID(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	r := s.do(t, http.MethodOptions, "/api/token", "", map[string]string{
		"Origin":                         testOrigin,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type",
	})
	if r.status != http.StatusNoContent || r.header.Get("Access-Control-Allow-Origin") != testOrigin ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.EqualFold(r.header.Get("Access-Control-Allow-Headers"), "content-type") {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}

	r = s.do(t, http.MethodOptions, "/api/token", "", map[string]string{
		"Origin":                        "https://evil.example",
		"Access-Control-Request-Method": "POST",
	})
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from an unlisted origin allowed: %v", r.header)
	}

	r = s.do(t, http.MethodPost, "/api/token", "{}", map[string]string{
		"Content-Type": "application/json", "Origin": testOrigin, "X-Request-Id": "req-123",
	})
	issued(t, r)
	if r.header.Get("Access-Control-Allow-Origin") != testOrigin || r.header.Get("X-Request-Id") != "req-123" ||
		!strings.Contains(r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("headers %v", r.header)
	}
}

func TestTokenEndpointAudit(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(p *mint.Policy, _ *app.HandlerOptions) { p.AllowedAgents = []string{"helper"} })
	r := s.do(t, http.MethodPost, "/api/token", `{"room_name":"standup","participant_identity":"user-42","room_config":{"agents":[{"agent_name":"helper"}]}}`,
		map[string]string{"Content-Type": "application/json", "X-Request-Id": "audit-ok"})
	token, _ := issued(t, r)
	refused(t, s.do(t, http.MethodPost, "/api/token", `{"room_name":"standup","participant_identity":"a#b"}`,
		map[string]string{"Content-Type": "application/json", "X-Request-Id": "audit-bad"}), 400, "invalid_argument",
		"participant_identity: must not contain '#' (LiveKit reserves it in identities)")

	lines := map[string]map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(s.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if id, _ := m["request_id"].(string); m["msg"] == "mint" {
			lines[id] = m
		}
	}
	ok, bad := lines["audit-ok"], lines["audit-bad"]
	if ok == nil || ok["route"] != "/api/token" || ok["room"] != "standup" || ok["identity"] != "user-42" ||
		ok["outcome"] != "issued" || ok["lifetime_s"] != float64(3600) || !reflect.DeepEqual(ok["agents"], []any{"helper"}) ||
		!strings.HasPrefix(ok["peer"].(string), "127.0.0.1:") {
		t.Errorf("audit line of the issued request: %v", ok)
	}
	if bad == nil || bad["route"] != "/api/token" || bad["identity"] != "a#b" || bad["outcome"] != "invalid_argument" || bad["lifetime_s"] != float64(0) {
		t.Errorf("audit line of the refused request: %v", bad)
	}
	if strings.Contains(s.logs.String(), token) || strings.Contains(s.logs.String(), testSecret) {
		t.Error("the token or the secret is in the log")
	}
}

// For the same input both routes mint the same token: same grants, same
// claims, same signature (the clock is fixed).
func TestTokenEndpointMintsWhatGenerateTokenMints(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	resp, err := s.api.GenerateToken(context.Background(), &lktokenv1.GenerateTokenRequest{
		RoomName:              "standup ☕",
		ParticipantIdentity:   "user-42",
		ParticipantName:       proto.String("Ada"),
		ParticipantMetadata:   proto.String(`{"role":"host"}`),
		ParticipantAttributes: map[string]string{"team": "blue"},
	})
	if err != nil {
		t.Fatal(err)
	}
	token, grants := issued(t, s.post(t, `{"room_name":"standup ☕","participant_identity":"user-42","participant_name":"Ada",
		"participant_metadata":"{\"role\":\"host\"}","participant_attributes":{"team":"blue"}}`))
	if want := verify(t, resp.GetToken()); !reflect.DeepEqual(grants, want) {
		t.Errorf("grants differ\n/api/token    %+v\nGenerateToken %+v", grants, want)
	}
	if token != resp.GetToken() {
		t.Error("tokens differ for the same input and clock")
	}
	if resp.GetServerUrl() != testServerURL || !resp.GetExpiresAt().AsTime().Equal(s.now.Add(time.Hour)) {
		t.Errorf("GenerateToken answer %v", resp)
	}
}

func TestTokenEndpointDisabled(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *mint.Policy, o *app.HandlerOptions) { o.TokenEndpointPath = "" })
	if r := s.post(t, "{}"); r.status != http.StatusNotFound {
		t.Errorf("status %d, want 404", r.status)
	}
}

func TestTokenEndpointCustomPath(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *mint.Policy, o *app.HandlerOptions) { o.TokenEndpointPath = "/livekit/token" })
	issued(t, s.do(t, http.MethodPost, "/livekit/token", "{}", map[string]string{"Content-Type": "application/json"}))
	if r := s.post(t, "{}"); r.status != http.StatusNotFound {
		t.Errorf("/api/token: status %d, want 404", r.status)
	}
}

// A signing fault is ours: 500 with the same message GenerateToken gives, and
// nothing about the cause.
func TestTokenEndpointSigningFault(t *testing.T) {
	t.Parallel()
	clock := time.Now
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := app.NewHandler(newOperation(keys.Credentials{}, mint.DefaultPolicy(testServerURL), clock, log), app.HandlerOptions{
		AllowedOrigins: []string{testOrigin}, MaxRequestBytes: 65536, TokenEndpointPath: "/api/token", Log: log,
	})
	s := &testServer{url: testserver.Handler(t, h)}

	r := s.do(t, http.MethodPost, "/api/token", "{}", map[string]string{"Content-Type": "application/json", "X-Request-Id": "fault-1"})
	refused(t, r, 500, "internal", "the server could not sign the token; this is a server fault, not your request (request id fault-1)")

	_, err := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, s.url, connect.WithInterceptors(connect.UnaryInterceptorFunc(
		func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, r connect.AnyRequest) (connect.AnyResponse, error) {
				r.Header().Set("X-Request-Id", "fault-1")
				return next(ctx, r)
			}
		}))).GenerateToken(context.Background(), &lktokenv1.GenerateTokenRequest{RoomName: "r", ParticipantIdentity: "i"})
	if connect.CodeOf(err) != connect.CodeInternal || connectMessage(err) != "the server could not sign the token; this is a server fault, not your request (request id fault-1)" {
		t.Errorf("GenerateToken: %v", err)
	}
}

// One table, every route: GenerateToken (Connect, binary and JSON) and
// /api/token dispatch agents under the same rules, with the same answers
// word for word, and the same token for the same input. The token's
// roomConfig claim is compared exactly, as JSON.
func TestAgentDispatchSameOnEveryRoute(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(p *mint.Policy, _ *app.HandlerOptions) { p.AllowedAgents = []string{"helper", "notetaker"} })
	connectJSON := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, s.url, connect.WithProtoJSON())
	agent := func(name, metadata, deployment string) *lktokenv1.RoomAgentDispatch {
		return &lktokenv1.RoomAgentDispatch{AgentName: name, Metadata: metadata, Deployment: deployment}
	}
	for _, c := range []struct {
		name string
		rc   *lktokenv1.RoomConfig
		// claim is the token's exact roomConfig claim ("" for none) when
		// status is 0; otherwise the refusal's status, code and message.
		claim        string
		status       int
		code, reason string
	}{
		{name: "allowed agents", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("helper", `{"lang":"en"}`, "staging"), agent("notetaker", "", "")}},
			claim: `{"agents":[{"agentName":"helper","deployment":"staging","metadata":"{\"lang\":\"en\"}"},{"agentName":"notetaker"}]}`},
		{name: "agent not in the allowlist", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("helper", "", ""), agent("root-shell", "", "")}},
			status: 403, code: "permission_denied", reason: `room_config.agents[1].agent_name: agent "root-shell" is not in the agent allowlist of this server`},
		{name: "unnamed agent", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("", "x", "")}},
			status: 403, code: "permission_denied", reason: `room_config.agents[0].agent_name: agent "" is not in the agent allowlist of this server`},
		{name: "agent metadata at the cap", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("helper", strings.Repeat("é", 2048), "")}},
			claim: `{"agents":[{"agentName":"helper","metadata":"` + strings.Repeat("é", 2048) + `"}]}`},
		{name: "agent metadata over the cap", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("helper", strings.Repeat("x", 4097), "")}},
			status: 400, code: "invalid_argument", reason: "room_config.agents[0].metadata: must be at most 4096 bytes (server limit)"},
		{name: "deployment breaking LiveKit's rule", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("helper", "", "my_env")}},
			status: 400, code: "invalid_argument", reason: "room_config.agents[0].deployment: deployment contains reserved character '_'"},
		{name: "over the cap and a bad deployment: both named, before the allowlist", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("root-shell", strings.Repeat("x", 4097), "a b")}},
			status: 400, code: "invalid_argument", reason: "room_config.agents[0].metadata: must be at most 4096 bytes (server limit); room_config.agents[0].deployment: deployment contains whitespace or control byte at position 1"},
		{name: "agent name with a control character", rc: &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{agent("help\u202eer", "", "")}},
			status: 400, code: "invalid_argument", reason: "room_config.agents[0].agent_name: must not contain control or bidirectional-override characters"},
		{name: "no agent", rc: nil},
		{name: "empty room_config", rc: &lktokenv1.RoomConfig{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := &lktokenv1.GenerateTokenRequest{RoomName: "standup", ParticipantIdentity: "user-42", RoomConfig: c.rc}
			body := `{"room_name":"standup","participant_identity":"user-42"}`
			if c.rc != nil {
				rc, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c.rc) // LiveKit's names are the contract's
				if err != nil {
					t.Fatal(err)
				}
				body = `{"room_name":"standup","participant_identity":"user-42","room_config":` + string(rc) + `}`
			}
			r := s.post(t, body)
			var tokens []string
			for route, client := range map[string]lktokenv1connect.TokenServiceClient{"connect+proto": s.api, "connect+json": connectJSON} {
				resp, err := client.GenerateToken(context.Background(), req)
				if c.status != 0 {
					if connect.CodeOf(err).String() != c.code || connectMessage(err) != c.reason {
						t.Errorf("%s: %v, want %s %q", route, err, c.code, c.reason)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", route, err)
				}
				tokens = append(tokens, resp.GetToken())
			}
			if c.status != 0 {
				refused(t, r, c.status, c.code, c.reason)
				return
			}
			token, _ := issued(t, r)
			for _, tok := range tokens {
				if tok != token {
					t.Error("GenerateToken and /api/token minted different tokens for the same input and clock")
				}
			}
			if got := roomConfigClaim(t, token); got != c.claim {
				t.Errorf("roomConfig claim\n got  %s\n want %s", got, c.claim)
			}
		})
	}
}

// roomConfigClaim is the token's roomConfig claim as JSON ("" when absent),
// read from the JWT's payload itself rather than through a parser that could
// fill in or drop fields (keys sorted).
func roomConfigClaim(t *testing.T, token string) string {
	t.Helper()
	rc, ok := cases.JWTPayload(t, token)["roomConfig"]
	if !ok {
		return ""
	}
	return cases.JSON(t, rc)
}
