package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/lktoken/lktoken/internal/hostile"
)

// The bad-input suite against the real binary over loopback: every case gets
// its exact status, code and message, the server keeps minting, and no panic
// is logged. (Goroutines are checked in-process: service/hostile_test.go.)
func TestHostileInputRealBinary(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev", "--log-level", "debug", "--metrics-listen", "127.0.0.1:0")
	maddr := p.Log.Addr(t, "metrics listening")
	baseG := goroutines(t, maddr)
	base := "http://" + p.Addr
	cases := hostile.Cases(65536, 16384)
	cl := hostile.NewClients()
	for _, c := range cases {
		r, err := cl.Do(base, c)
		if err != nil {
			t.Errorf("%s / %s: %v", c.Proto, c.Name, err)
			continue
		}
		for _, bad := range hostile.Check(c, r) {
			t.Errorf("%s / %s: %s", c.Proto, c.Name, bad)
		}
	}
	t.Logf("%d hostile inputs tried against the binary", len(cases))
	resp, err := http.Post(base+hostile.GeneratePath, "application/json", strings.NewReader(`{"roomName":"after","participantIdentity":"u"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the suite: %d", resp.StatusCode)
	}
	cl.Close()
	http.DefaultClient.CloseIdleConnections()
	n := settleGoroutines(t, maddr, baseG)
	t.Logf("goroutines in the binary: %d before, %d after", baseG, n)
	if strings.Contains(p.Logs(), `"msg":"panic"`) {
		t.Errorf("a request panicked:\n%s", p.Logs())
	}
}
