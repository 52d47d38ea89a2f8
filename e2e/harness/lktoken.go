package harness

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// LKTokenOptions configure one lktoken process.
type LKTokenOptions struct {
	// Credentials sign the tokens (LIVEKIT_API_KEY, LIVEKIT_API_SECRET;
	// each is set only when not empty, e.g. when Env names a
	// LIVEKIT_KEYS_FILE).
	Credentials Credentials
	// LiveKitURL is handed to clients (LIVEKIT_URL).
	LiveKitURL string
	// Env holds further NAME=value settings, e.g. LKTOKEN_ALLOWED_ORIGINS.
	Env []string
	// Args are extra command-line flags.
	Args []string
	// Secrets are redacted from its output besides Credentials.APISecret
	// (e.g. those of a LIVEKIT_KEYS_FILE).
	Secrets []string
}

// LKToken is a running lktoken binary.
type LKToken struct {
	// URL is the base URL, e.g. http://127.0.0.1:39123.
	URL string

	proc *process
}

// StartLKToken starts the lktoken binary bin on a free 127.0.0.1 port (it
// binds port 0 itself and logs the address, so no port can be lost to a
// race) and returns once /healthz answers.
func StartLKToken(ctx context.Context, bin string, opts LKTokenOptions) (*LKToken, error) {
	// The origin is required outside --dev; Env may set another (the last
	// value of a variable wins).
	env := []string{"LIVEKIT_URL=" + opts.LiveKitURL, "LKTOKEN_LISTEN=127.0.0.1:0", "LKTOKEN_ALLOWED_ORIGINS=http://localhost:4200"}
	if opts.Credentials.APIKey != "" {
		env = append(env, "LIVEKIT_API_KEY="+opts.Credentials.APIKey)
	}
	if opts.Credentials.APISecret != "" {
		env = append(env, "LIVEKIT_API_SECRET="+opts.Credentials.APISecret)
	}
	env = append(env, opts.Env...)
	secrets := append([]string{opts.Credentials.APISecret}, opts.Secrets...)
	proc, err := startProcess("lktoken", bin, opts.Args, env, secrets)
	if err != nil {
		return nil, err
	}
	lt := &LKToken{proc: proc}
	fail := func(err error) (*LKToken, error) {
		stopErr := lt.Stop()
		return nil, fmt.Errorf("lktoken: %w (stop: %v)\nlast output:\n%s", err, stopErr, tail(proc.Logs(), 30))
	}
	addr, err := waitListening(ctx, proc)
	if err != nil {
		return fail(err)
	}
	lt.URL = "http://" + addr
	if err := waitReady(ctx, proc, lt.URL+"/healthz"); err != nil {
		return fail(err)
	}
	return lt, nil
}

// waitListening waits for lktoken's {"msg":"listening","addr":...} log line.
func waitListening(ctx context.Context, proc *process) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		for line := range strings.Lines(proc.out.String()) {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
				return rec.Addr, nil
			}
		}
		if done, err := proc.Exited(); done {
			return "", fmt.Errorf("exited before listening: %v", err)
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no \"listening\" log line after %s", readyTimeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Client returns the generated Connect client for this server.
func (lt *LKToken) Client(httpClient *http.Client) lktokenv1connect.TokenServiceClient {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	return lktokenv1connect.NewTokenServiceClient(httpClient, lt.URL)
}

// PID is lktoken's process id.
func (lt *LKToken) PID() int { return lt.proc.PID() }

// Logs is lktoken's output so far (its audit log), redacted.
func (lt *LKToken) Logs() string { return lt.proc.Logs() }

// Stop stops lktoken by its PID: SIGTERM, then SIGKILL after a grace period.
func (lt *LKToken) Stop() error { return lt.proc.stop(stopGrace) }

// Reload sends lktoken SIGHUP: it reads its key files (and bearer-token
// file) again and logs "keys reloaded" or why it kept the current ones.
func (lt *LKToken) Reload() error { return lt.proc.cmd.Process.Signal(syscall.SIGHUP) }
