package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
)

// states records the lifecycle a Server reports.
type states struct {
	mu  sync.Mutex
	seq []string
}

func (s *states) Serving()  { s.mu.Lock(); s.seq = append(s.seq, "serving"); s.mu.Unlock() }
func (s *states) Draining() { s.mu.Lock(); s.seq = append(s.seq, "draining"); s.mu.Unlock() }

func (s *states) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seq, ",")
}

// The server serves the handler it is given, announces itself with the
// extra attributes, tells its State when it serves and when it drains, and
// stops when the context ends.
func TestServerServesTheHandlerItIsGiven(t *testing.T) {
	t.Parallel()
	logs := &testserver.Log{}
	st := &states{}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "built elsewhere\n") })
	srv := New(Config{ShutdownTimeout: 5 * time.Second, Announce: []slog.Attr{slog.String("livekit_url", "wss://lk.example.test")}},
		h, st, slog.New(slog.NewJSONHandler(logs, nil)))
	ln := testserver.Listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	logs.WaitFor(t, `"msg":"listening"`)
	resp, err := http.Get("http://" + ln.Addr().String() + "/anything")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "built elsewhere\n" {
		t.Fatalf("body %q", body)
	}
	if !strings.Contains(logs.String(), `"msg":"listening","addr":"`+ln.Addr().String()+`","livekit_url":"wss://lk.example.test"}`) {
		t.Errorf("listening line: %s", logs.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("did not stop")
	}
	if got := st.String(); got != "serving,draining" {
		t.Errorf("states %q", got)
	}
}

// An address that cannot be listened on is a *ListenError naming the setting.
func TestListenErrorNamesTheSetting(t *testing.T) {
	t.Parallel()
	taken := testserver.Listen(t)
	srv := New(Config{Listen: taken.Addr().String(), ListenSetting: "test.Listen"}, http.NotFoundHandler(), nil, slog.New(slog.DiscardHandler))
	err := srv.Run(context.Background())
	var le *ListenError
	if !errors.As(err, &le) || le.Setting != "test.Listen" || le.Addr != taken.Addr().String() {
		t.Fatalf("err %v", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Fatalf("cause %v is not the listener's", le.Err)
	}
}
