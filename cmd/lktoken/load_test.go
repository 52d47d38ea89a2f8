package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// keepAlive is one client connection that sends requests one after another.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func dialKeepAlive(addr string) (*keepAlive, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(120 * time.Second))
	return &keepAlive{c: c, br: bufio.NewReader(c)}, nil
}

// mint sends one GenerateToken request with the given request id and reads
// the answer: the status, the body and whether the server will close.
func (k *keepAlive) mint(addr, id, extraHeader string) (int, string, bool, error) {
	return k.mintAt(addr, generatePath, id, extraHeader)
}

// tokenPath is LiveKit's standard token endpoint, at its default path.
const tokenPath = "/api/token"

// mintAt is mint at path: GenerateToken, or the token endpoint (tokenPath),
// which is sent snake_case as LiveKit's SDKs send it.
func (k *keepAlive) mintAt(addr, path, id, extraHeader string) (int, string, bool, error) {
	body := `{"roomName":"load","participantIdentity":"` + id + `"}`
	if path == tokenPath {
		body = `{"room_name":"load","participant_identity":"` + id + `"}`
	}
	if _, err := fmt.Fprintf(k.c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\n%sContent-Length: %d\r\n\r\n%s",
		path, addr, id, extraHeader, len(body), body); err != nil {
		return 0, "", true, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		return 0, "", true, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, "", true, err
	}
	return resp.StatusCode, string(b), resp.Close, nil
}

