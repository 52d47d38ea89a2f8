package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Redis is Debian's redis-server on a free 127.0.0.1 port, with its own
// temporary directory and no persistence: a fresh one per suite, stopped by
// PID. It never touches port 6379 or a system service's data.
type Redis struct {
	// Addr is host:port; URL is redis://Addr.
	Addr, URL string

	bin, dir, password string
	port               int
	proc               *process
	// stopped are the processes of earlier starts, kept for their logs.
	stopped []*process
}

// RedisBinary is the redis-server on $PATH, or an error saying how to get it.
func RedisBinary() (string, error) {
	p, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server is not installed (apt-get install redis-server; make deps does it as root): %w", err)
	}
	return p, nil
}

// StartRedis starts redis-server, requiring password when it is not empty,
// and returns once it accepts connections. A start that loses its port is
// retried on another.
func StartRedis(ctx context.Context, bin, password string) (*Redis, error) {
	dir, err := os.MkdirTemp("", "lktoken-e2e-redis-")
	if err != nil {
		return nil, err
	}
	r, err := retryStart(ctx, func() (*Redis, error) {
		port, err := freeTCPPort()
		if err != nil {
			return nil, err
		}
		r := &Redis{bin: bin, dir: dir, password: password, port: port}
		return r, r.start(ctx)
	})
	if err != nil {
		_ = os.RemoveAll(dir)
	}
	return r, err
}

func (r *Redis) start(ctx context.Context) error {
	r.Addr = "127.0.0.1:" + strconv.Itoa(r.port)
	r.URL = "redis://" + r.Addr
	args := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", "", "--protected-mode", "yes"}
	if r.password != "" {
		args = append(args, "--requirepass", r.password)
	}
	proc, err := startProcess("redis-server", r.bin, args, nil, []string{r.password})
	if err != nil {
		return err
	}
	r.proc = proc
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for !strings.Contains(proc.out.String(), "Ready to accept connections") {
		if done, err := proc.Exited(); done {
			return fmt.Errorf("redis-server on port %d exited: %v\n%s", r.port, err, tail(proc.Logs(), 20))
		}
		select {
		case <-ctx.Done():
			_ = proc.stop(stopGrace)
			return fmt.Errorf("redis-server on port %d not ready after %s\n%s", r.port, readyTimeout, tail(proc.Logs(), 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// PID is redis-server's process id.
func (r *Redis) PID() int { return r.proc.PID() }

// Logs is redis-server's output so far (of every start).
func (r *Redis) Logs() string {
	var b strings.Builder
	for _, p := range append(r.stopped, r.proc) {
		b.WriteString(p.Logs())
	}
	return b.String()
}

// Halt stops redis-server by its PID; Resume starts it again on the same
// port, empty.
func (r *Redis) Halt() error {
	r.stopped = append(r.stopped, r.proc)
	return r.proc.stop(stopGrace)
}

// Resume starts redis-server again after Halt, on the same port.
func (r *Redis) Resume(ctx context.Context) error { return r.start(ctx) }

// Stop stops redis-server by its PID and removes its directory.
func (r *Redis) Stop() error {
	err := r.proc.stop(stopGrace)
	if rmErr := os.RemoveAll(r.dir); err == nil {
		err = rmErr
	}
	return err
}
