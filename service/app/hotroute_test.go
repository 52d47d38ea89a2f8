package app

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"testing"
	"time"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/requestid"
)

// markRoute marks the answer with its name and whether it was served as a
// token route, with the verified caller (Serve), or as a plain handler.
type markRoute string

func (m markRoute) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Route", string(m))
	w.WriteHeader(299)
}

func (m markRoute) Serve(w http.ResponseWriter, r *http.Request, _ pipeline.Verified) {
	w.Header().Set("X-Via", "serve")
	m.ServeHTTP(w, r)
}

// front must send every request where the mux would, token routes through
// their Serve with the verified caller: it only skips the mux's routing for
// the one path it knows.
func TestHotRouteIsTheMuxRoute(t *testing.T) {
	marker := func(name string) http.Handler { return markRoute(name) }
	api := markRoute("api")
	// The patterns NewHandler registers.
	mux := http.NewServeMux()
	mux.Handle("/"+lktokenv1connect.TokenServiceName+"/", api)
	mux.Handle("/api/token", marker("token"))
	mux.Handle("/grpc.reflection.v1.ServerReflection/", marker("reflect"))
	mux.Handle("/grpc.reflection.v1alpha.ServerReflection/", marker("reflect-alpha"))
	mux.Handle("GET /readyz", marker("ready"))
	mux.Handle("GET /healthz", marker("health"))
	op := pipeline.New(pipeline.Options{Issuer: testIssuer(testCreds, mint.DefaultPolicy("wss://lk.example.test")), Log: slog.New(slog.DiscardHandler), Now: time.Now})
	hot := front(op, mux, api)

	gen := lktokenv1connect.TokenServiceGenerateTokenProcedure
	paths := []string{
		gen, gen + "/", gen + "x", gen + "?x=1", "/lktoken.v1.TokenService%2FGenerateToken", "/lktoken.v1.TokenService/Generate%54oken",
		"//lktoken.v1.TokenService/GenerateToken", "/x/../lktoken.v1.TokenService/GenerateToken", "/lktoken.v1.TokenService/./GenerateToken",
		"/lktoken.v1.TokenService/", "/lktoken.v1.TokenService", "/lktoken.v1.TokenService/Other", "/LKTOKEN.v1.TokenService/GenerateToken",
		"/api/token", "/readyz", "/healthz", "/", "/nope",
	}
	for _, method := range []string{"POST", "GET", "PUT", "OPTIONS", "HEAD", "DELETE", "PATCH"} {
		for _, p := range paths {
			for _, host := range []string{"example.test", "127.0.0.1:8080"} {
				want, got := httptest.NewRecorder(), httptest.NewRecorder()
				mux.ServeHTTP(want, request(method, host, p))
				hot.ServeHTTP(got, request(method, host, p))
				if got.Code != want.Code || got.Header().Get("X-Route") != want.Header().Get("X-Route") ||
					got.Header().Get("Location") != want.Header().Get("Location") {
					t.Errorf("%s %s (host %s): hot route %d %q %q, mux %d %q %q", method, p, host,
						got.Code, got.Header().Get("X-Route"), got.Header().Get("Location"),
						want.Code, want.Header().Get("X-Route"), want.Header().Get("Location"))
				}
				if r := want.Header().Get("X-Route"); (r == "api" || r == "token") && got.Header().Get("X-Via") != "serve" {
					t.Errorf("%s %s (host %s): token route %s served without its caller", method, p, host, r)
				}
			}
		}
	}
}

func request(method, host, target string) *http.Request {
	r := httptest.NewRequest(method, "http://"+host+target, nil)
	r.RequestURI = target
	return r
}

// The middleware reads and writes these headers by indexing the map, which
// is Get and Set only for keys already in canonical form.
func TestDirectHeaderKeysAreCanonical(t *testing.T) {
	for _, k := range []string{requestid.Header, "Content-Type", "Cache-Control", "Grpc-Status", http.TrailerPrefix + "Grpc-Status"} {
		if c := textproto.CanonicalMIMEHeaderKey(k); c != k {
			t.Errorf("%q is not canonical (%q)", k, c)
		}
	}
}
