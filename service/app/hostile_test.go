package app

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/internal/hostile"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/logging"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/requestid"
)

// settle waits until the goroutine count is back at or below base (plus a
// little slack for runtime helpers), and says what is left otherwise.
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Every hostile request gets its exact answer in-process; afterwards the
// server still mints and no goroutine is left behind.
func TestHostileInputInProcess(t *testing.T) {
	cfg := testConfig()
	cfg.TokenEndpointPath = config.DefaultTokenEndpointPath
	srv := startServer(t, cfg)
	cases := hostile.Cases(cfg.MaxRequestBytes, 16<<10)
	if len(cases) < 60 {
		t.Fatalf("only %d cases", len(cases))
	}
	warm := hostile.NewClients()
	if _, err := warm.Do(srv.URL, cases[0]); err != nil { // lazy init outside the count
		t.Fatal(err)
	}
	warm.Close()
	settle(t, runtime.NumGoroutine())
	base := runtime.NumGoroutine()

	cl := hostile.NewClients()
	for _, c := range cases {
		r, err := cl.Do(srv.URL, c)
		if err != nil {
			t.Errorf("%s / %s: %v", c.Proto, c.Name, err)
			continue
		}
		for _, bad := range hostile.Check(c, r) {
			t.Errorf("%s / %s: %s", c.Proto, c.Name, bad)
		}
	}
	t.Logf("%d hostile inputs tried", len(cases))
	// Still serving.
	client := lktokenv1connect.NewTokenServiceClient(http.DefaultClient, srv.URL)
	if _, err := client.GenerateToken(context.Background(), req("after", "u")); err != nil {
		t.Fatalf("server stopped minting: %v", err)
	}
	http.DefaultClient.CloseIdleConnections()
	cl.Close()
	settle(t, base)
	if strings.Contains(srv.Log.String(), `"msg":"panic"`) {
		t.Errorf("a request panicked:\n%s", srv.Log.String())
	}
}

// A panic anywhere in the RPC chain reaches the caller as internal with a
// safe message in every protocol, is logged with its stack, and the server
// keeps serving.
func TestPanicBecomesInternal(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	logs := &testserver.Log{}
	log := logging.New(cfg.LogFormat, cfg.LogLevel, logs).Log
	// A panic inside the RPC chain: the room policy is the innermost hook.
	boom := roomPolicyFunc(func(ctx context.Context, _ *lktokenv1.GenerateTokenRequest, _ *authn.Principal) (bool, string) {
		if strings.HasPrefix(requestid.From(ctx), "panic") {
			panic("boom: secret-looking detail")
		}
		return true, ""
	})
	h := testHandler(cfg, log, NewMetrics(), &pipeline.Options{RoomPolicy: boom})
	url := testserver.Handler(t, h)
	for name, call := range protocols(url) {
		if name == "curl-json" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, err := call(withRequestID(ctx, "panic-"+name), req("r", "u"))
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInternal {
				t.Fatalf("err = %v, want internal", err)
			}
			want := "the server failed while handling this request; this is a server fault, not your request (request id panic-" + name + ")"
			if cerr.Message() != want {
				t.Errorf("message %q", cerr.Message())
			}
			if _, err := call(ctx, req("r", "u")); err != nil {
				t.Errorf("next request: %v", err)
			}
		})
	}
	if n := strings.Count(logs.String(), `"msg":"panic"`); n != 4 {
		t.Errorf("%d panic lines, want 4:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"panic":"boom: secret-looking detail","stack":"goroutine`) {
		t.Errorf("panic not logged with its stack:\n%s", logs.String())
	}
}

// A panic outside the RPC chain (in HTTP middleware, say the authenticator)
// is also answered with internal rather than a dropped connection.
func TestPanicInMiddlewareBecomesInternal(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	logs := &testserver.Log{}
	log := logging.New(cfg.LogFormat, cfg.LogLevel, logs).Log
	h := testHandler(cfg, log, nil, &pipeline.Options{Authenticator: authenticatorFunc(func(context.Context, authn.Caller) (*authn.Principal, error) {
		panic("authenticator bug")
	})})
	url := testserver.Handler(t, h)
	for name, call := range protocols(url) {
		_, err := call(context.Background(), req("r", "u"))
		if connect.CodeOf(err) != connect.CodeInternal || !strings.Contains(err.Error(), "this is a server fault, not your request") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	resp, body := do(t, "GET", url+"/healthz", nil, "")
	if resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("healthz %d %q", resp.StatusCode, body)
	}
	if n := strings.Count(logs.String(), `"msg":"panic"`); n != 5 {
		t.Errorf("%d panic lines, want 5", n)
	}
}

// withRequestID makes the client send id as X-Request-Id.
func withRequestID(ctx context.Context, id string) context.Context {
	ctx, callInfo := connect.NewClientContext(ctx)
	callInfo.RequestHeader().Set(requestid.Header, id)
	return ctx
}

type roomPolicyFunc func(context.Context, *lktokenv1.GenerateTokenRequest, *authn.Principal) (bool, string)

func (f roomPolicyFunc) Allow(ctx context.Context, r *lktokenv1.GenerateTokenRequest, p *authn.Principal) (bool, string) {
	return f(ctx, r, p)
}

type authenticatorFunc func(context.Context, authn.Caller) (*authn.Principal, error)

func (f authenticatorFunc) Authenticate(ctx context.Context, c authn.Caller) (*authn.Principal, error) {
	return f(ctx, c)
}
