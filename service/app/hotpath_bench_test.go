package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/api"
	"github.com/lktoken/lktoken/service/audit"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/contract"
	"github.com/lktoken/lktoken/service/mint"
)

// The hot path's micro-benchmarks. `make bench-micro` runs them; docs/BENCHMARKS.md
// records the figures. Each request is the typical one: room, identity and a
// display name, default lifetime.

var benchReq = &lktokenv1.GenerateTokenRequest{
	RoomName:            "standup-room-42",
	ParticipantIdentity: "user-42@example.com",
	ParticipantName:     proto.String("Ada Lovelace"),
}

func BenchmarkMintToken(b *testing.B) {
	req := mint.Request{Room: benchReq.RoomName, Identity: benchReq.ParticipantIdentity, Name: benchReq.GetParticipantName(), Lifetime: time.Hour}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mint.Sign(testCreds, req, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	v := contract.NewValidator()
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateProtovalidate is the path of requests the fast check does
// not accept: protovalidate's CEL evaluation (here of a valid request).
func BenchmarkValidateProtovalidate(b *testing.B) {
	v, err := protovalidate.New(protovalidate.WithMessages(&lktokenv1.GenerateTokenRequest{}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Validate(benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateAndIssue is what the targets name "minting + validation":
// the contract's rules, the server's policy, claims and signature.
func BenchmarkValidateAndIssue(b *testing.B) {
	v := contract.NewValidator()
	issuer := testIssuer(testCreds, mint.DefaultPolicy("wss://lk.example.test"))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Check(benchReq); err != nil {
			b.Fatal(err)
		}
		if _, err := issuer.Issue(benchReq); err != nil {
			b.Fatal(err)
		}
	}
}

// benchHandler is the whole production handler with the audit log formatted
// as in production (JSON) and thrown away.
func benchHandler(b *testing.B) http.Handler {
	b.Helper()
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	return testHandler(config.Config{
		Credentials:     testCreds,
		Policy:          mint.DefaultPolicy("wss://lk.example.test"),
		AllowedOrigins:  []string{"http://localhost:4200"},
		MaxRequestBytes: 65536,
	}, log, nil, nil)
}

func benchServe(b *testing.B, contentType string, body []byte) {
	h := benchHandler(b)
	serve := func() *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, generatePath, bytes.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Accept-Encoding", "gzip, deflate, br") // as browsers send
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve(); w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if w := serve(); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkHandlerBare is the in-process counterpart of bench/ceiling: a bare
// handler answering a static body of the same size. The difference to
// BenchmarkHandlerConnectJSON is what lktoken adds per request.
func BenchmarkHandlerBare(b *testing.B) {
	answer := bytes.Repeat([]byte{'x'}, 636)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(answer)
	})
	body := []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, generatePath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}

// BenchmarkHandlerConnectFloor is connect-go alone, with lktoken's options: a
// GenerateToken handler that returns a prepared answer, no middleware, no
// interceptors. It is the least any Connect handler of this RPC costs.
func BenchmarkHandlerConnectFloor(b *testing.B) {
	answer := &lktokenv1.GenerateTokenResponse{Token: strings.Repeat("x", 480), ServerUrl: "wss://lk.example.test", RoomName: "standup-room-42", ParticipantIdentity: "user-42@example.com"}
	_, h := lktokenv1connect.NewTokenServiceHandler(fixedAnswer{answer}, connect.WithHandlerOptions(api.CodecOptions()...))
	body := []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, generatePath, bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept-Encoding", "gzip, deflate, br")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

type fixedAnswer struct {
	resp *lktokenv1.GenerateTokenResponse
}

func (f fixedAnswer) GenerateToken(context.Context, *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	return f.resp, nil
}

func BenchmarkHandlerConnectJSON(b *testing.B) {
	benchServe(b, "application/json", []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`))
}

func BenchmarkHandlerConnectBinary(b *testing.B) {
	body, err := proto.Marshal(benchReq)
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, "application/proto", body)
}

// BenchmarkAuditRecord is one audit line, formatted by slog's JSON handler.
func BenchmarkAuditRecord(b *testing.B) {
	a := audit.New(slog.New(slog.NewJSONHandler(io.Discard, nil)), time.Now, nil)
	e := audit.Entry{RequestID: "65696853d8357a87fe72878f", Peer: "127.0.0.1:53124", Route: generatePath,
		Room: benchReq.RoomName, Identity: benchReq.ParticipantIdentity, Lifetime: time.Hour, Started: time.Now()}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		a.Mint(ctx, e)
	}
}
