package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const generatePath = "/lktoken.v1.TokenService/GenerateToken"

const validBody = `{"roomName":"standup","participantIdentity":"user-42"}`

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	return c
}

// closedByServer reads until the server closes c (EOF or reset) and returns
// whatever it sent first. It fails if the server keeps c open for 30s.
func closedByServer(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server kept the connection open for 30s (read %q)", got)
	}
	return string(got)
}

func TestBodyCapIsConfigurable(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--max-request-bytes", "2048")
	post := func(room string) (int, string) {
		resp, err := http.Post("http://"+p.Addr+generatePath, "application/json",
			strings.NewReader(`{"roomName":"`+room+`","participantIdentity":"u"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(strings.Repeat("a", 2100)); code != 429 ||
		!strings.Contains(body, `"code":"resource_exhausted"`) || !strings.Contains(body, "is larger than configured max 2048") {
		t.Errorf("over the cap: %d %s", code, body)
	}
	// Under the cap the rules apply: 256 bytes is the most a room may have.
	if code, body := post(strings.Repeat("a", 300)); code != 400 || !strings.Contains(body, "room_name: must be at most 256 bytes") {
		t.Errorf("under the cap: %d %s", code, body)
	}
}

func TestHeaderCapIsConfigurable(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--max-header-bytes", "4096")
	req, _ := http.NewRequest("POST", "http://"+p.Addr+generatePath, strings.NewReader(validBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Filler", strings.Repeat("x", 4096+4096+1)) // net/http allows 4 KiB of slack
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", "http://"+p.Addr+generatePath, strings.NewReader(validBody))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Filler", strings.Repeat("x", 3000))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("under the cap: status %d", resp.StatusCode)
	}
}

// A client trickling its headers (slowloris) is cut off by the read-header
// timeout, long before it finishes.
func TestSlowlorisIsCutOff(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--read-header-timeout", "1s")
	c := dial(t, p.Addr)
	if _, err := io.WriteString(c, "POST "+generatePath+" HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	stopped := make(chan int, 1)
	go func() {
		// One header byte every 100ms: 600 bytes would take a minute.
		for i := 0; i < 600; i++ {
			if _, err := c.Write([]byte("X-Slow-" + fmt.Sprint(i) + ": y\r\n")); err != nil {
				stopped <- i
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		stopped <- -1
	}()
	got := closedByServer(t, c)
	if got != "" && !strings.HasPrefix(got, "HTTP/1.1 408") {
		t.Errorf("server answered %q", got)
	}
	// The server closed while we were still trickling.
	select {
	case n := <-stopped:
		if n < 0 {
			t.Fatal("the trickle finished before the server cut it off")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("writes kept succeeding after the server closed")
	}
}

// A client that sends its headers and then stalls on the body is cut off by
// the read timeout.
func TestStalledBodyIsCutOff(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--read-timeout", "1s")
	c := dial(t, p.Addr)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", generatePath, len(validBody), validBody[:10])
	got := closedByServer(t, c)
	// The body read fails mid-way; whatever the answer, no token leaves.
	if strings.Contains(got, `"token"`) {
		t.Errorf("stalled request minted: %q", got)
	}
}

// An idle keep-alive connection is closed after the idle timeout.
func TestIdleConnectionIsClosed(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--idle-timeout", "1s")
	c := dial(t, p.Addr)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", generatePath, len(validBody), validBody)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
	// Now idle: the server closes it.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	rest, err := io.ReadAll(br)
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || len(rest) != 0 {
		t.Fatalf("idle connection not closed: %v %q", err, rest)
	}
}

// The write timeout runs from the end of the headers: a request whose body
// arrives after it gets no answer (the connection is closed), so a slow
// client cannot hold a handler's answer open.
func TestWriteTimeoutBoundsARequest(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--write-timeout", "1s", "--read-timeout", "60s", "--log-level", "debug")
	c := dial(t, p.Addr)
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", generatePath, len(validBody), validBody[:10])
	waitFor(t, func() bool { return strings.Contains(p.Logs(), `"msg":"request received"`) }, "request received")
	// Well past the 1s write deadline: the runtime marks a deadline expired
	// by a timer, which can fire late on a loaded machine, so leave margin.
	time.Sleep(5 * time.Second)
	if _, err := io.WriteString(c, validBody[10:]); err != nil {
		t.Fatal(err)
	}
	if got := closedByServer(t, c); got != "" {
		t.Errorf("answer written after the write timeout: %q", got)
	}
}

// The HTTP/2 stream cap is advertised and enforced: with a cap of 3, a
// fourth concurrent stream is refused while the first three complete.
func TestHTTP2ConcurrentStreamCap(t *testing.T) {
	slow(t)
	t.Parallel()
	p := start(t, nil, "--dev", "--max-concurrent-streams", "3")
	c := dial(t, p.Addr)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var advertised uint32
	for settled := false; !settled; {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok {
			if sf.IsAck() {
				settled = advertised != 0
				continue
			}
			if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); ok {
				advertised = v
			}
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			settled = false
		}
	}
	if advertised != 3 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 3", advertised)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	open := func(id uint32) {
		hbuf.Reset()
		for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", p.Addr}, {":path", generatePath},
			{"content-type", "application/json"}, {"content-length", fmt.Sprint(len(validBody))}} {
			_ = enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []uint32{1, 3, 5, 7} { // 7 is the fourth concurrent stream
		open(id)
	}
	for _, id := range []uint32{1, 3, 5} {
		if err := fr.WriteData(id, true, []byte(validBody)); err != nil {
			t.Fatal(err)
		}
	}
	status := map[uint32]string{}
	dec := hpack.NewDecoder(4096, nil)
	for len(status) < 4 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %v: %v", status, err)
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			status[f.StreamID] = "reset " + f.ErrCode.String()
		case *http2.HeadersFrame:
			fields, _ := dec.DecodeFull(f.HeaderBlockFragment())
			for _, hf := range fields {
				if hf.Name == ":status" {
					status[f.StreamID] = hf.Value
				}
			}
		case *http2.GoAwayFrame:
			t.Fatalf("connection closed: %v", f.ErrCode)
		}
	}
	want := map[uint32]string{1: "200", 3: "200", 5: "200", 7: "reset PROTOCOL_ERROR"}
	for id, w := range want {
		if status[id] != w && !(id == 7 && status[id] == "reset REFUSED_STREAM") {
			t.Errorf("stream %d: %q, want %q", id, status[id], w)
		}
	}
}
