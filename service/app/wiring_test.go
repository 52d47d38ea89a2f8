package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lktoken/lktoken/service/app"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/logging"
)

// productionRequestAllocs is what one typical GenerateToken request over
// Connect JSON allocates in the handler cmd/lktoken serves, fast paths all
// taken (service/doc.go lists them). Losing any one of them costs more:
// the audit line through slog, protojson for the request or the answer,
// protovalidate's CEL, golang-jwt's signer. Lower it when the hot path gets
// cheaper; never raise it to make this test pass without knowing which
// shortcut production wiring stopped taking.
const productionRequestAllocs = 62

// Production wiring takes every hand-written fast path: the handler built as
// realMain builds it (config.LoadConfig, logging.New over a LogWriter,
// app.New) stays within the allocation budget of a request that takes them
// all.
func TestProductionWiringTakesEveryFastPath(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not production's (sync.Pool drops items at random)")
	}
	cfg, err := config.LoadConfig([]string{"--dev"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	out := logging.NewLogWriter(io.Discard)
	defer out.Close()
	h := app.New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, out)).Handler()
	body := []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`)
	serve := func() {
		r := httptest.NewRequest(http.MethodPost, "/lktoken.v1.TokenService/GenerateToken", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	serve()
	if got := testing.AllocsPerRun(200, serve); got > productionRequestAllocs {
		t.Errorf("%v allocations per request, budget %d: production wiring no longer takes every fast path (service/doc.go)", got, productionRequestAllocs)
	}
}
