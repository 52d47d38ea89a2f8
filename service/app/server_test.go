package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	"github.com/livekit/protocol/auth"
	"google.golang.org/protobuf/encoding/protojson"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/logging"
	"github.com/lktoken/lktoken/service/mint"
)

// testServer is the real Server on a loopback port.
type testServer struct {
	URL string
	Log *testserver.Log
	Srv *App
}

func testConfig() config.Config {
	return config.Config{
		Credentials:     testCreds,
		Policy:          mint.DefaultPolicy("wss://lk.example.test"),
		Listen:          "127.0.0.1:0",
		AllowedOrigins:  []string{"http://localhost:4200"},
		MaxRequestBytes: 65536,
		ShutdownTimeout: 5 * time.Second,
		LogLevel:        "debug",
		LogFormat:       "json",
	}
}

func startServer(t *testing.T, cfg config.Config) testServer {
	t.Helper()
	logs := &testserver.Log{}
	srv := New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, logs))
	return testServer{URL: testserver.Serve(t, srv.Serve), Log: logs, Srv: srv}
}

// h2cClient speaks HTTP/2 without TLS, as gRPC needs.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}, Timeout: 10 * time.Second}
}

// protocols are the ways a caller can reach GenerateToken. Each returns the
// response or the error with its Connect code and message.
type caller func(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error)

func protocols(base string) map[string]caller {
	h1 := &http.Client{Timeout: 10 * time.Second}
	clients := map[string]lktokenv1connect.TokenServiceClient{
		"connect-json":   lktokenv1connect.NewTokenServiceClient(h1, base, connect.WithProtoJSON()),
		"connect-binary": lktokenv1connect.NewTokenServiceClient(h1, base),
		"grpc":           lktokenv1connect.NewTokenServiceClient(h2cClient(), base, connect.WithGRPC()),
		"grpc-web":       lktokenv1connect.NewTokenServiceClient(h1, base, connect.WithGRPCWeb()),
	}
	out := map[string]caller{}
	for name, c := range clients {
		out[name] = c.GenerateToken
	}
	out["curl-json"] = func(ctx context.Context, req *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
		return rawJSONPost(ctx, base, req)
	}
	return out
}

// rawJSONPost sends exactly what the README's curl sends: hand-written JSON
// with lowerCamelCase names, no Connect client involved.
func rawJSONPost(ctx context.Context, base string, req *lktokenv1.GenerateTokenRequest) (*lktokenv1.GenerateTokenResponse, error) {
	body := map[string]any{}
	if req.RoomName != "" {
		body["roomName"] = req.RoomName
	}
	if req.ParticipantIdentity != "" {
		body["participantIdentity"] = req.ParticipantIdentity
	}
	if req.ParticipantName != nil {
		body["participantName"] = *req.ParticipantName
	}
	if req.ExpirationSeconds != nil {
		body["expirationSeconds"] = *req.ExpirationSeconds
	}
	if req.RoomConfig != nil {
		rc, _ := protojson.Marshal(req.RoomConfig)
		body["roomConfig"] = json.RawMessage(rc)
	}
	b, _ := json.Marshal(body)
	hreq, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/lktoken.v1.TokenService/GenerateToken", bytes.NewReader(b))
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Code, Message string
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, err
		}
		var code connect.Code
		if err := code.UnmarshalText([]byte(e.Code)); err != nil {
			return nil, err
		}
		if want := map[connect.Code]int{connect.CodeInvalidArgument: 400, connect.CodeInternal: 500}[code]; want != resp.StatusCode {
			return nil, errors.New("HTTP status " + resp.Status + " for code " + e.Code)
		}
		return nil, connect.NewError(code, errors.New(e.Message))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		return nil, errors.New("Cache-Control = " + cc)
	}
	// The JSON keys are the documented lowerCamelCase ones, nothing more.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return nil, err
	}
	for k := range keys {
		if !strings.Contains(" token expiresAt serverUrl roomName participantIdentity ", " "+k+" ") {
			return nil, errors.New("unexpected JSON key " + k)
		}
	}
	out := &lktokenv1.GenerateTokenResponse{}
	return out, protojson.Unmarshal(raw, out)
}

type tokenCase = cases.Token

func req(room, identity string) *lktokenv1.GenerateTokenRequest { return cases.Req(room, identity) }

func tokenCases() []tokenCase { return cases.Tokens() }

