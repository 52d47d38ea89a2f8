package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/lktoken/lktoken/internal/testserver"
)

// process is a child program whose combined output is kept (redacted when
// read) and which is stopped by its PID.
type process struct {
	name    string
	cmd     *exec.Cmd
	out     *testserver.Log
	exited  chan struct{} // closed once the process has been waited for
	waitErr error
	secrets []string
}

// startProcess starts bin with args and env (added to a minimal environment).
// secrets are redacted from its output wherever it is shown.
func startProcess(name, bin string, args, env, secrets []string) (*process, error) {
	cmd := exec.Command(bin, args...)
	// Only what the program needs: no credentials of the caller's environment
	// leak into it, and no LIVEKIT_* variable of the caller changes its setup.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, env...)
	// Bound memory: a chatty server over a long suite keeps the last 4 MiB.
	out := &testserver.Log{Max: 8 << 20}
	cmd.Stdout, cmd.Stderr = out, out
	// If the test binary dies, the kernel kills the servers with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, out: out, exited: make(chan struct{}), secrets: secrets}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process id.
func (p *process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended, and how.
func (p *process) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// Logs returns the process's output so far with tokens and secrets redacted.
func (p *process) Logs() string { return Redact(p.out.String(), p.secrets...) }

// stop sends SIGTERM and waits up to grace; if the process is still running
// it sends a second SIGTERM (livekit-server drains rooms on the first one and
// stops on the second), waits grace again, then kills it.
func (p *process) stop(grace time.Duration) error {
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGTERM, os.Kill} {
		if done, _ := p.Exited(); done {
			break
		}
		if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("signal %s (pid %d): %w", p.name, p.PID(), err)
		}
		select {
		case <-p.exited:
		case <-time.After(grace):
		}
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.PID())
	}
}

// jwtPattern matches a compact JWS, as LiveKit's tokens are.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)

// Redact replaces every JWT and every given secret in s, so that server logs
// and response bodies (livekit-server's 401 body echoes the token) can be
// shown in test output.
func Redact(s string, secrets ...string) string {
	s = jwtPattern.ReplaceAllString(s, "[redacted token]")
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted secret]")
		}
	}
	return s
}

// retryStart calls start up to startTries times, until it succeeds or ctx
// ends: a start that loses a free port to another process gets new ports on
// the next try. It returns the errors of every failed try.
func retryStart[T any](ctx context.Context, start func() (T, error)) (T, error) {
	var errs []error
	for range startTries {
		v, err := start()
		if err == nil {
			return v, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	var zero T
	return zero, errors.Join(errs...)
}
