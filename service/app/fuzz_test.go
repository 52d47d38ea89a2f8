package app

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/hostile"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/logging"
	"github.com/lktoken/lktoken/service/mint"
)

// The fuzz targets drive the whole real handler (decoding, validation, policy,
// minting, audit) in-process, one request per input. Seeds: the f.Add calls,
// the committed corpus under testdata/fuzz/, and every body of the bad-input
// suite. `make fuzz` runs each for $(FUZZTIME).

// panicSpotter notes a logged panic; everything else is dropped.
type panicSpotter struct{ seen atomic.Bool }

func (p *panicSpotter) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte(`"msg":"panic"`)) {
		p.seen.Store(true)
	}
	return len(b), nil
}

func fuzzHandler(f *testing.F) (http.Handler, *panicSpotter) {
	return fuzzHandlerWith(f, testConfig())
}

func fuzzHandlerWith(f *testing.F, cfg config.Config) (http.Handler, *panicSpotter) {
	cfg.LogLevel = "debug" // every log line is produced, as in the worst case
	spot := &panicSpotter{}
	log := logging.New(cfg.LogFormat, cfg.LogLevel, spot).Log
	return testHandler(cfg, log, NewMetrics(), nil), spot
}

func serve(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	return serveAt(h, generatePath, contentType, body)
}

func serveAt(h http.Handler, path, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", path, bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func seedFromSuite(f *testing.F, proto string) {
	for _, c := range hostile.Cases(65536, 16384) {
		if c.Proto == proto && len(c.Body) <= 4096 && c.Header.Get("Content-Encoding") == "" {
			f.Add(c.Body)
		}
	}
}

// checkAnswer holds for every input: a Connect answer is 200 with a token
// that verifies and was minted for exactly what the request asked, or a
// 4xx/resource error naming the problem; never a 5xx, never a panic.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, spot *panicSpotter, asked func() (*lktokenv1.GenerateTokenRequest, bool)) {
	t.Helper()
	if spot.seen.Load() {
		t.Fatal("panic logged")
	}
	body := w.Body.Bytes()
	switch {
	case w.Code == 200:
		var resp struct{ Token, RoomName, ParticipantIdentity string }
		if err := json.Unmarshal(body, &resp); err != nil || resp.Token == "" {
			// binary answers: decode as protobuf
			var pb lktokenv1.GenerateTokenResponse
			if err := proto.Unmarshal(body, &pb); err != nil || pb.Token == "" {
				t.Fatalf("200 without a token: %q", body)
			}
			resp.Token, resp.RoomName, resp.ParticipantIdentity = pb.Token, pb.RoomName, pb.ParticipantIdentity
		}
		tok, err := auth.ParseAPIToken(resp.Token)
		if err != nil {
			t.Fatal(err)
		}
		_, grants, err := tok.Verify(testCreds.APISecret)
		if err != nil {
			t.Fatal(err)
		}
		req, ok := asked()
		if !ok {
			t.Fatalf("minted for an input that does not decode: %q", body)
		}
		if grants.Video.Room != req.RoomName || grants.Identity != req.ParticipantIdentity || !grants.Video.RoomJoin ||
			grants.Video.RoomAdmin || strings.Join(grants.Video.CanPublishSources, ",") != "microphone" {
			t.Fatalf("grants %+v for request %v", grants, req)
		}
	case w.Code >= 500:
		t.Fatalf("server error %d: %q", w.Code, body)
	case w.Code == 400 || w.Code == 429:
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil || e.Message == "" {
			t.Fatalf("%d without a Connect error: %q", w.Code, body)
		}
		if (w.Code == 400) != (e.Code == "invalid_argument") {
			t.Fatalf("%d with code %q", w.Code, e.Code)
		}
	default:
		t.Fatalf("unexpected status %d: %q", w.Code, body)
	}
}