func TestGenerateTokenEveryProtocol(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	for pname, call := range protocols(srv.URL) {
		t.Run(pname, func(t *testing.T) {
			for _, c := range tokenCases() {
				t.Run(c.Name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					before := time.Now().Truncate(time.Second)
					resp, err := call(ctx, c.Req)
					if c.WantErr != "" {
						if connect.CodeOf(err) != connect.CodeInvalidArgument {
							t.Fatalf("err = %v, want invalid_argument", err)
						}
						var cerr *connect.Error
						if !errors.As(err, &cerr) || cerr.Message() != c.WantErr {
							t.Fatalf("message\n got %q\nwant %q", cerr.Message(), c.WantErr)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					checkToken(t, resp, c.Req, c.WantLifetime, before)
				})
			}
		})
	}
}

// checkToken verifies resp's token with LiveKit's verifier and asserts it
// grants exactly the join permission for req, for the wanted lifetime.
func checkToken(t *testing.T, resp *lktokenv1.GenerateTokenResponse, req *lktokenv1.GenerateTokenRequest, lifetime time.Duration, notBefore time.Time) {
	t.Helper()
	if resp.ServerUrl != "wss://lk.example.test" || resp.RoomName != req.RoomName || resp.ParticipantIdentity != req.ParticipantIdentity {
		t.Errorf("response fields: url %q room %q identity %q", resp.ServerUrl, resp.RoomName, resp.ParticipantIdentity)
	}
	v, err := auth.ParseAPIToken(resp.Token)
	if err != nil {
		t.Fatal(err)
	}
	claims, grants, err := v.Verify(testCreds.APISecret)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if claims.Issuer != testCreds.APIKey || claims.Subject != req.ParticipantIdentity {
		t.Errorf("iss %q sub %q", claims.Issuer, claims.Subject)
	}
	iat, exp := claims.IssuedAt.Time, claims.ExpiresAt.Time
	if got := exp.Sub(iat); got != lifetime {
		t.Errorf("exp - iat = %s, want %s", got, lifetime)
	}
	if iat.Before(notBefore) || iat.After(time.Now()) {
		t.Errorf("iat %s not within the call", iat)
	}
	if !resp.ExpiresAt.AsTime().Equal(exp) {
		t.Errorf("expires_at %s != exp %s", resp.ExpiresAt.AsTime(), exp)
	}
	wantName := req.GetParticipantName()
	wantGrants := &auth.ClaimGrants{Identity: req.ParticipantIdentity, Name: wantName, Video: mint.JoinGrant(req.RoomName)}
	if g, w := cases.JSON(t, grants), cases.JSON(t, wantGrants); g != w {
		t.Errorf("grants\n got %s\nwant %s", g, w)
	}
	// And nothing beyond: the raw payload has exactly these keys.
	payload := cases.JWTPayload(t, resp.Token)
	keys := make([]string, 0, len(payload))
	for k := range payload {
		keys = append(keys, k)
	}
	want := "exp iat identity iss name nbf sub video"
	if wantName == "" {
		want = "exp iat identity iss nbf sub video"
	}
	slices.Sort(keys)
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("payload keys %q, want %q", got, want)
	}
}

func TestValidationErrorCarriesViolationsDetail(t *testing.T) {
	t.Parallel()
	srv := startServer(t, testConfig())
	client := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, srv.URL)
	_, err := client.GenerateToken(context.Background(), req("", "a#b"))
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, d := range cerr.Details() {
		m, err := d.Value()
		if err != nil {
			t.Fatal(err)
		}
		vs, ok := m.(*validate.Violations)
		if !ok {
			t.Fatalf("detail type %T", m)
		}
		for _, v := range vs.GetViolations() {
			got = append(got, v.GetField().GetElements()[0].GetFieldName()+"|"+v.GetRuleId()+"|"+v.GetMessage())
		}
	}
	want := []string{"room_name|required|value is required", "participant_identity|no_hash|must not contain '#' (LiveKit reserves it in identities)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("violations\n got %q\nwant %q", got, want)
	}
}

func TestServerPolicyNarrowsLifetime(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Policy.MinLifetime, cfg.Policy.MaxLifetime, cfg.Policy.DefaultLifetime = 5*time.Minute, 2*time.Hour, 30*time.Minute
	srv := startServer(t, cfg)
	client := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, srv.URL, connect.WithProtoJSON())
	resp, err := client.GenerateToken(context.Background(), req("r", "u"))
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, resp, req("r", "u"), 30*time.Minute, time.Now().Add(-2*time.Second).Truncate(time.Second))
	_, err = client.GenerateToken(context.Background(), cases.With(cases.Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = cases.U32(7201) }))
	var cerr *connect.Error
	if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument || cerr.Message() != "expiration_seconds: must be between 300 and 7200 on this server" {
		t.Errorf("err = %v", err)
	}
}