// procStatus reads a field (in kB) of /proc/PID/status.
func procStatus(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// minted says whether an answer from path carries a token.
func minted(path string, code int, body string) bool {
	if path == tokenPath {
		return code == 201 && strings.Contains(body, `"participant_token":"eyJ`)
	}
	return code == 200 && strings.Contains(body, `"token":"eyJ`)
}

func openFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

// 1000 connections held open at once, each minting several tokens: zero
// errors, and the binary's peak resident memory stays bounded.
func TestThousandConcurrentConnections(t *testing.T) {
	slow(t)
	t.Parallel()
	const conns, perConn = 1000, 5
	const maxRSSKiB = 256 << 10 // 256 MiB: generous; a run uses far less
	p := start(t, nil, "--dev", "--metrics-listen", "127.0.0.1:0")
	maddr := p.Log.Addr(t, "metrics listening")
	baseG := goroutines(t, maddr)
	pid := p.Cmd.Process.Pid
	baseRSS, baseFDs := procStatus(t, pid, "VmRSS"), openFDs(pid)

	clients := make([]*keepAlive, conns)
	for i := range clients {
		k, err := dialKeepAlive(p.Addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		defer k.c.Close()
		clients[i] = k
	}
	// Every connection is accepted and held by the server at the same time.
	waitFor(t, func() bool { return openFDs(pid) >= baseFDs+conns }, "1000 accepted connections")
	held := openFDs(pid) - baseFDs

	var errs atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, k := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := 0; n < perConn; n++ {
				code, body, closing, err := k.mint(p.Addr, fmt.Sprintf("c%d-%d", i, n), "")
				if err != nil || code != 200 || !strings.Contains(body, `"token":"eyJ`) || closing {
					errs.Add(1)
					firstErr.Do(func() { t.Errorf("conn %d request %d: %v %d %.200s close=%v", i, n, err, code, body, closing) })
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("%d connections held, %d requests, %d errors; RSS %d KiB before, peak %d KiB", held, conns*perConn, errs.Load(), baseRSS, peak)
	if errs.Load() != 0 {
		t.Fatalf("%d errors", errs.Load())
	}
	if peak > maxRSSKiB {
		t.Errorf("peak RSS %d KiB over %d KiB", peak, maxRSSKiB)
	}
	if strings.Contains(p.Logs(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%.2000s", p.Logs())
	}
	for _, k := range clients {
		k.c.Close()
	}
	n := settleGoroutines(t, maddr, baseG)
	t.Logf("goroutines in the binary: %d before, %d after the 1000 connections closed", baseG, n)
}

// receivedIDs are the request ids the server logged as received: the
// requests it accepted (it logs once the headers are read).
func receivedIDs(logs string) map[string]bool {
	ids := map[string]bool{}
	for _, l := range strings.Split(logs, "\n") {
		if !strings.Contains(l, `"msg":"request received"`) {
			continue
		}
		if _, rest, ok := strings.Cut(l, `"request_id":"`); ok {
			id, _, _ := strings.Cut(rest, `"`)
			ids[id] = true
		}
	}
	return ids
}

// SIGTERM while clients hammer the server (half of them GenerateToken, half
// LiveKit's standard endpoint /api/token): every request the server accepted
// is answered in full, new connections are refused once the drain starts,
// and the process exits cleanly within the drain deadline.
//
// Accounting: a request counts as accepted when the server logged "request
// received" for its id. A request written to a connection the server was
// closing as idle (or still in the accept backlog) is reset before that,
// which the client sees as an error; it was never accepted and is not lost.
func TestShutdownUnderLoadLosesNothing(t *testing.T) {
	slow(t)
	t.Parallel()
	const clients = 64
	p := start(t, nil, "--dev", "--log-level", "debug", "--shutdown-timeout", "20s")
	type outcome struct {
		ok  bool
		err string
	}
	var mu sync.Mutex
	outcomes := map[string]outcome{}
	var completed atomic.Int64
	var refusedAfterDrain, acceptedAfterDrain atomic.Int64
	var draining atomic.Bool
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		path := generatePath
		if c%2 == 1 {
			path = tokenPath
		}
		go func() {
			defer wg.Done()
			for n := 0; ; {
				k, err := dialKeepAlive(p.Addr)
				if err != nil {
					if draining.Load() {
						refusedAfterDrain.Add(1)
						return
					}
					t.Errorf("dial before SIGTERM: %v", err)
					return
				}
				if draining.Load() {
					acceptedAfterDrain.Add(1)
				}
				for {
					id := fmt.Sprintf("sd-%d-%d", c, n)
					n++
					code, body, closing, err := k.mintAt(p.Addr, path, id, "")
					o := outcome{ok: err == nil && minted(path, code, body)}
					if !o.ok {
						o.err = fmt.Sprintf("%v %d %.100s", err, code, body)
					}
					mu.Lock()
					outcomes[id] = o
					mu.Unlock()
					if o.ok {
						completed.Add(1)
					}
					if err != nil || closing {
						break // the server closes this connection: dial again
					}
				}
				k.c.Close()
			}
		}()
	}
	waitFor(t, func() bool { return completed.Load() >= 1000 }, "1000 tokens before SIGTERM")
	// Besides the hammering, slow clients are surely mid-request at SIGTERM:
	// headers and half a body sent, the rest only once the drain has begun.
	const slow = 8
	slowPath := func(i int) string { // half of them to /api/token (it reads camelCase too)
		if i%2 == 1 {
			return tokenPath
		}
		return generatePath
	}
	slowConns := make([]*keepAlive, slow)
	for i := range slowConns {
		k, err := dialKeepAlive(p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer k.c.Close()
		id := fmt.Sprintf("slow-%d", i)
		body := `{"roomName":"load","participantIdentity":"` + id + `"}`
		fmt.Fprintf(k.c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: %s\r\nContent-Length: %d\r\n\r\n%s",
			slowPath(i), id, len(body), body[:10])
		waitFor(t, func() bool { return strings.Contains(p.Logs(), `"request_id":"`+id+`"`) }, id+" received")
		slowConns[i] = k
	}
	// From here a refused dial is expected (the listener closes first thing).
	draining.Store(true)
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"shutting down"`) }, "shutting down")
	for i, k := range slowConns {
		id := fmt.Sprintf("slow-%d", i)
		body := `{"roomName":"load","participantIdentity":"` + id + `"}`
		o := outcome{}
		if _, err := io.WriteString(k.c, body[10:]); err != nil {
			o.err = err.Error()
		} else if resp, err := http.ReadResponse(k.br, nil); err != nil {
			o.err = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.ok = minted(slowPath(i), resp.StatusCode, string(b))
			o.err = fmt.Sprintf("%d %.100s", resp.StatusCode, b)
		}
		mu.Lock()
		outcomes[id] = o
		mu.Unlock()
	}
	wg.Wait()
	select {
	case <-p.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit within the drain deadline")
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(p.Logs(), `"msg":"stopped"`) {
		t.Fatalf("exit %d, no clean stop:\n%.3000s", code, p.Logs())
	}

	accepted := receivedIDs(p.Logs())
	lost, unaccepted := 0, 0
	for id, o := range outcomes {
		switch {
		case accepted[id] && !o.ok:
			lost++
			if lost <= 5 {
				t.Errorf("accepted request %s lost: %s", id, o.err)
			}
		case !accepted[id] && o.ok:
			t.Errorf("request %s answered but never logged as received", id)
		case !accepted[id]:
			unaccepted++
		}
	}
	for id := range accepted {
		if _, sent := outcomes[id]; !sent {
			t.Errorf("server received %s, which no client sent", id)
		}
	}
	perPath := map[bool]int{}
	for id, o := range outcomes {
		if o.ok {
			var c, n int
			if _, err := fmt.Sscanf(id, "sd-%d-%d", &c, &n); err == nil {
				perPath[c%2 == 1]++
			}
		}
	}
	if perPath[false] == 0 || perPath[true] == 0 {
		t.Errorf("tokens minted: %d by GenerateToken, %d by /api/token; want both", perPath[false], perPath[true])
	}
	t.Logf("tokens minted by the hammering clients: %d by GenerateToken, %d by /api/token", perPath[false], perPath[true])
	t.Logf("%d requests sent, %d accepted and answered, %d lost, %d reset before acceptance; from SIGTERM on %d dials refused, %d accepted (before the signal landed)",
		len(outcomes), len(accepted)-lost, lost, unaccepted, refusedAfterDrain.Load(), acceptedAfterDrain.Load())
	if lost != 0 {
		t.Fatalf("%d accepted requests lost", lost)
	}
	if refusedAfterDrain.Load() == 0 {
		t.Error("no dial was refused after SIGTERM")
	}
}
