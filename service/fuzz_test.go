package service

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/hostile"
)

// The fuzz targets drive the whole real handler (decoding, validation, policy,
// minting, audit) in-process, one request per input. Seeds: the f.Add calls,
// the committed corpus under testdata/fuzz/, and every body of the bad-input
// suite. `make fuzz` runs each for $(FUZZTIME). A plain JSON endpoint
// (/api/token) gets its own target here once it exists on this branch.

// panicSpotter notes a logged panic; everything else is dropped.
type panicSpotter struct{ seen atomic.Bool }

func (p *panicSpotter) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte(`"msg":"panic"`)) {
		p.seen.Store(true)
	}
	return len(b), nil
}

func fuzzHandler(f *testing.F) (http.Handler, *panicSpotter) {
	cfg := testConfig()
	cfg.LogLevel = "debug" // every log line is produced, as in the worst case
	spot := &panicSpotter{}
	log := NewLogger(cfg, spot)
	h, err := NewHandler(NewIssuer(cfg.Credentials, cfg.Policy, time.Now, log), HandlerOptions{
		AllowedOrigins: cfg.AllowedOrigins, MaxRequestBytes: cfg.MaxRequestBytes, Log: log, Now: time.Now, Metrics: NewMetrics(),
	})
	if err != nil {
		f.Fatal(err)
	}
	return h, spot
}

func serve(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", generatePath, bytes.NewReader(body))
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