// FuzzConnectJSON posts arbitrary bytes as a JSON request: what curl and the
// browser send.
func FuzzConnectJSON(f *testing.F) {
	h, spot := fuzzHandler(f)
	f.Add([]byte(`{"roomName":"standup","participantIdentity":"user-42","participantName":"Ada","expirationSeconds":600}`))
	f.Add([]byte(`{"room_name":"日本語","participant_identity":"ü"}`))
	seedFromSuite(f, hostile.ConnectJSON)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, "application/json", body)
		checkAnswer(t, w, spot, func() (*lktokenv1.GenerateTokenRequest, bool) {
			var m lktokenv1.GenerateTokenRequest
			return &m, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, &m) == nil
		})
	})
}

// FuzzConnectProto posts arbitrary bytes as a binary protobuf request.
func FuzzConnectProto(f *testing.F) {
	h, spot := fuzzHandler(f)
	f.Add([]byte("\n\astandup\x12\auser-42\x1a\x03Ada \xd8\x04"))
	seedFromSuite(f, hostile.ConnectProto)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, "application/proto", body)
		checkAnswer(t, w, spot, func() (*lktokenv1.GenerateTokenRequest, bool) {
			var m lktokenv1.GenerateTokenRequest
			return &m, proto.Unmarshal(body, &m) == nil
		})
	})
}

// FuzzGRPCWebFraming posts arbitrary bytes as a gRPC-Web body, exercising the
// envelope reader. Answers are 200 with a grpc-status; a panic or a missing
// status fails.
func FuzzGRPCWebFraming(f *testing.F) {
	h, spot := fuzzHandler(f)
	valid := []byte("\n\astandup\x12\auser-42")
	f.Add(hostile.Envelope(0, valid))
	f.Add(append(hostile.Envelope(0, valid), hostile.Envelope(0, valid)...))
	f.Add([]byte{0, 0, 0, 0, 9, 1})
	seedFromSuite(f, hostile.GRPCWeb)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(h, "application/grpc-web+proto", body)
		if spot.seen.Load() {
			t.Fatal("panic logged")
		}
		st := w.Header().Get("Grpc-Status")
		if st == "" {
			st = trailerStatus(w.Body.Bytes())
		}
		n, err := strconv.Atoi(st)
		if w.Code != 200 || err != nil {
			t.Fatalf("status %d grpc-status %q", w.Code, st)
		}
		// 13 (internal) only for broken framing, which gRPC calls internal.
		if msg := w.Header().Get("Grpc-Message"); n == 13 && !strings.Contains(msg, "protocol error") && !strings.Contains(msg, "extra bytes after end of stream") {
			t.Fatalf("internal: %q", w.Header().Get("Grpc-Message"))
		}
	})
}

// fuzzAgent is the one agent the token endpoint's fuzz target may dispatch,
// so that the dispatch path is fuzzed too.
const fuzzAgent = "helper"

var (
	generatedRoom     = regexp.MustCompile(`^room-[0-9A-Za-z]{12}$`)
	generatedIdentity = regexp.MustCompile(`^identity-[0-9A-Za-z]{12}$`)
	// A refusal names what is wrong: the body, or a field and its rule.
	namedProblem = regexp.MustCompile(`^(request body is not a TokenSourceRequest JSON object: .|(room_name|participant_identity|participant_name|participant_metadata|participant_attributes|room_config)[^ ]*:? .)`)
)

