package harness

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// LiveKit is a running livekit-server on loopback.
type LiveKit struct {
	// URL is the HTTP base URL, e.g. http://127.0.0.1:41234.
	URL string
	// WSURL is the signalling base URL, e.g. ws://127.0.0.1:41234: what
	// lktoken hands to clients as LIVEKIT_URL.
	WSURL string
	// Credentials is the only key pair the server accepts.
	Credentials Credentials
	// UDPPort is the single ICE/UDP port (rtc.udp_port).
	UDPPort int

	proc *process
	dir  string
}

// Timeouts of the harness: generous, for a noisy 2-core machine.
const (
	readyTimeout = 90 * time.Second
	stopGrace    = 10 * time.Second
	startTries   = 3
)

// StartLiveKit starts the livekit-server binary bin on 127.0.0.1, accepting
// only creds, with HTTP and ICE/UDP on free ports and no ICE/TCP listener
// (which would ignore bind_addresses). It returns once the server reports
// itself ready. A start that loses its port to another process is retried on
// new ports.
func StartLiveKit(ctx context.Context, bin string, creds Credentials) (*LiveKit, error) {
	return startLiveKit(ctx, bin, fmt.Sprintf("keys:\n  %q: %q\n", creds.APIKey, creds.APISecret), creds, creds.APISecret)
}

// StartLiveKitWithKeyFile is StartLiveKit for a server that reads its keys
// from keyFile (livekit-server's key_file: LiveKit's keys.yaml, the format
// lktoken's LIVEKIT_KEYS_FILE reads too). secrets are redacted from its
// output; Credentials of the result is empty.
func StartLiveKitWithKeyFile(ctx context.Context, bin, keyFile string, secrets ...string) (*LiveKit, error) {
	return startLiveKit(ctx, bin, fmt.Sprintf("key_file: %q\n", keyFile), Credentials{}, secrets...)
}

func startLiveKit(ctx context.Context, bin, keys string, creds Credentials, secrets ...string) (*LiveKit, error) {
	return retryStart(ctx, func() (*LiveKit, error) { return startLiveKitOnce(ctx, bin, keys, creds, secrets) })
}

func startLiveKitOnce(ctx context.Context, bin, keys string, creds Credentials, secrets []string) (*LiveKit, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	udp, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lktoken-e2e-livekit-")
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "livekit.yaml")
	if err := os.WriteFile(conf, []byte(liveKitConfig(port, udp, keys)), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	proc, err := startProcess("livekit-server", bin, []string{"--config", conf}, nil, secrets)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	lk := &LiveKit{
		URL:         "http://127.0.0.1:" + strconv.Itoa(port),
		WSURL:       "ws://127.0.0.1:" + strconv.Itoa(port),
		Credentials: creds,
		UDPPort:     udp,
		proc:        proc,
		dir:         dir,
	}
	if err := waitReady(ctx, proc, lk.URL+"/"); err != nil {
		stopErr := lk.Stop()
		return nil, fmt.Errorf("livekit-server on port %d (udp %d): %w (stop: %v)\nlast output:\n%s",
			port, udp, err, stopErr, tail(proc.Logs(), 30))
	}
	return lk, nil
}

// liveKitConfig is the loopback-only configuration (e2e/README.md, "A
// LiveKit server on loopback only"); keys is its keys: or key_file: entry.
func liveKitConfig(port, udpPort int, keys string) string {
	return fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
rtc:
  udp_port: %d
  tcp_port: 0
  use_external_ip: false
  node_ip: 127.0.0.1
  enable_loopback_candidate: true
  ips:
    includes: ["127.0.0.1/32"]
  # A placeholder: without it the server hands clients public STUN servers.
  stun_servers: ["127.0.0.1:3478"]
%slogging:
  level: info
`, port, udpPort, keys)
}

// waitReady polls url until it answers 200, the process exits, or the
// timeout passes.
func waitReady(ctx context.Context, proc *process, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer yet"
	for {
		if done, err := proc.Exited(); done {
			return fmt.Errorf("exited before it was ready: %v", err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s (last: %s)", readyTimeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PID is livekit-server's process id.
func (lk *LiveKit) PID() int { return lk.proc.PID() }

// Logs is livekit-server's output so far, tokens and secret redacted.
func (lk *LiveKit) Logs() string { return lk.proc.Logs() }

// Stop stops livekit-server by its PID (SIGTERM, a second SIGTERM, then
// SIGKILL, each after a grace period) and removes its configuration.
func (lk *LiveKit) Stop() error {
	err := lk.proc.stop(stopGrace)
	_ = os.RemoveAll(lk.dir)
	return err
}

// Validate asks the server whether token may join (GET /rtc/validate) and
// returns the HTTP status and the body, with the token redacted from it.
func (lk *LiveKit) Validate(ctx context.Context, token string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, lk.URL+"/rtc/validate?access_token="+url.QueryEscape(token), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, "", errors.New(Redact(err.Error(), token, url.QueryEscape(token)))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, Redact(string(body), token), err
}
