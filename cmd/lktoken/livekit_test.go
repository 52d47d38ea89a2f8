package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
)

// livekitServer builds (or finds) the pinned livekit-server and runs it on
// loopback with keyFile; it returns its HTTP base URL.
func livekitServer(t *testing.T, keyFile string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "../../e2e/livekit/build.sh").Output()
	if err != nil {
		t.Fatalf("livekit-server build: %v", err)
	}
	bin := strings.TrimSpace(string(out))
	port, udp := freePort(t, "tcp"), freePort(t, "udp")
	cfg := filepath.Join(t.TempDir(), "livekit.yaml")
	conf := fmt.Sprintf(`port: %d
bind_addresses: [127.0.0.1]
key_file: %s
rtc:
  udp_port: %d
  tcp_port: 0
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: [127.0.0.1/32]
  stun_servers: [127.0.0.1:3478]
`, port, keyFile, udp)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	logf, _ := os.Create(filepath.Join(t.TempDir(), "livekit.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("livekit-server not up within 60s:\n%s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// validate asks LiveKit whether token lets its holder join; it returns the
// status only (the 401 body echoes the token, so it is never printed).
func validate(t *testing.T, base, token string) int {
	t.Helper()
	resp, err := http.Get(base + "/rtc/validate?access_token=" + url.QueryEscape(token))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func mintFrom(t *testing.T, p *testserver.Proc) string {
	t.Helper()
	resp, err := http.Post("http://"+p.Addr+generatePath, "application/json", strings.NewReader(validBody))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(string(b))
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("mint: %d %s", resp.StatusCode, b)
	}
	return m[1]
}

// One keys.yaml serves livekit-server (key_file) and lktoken
// (LIVEKIT_KEYS_FILE): tokens signed with either key are accepted by the real
// server, so the signing key can move from one to the other; a token signed
// with a key LiveKit does not know is refused.
func TestSharedKeysFileWithRealLiveKit(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.yaml")
	writeKeys(t, keys, "keyA: "+secretA1+"\nkeyB: "+secretB+"\n")
	lk := livekitServer(t, keys)
	env := []string{"LIVEKIT_KEYS_FILE=" + keys, "LIVEKIT_URL=ws" + strings.TrimPrefix(lk, "http")}
	for _, signer := range []string{"keyA", "keyB"} {
		p := start(t, append(env, "LIVEKIT_API_KEY="+signer))
		if code := validate(t, lk, mintFrom(t, p)); code != 200 {
			t.Errorf("token signed by %s: LiveKit answered %d", signer, code)
		}
	}
	other := filepath.Join(dir, "other.yaml")
	writeKeys(t, other, "keyC: "+secretA3+"\n")
	p := start(t, []string{"LIVEKIT_KEYS_FILE=" + other, "LIVEKIT_URL=ws://127.0.0.1:1"})
	if code := validate(t, lk, mintFrom(t, p)); code != 401 {
		t.Errorf("token signed by an unknown key: LiveKit answered %d, want 401", code)
	}
}