// FuzzTokenEndpointJSON posts arbitrary bytes to LiveKit's standard token
// endpoint (/api/token), as LiveKit's SDKs and curl do. Every 201 carries a
// token that verifies and holds exactly the fixed grant for what was asked
// (or generated names); every refusal is a 4xx {"code","message"} whose
// status matches its code and whose message names the problem; never a 5xx,
// never a panic.
func FuzzTokenEndpointJSON(f *testing.F) {
	cfg := testConfig()
	cfg.TokenEndpointPath = config.DefaultTokenEndpointPath
	cfg.Policy.AllowedAgents = []string{fuzzAgent}
	h, spot := fuzzHandlerWith(f, cfg)
	f.Add([]byte(`{"room_name":"standup","participant_identity":"user-42","participant_name":"Ada","participant_metadata":"{\"role\":\"host\"}","participant_attributes":{"team":"blue"}}`))
	f.Add([]byte(`{"room_config":{"agents":[{"agent_name":"helper","metadata":"m","deployment":"staging"}]}}`))
	f.Add([]byte(`{"roomName":"日本語","participantIdentity":"ü"}`))
	seedFromSuite(f, hostile.PlainJSON)
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serveAt(h, config.DefaultTokenEndpointPath, "application/json", body)
		if spot.seen.Load() {
			t.Fatal("panic logged")
		}
		out := w.Body.Bytes()
		if w.Code != 201 {
			checkRefusal(t, w.Code, out)
			return
		}
		var src livekit.TokenSourceRequest
		if len(bytes.TrimSpace(body)) > 0 {
			// Unknown fields are ignored, as connect-go's JSON codec does.
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, &src); err != nil {
				t.Fatalf("minted for an input that does not decode (%v): %q", err, body)
			}
		}
		var resp struct {
			ServerURL        string  `json:"server_url"`
			ParticipantToken string  `json:"participant_token"`
			RoomName         string  `json:"room_name"`
			ParticipantName  *string `json:"participant_name"`
		}
		if err := json.Unmarshal(out, &resp); err != nil || resp.ParticipantToken == "" || resp.ServerURL != cfg.Policy.ServerURL {
			t.Fatalf("201 without a token and server_url (%v): %q", err, out)
		}
		tok, err := auth.ParseAPIToken(resp.ParticipantToken)
		if err != nil {
			t.Fatal(err)
		}
		_, grants, err := tok.Verify(testCreds.APISecret)
		if err != nil {
			t.Fatal(err)
		}
		room, identity := src.GetRoomName(), src.GetParticipantIdentity()
		if room == "" && generatedRoom.MatchString(grants.Video.Room) {
			room = grants.Video.Room
		}
		if identity == "" && generatedIdentity.MatchString(grants.Identity) {
			identity = grants.Identity
		}
		if resp.RoomName != grants.Video.Room || (resp.ParticipantName != nil) != (grants.Name != "") ||
			resp.ParticipantName != nil && *resp.ParticipantName != grants.Name {
			t.Fatalf("answer names room %q, participant %v; the token %q, %q", resp.RoomName, resp.ParticipantName, grants.Video.Room, grants.Name)
		}
		if !reflect.DeepEqual(grants.Video, mint.JoinGrant(room)) || grants.Identity != identity || grants.Name != src.GetParticipantName() ||
			grants.Metadata != src.GetParticipantMetadata() || !maps.Equal(grants.Attributes, src.GetParticipantAttributes()) {
			t.Fatalf("grants %+v video %+v for request %v", grants, grants.Video, &src)
		}
		var agents []string
		for _, a := range grants.GetRoomConfiguration().GetAgents() {
			agents = append(agents, a.GetAgentName())
		}
		var asked []string
		for _, a := range src.GetRoomConfig().GetAgents() {
			asked = append(asked, a.GetAgentName())
		}
		if !slices.Equal(agents, asked) || slices.ContainsFunc(agents, func(a string) bool { return a != fuzzAgent }) {
			t.Fatalf("agents %q dispatched for %q", agents, asked)
		}
	})
}

// checkRefusal holds for every answer but 201 of the token endpoint.
func checkRefusal(t *testing.T, status int, body []byte) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("%d without {code, message}: %q", status, body)
	}
	want := map[int]string{400: "invalid_argument", 403: "permission_denied", 413: "resource_exhausted", 415: "invalid_argument"}[status]
	if want == "" || e.Code != want {
		t.Fatalf("status %d with code %q: %q", status, e.Code, e.Message)
	}
	if !namedProblem.MatchString(e.Message) {
		t.Fatalf("%d %s: the message names no problem: %q", status, e.Code, e.Message)
	}
}

func trailerStatus(body []byte) string {
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if len(body) < 5+n {
			return ""
		}
		if body[0]&0x80 != 0 {
			for _, l := range strings.Split(string(body[5:5+n]), "\r\n") {
				if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "grpc-status") {
					return strings.TrimSpace(v)
				}
			}
		}
		body = body[5+n:]
	}
	return ""
}
