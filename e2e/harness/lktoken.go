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
	// Credentials sign the tokens (LIVEKIT_API_KEY, LIVEKIT_API_SECRET).
	Credentials Credentials
	// KeysFile and APIKeyFile, when KeysFile is set, replace Credentials:
	// LIVEKIT_KEYS_FILE holds the keys and LIVEKIT_API_KEY_FILE names the one
	// that signs; both are read again on Reload. Secrets lists the secrets
	// of the keys file, to keep them out of Logs.
	KeysFile, APIKeyFile string
	Secrets              []string
	// LiveKitURL is handed to clients (LIVEKIT_URL).
	LiveKitURL string
	// Env holds further NAME=value settings, e.g. LKTOKEN_ALLOWED_ORIGINS.
	Env []string
	// Args are extra command-line flags.
	Args []string
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
	keys := []string{"LIVEKIT_API_KEY=" + opts.Credentials.APIKey, "LIVEKIT_API_SECRET=" + opts.Credentials.APISecret}
	secrets := append([]string{opts.Credentials.APISecret}, opts.Secrets...)
	if opts.KeysFile != "" {
		keys = []string{"LIVEKIT_KEYS_FILE=" + opts.KeysFile, "LIVEKIT_API_KEY_FILE=" + opts.APIKeyFile}
		secrets = opts.Secrets
	}
	env := append(append(keys,
		"LIVEKIT_URL="+opts.LiveKitURL,
		"LKTOKEN_LISTEN=127.0.0.1:0",
	), opts.Env...)
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

// Reload sends lktoken SIGHUP (by its PID): it reads its key files again.
func (lt *LKToken) Reload() error { return lt.proc.cmd.Process.Signal(syscall.SIGHUP) }

// Stop stops lktoken by its PID: SIGTERM, then SIGKILL after a grace period.
func (lt *LKToken) Stop() error { return lt.proc.stop(stopGrace) }
