package harness

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// HAProxy is Debian's haproxy balancing HTTP across backends on loopback,
// health-checking each with GET /readyz every 200 ms (down after one failure,
// up after two successes), retrying a request on a connection failure or an
// empty response: the configuration found to work with Debian's haproxy 2.6
// (option httpchk GET /readyz, inter 200ms fall 1 rise 2, retry-on
// conn-failure empty-response).
type HAProxy struct {
	// URL is the frontend, e.g. http://127.0.0.1:40123.
	URL string

	proc   *process
	dir    string
	socket string
}

// HAProxyBinary is the haproxy on $PATH, or an error saying how to get it.
func HAProxyBinary() (string, error) {
	p, err := exec.LookPath("haproxy")
	if err != nil {
		return "", fmt.Errorf("haproxy is not installed (apt-get install haproxy; make deps does it as root): %w", err)
	}
	return p, nil
}

// HAProxyOptions configure the balancer.
type HAProxyOptions struct {
	// Backends are host:port addresses, named s1, s2, … in that order.
	Backends []string
	// NoRetries turns layer-7 retries and redispatch off: a request that
	// reaches a closing server fails, as behind a balancer that never retries.
	NoRetries bool
}

// StartHAProxy starts haproxy in the foreground on a free 127.0.0.1 port and
// returns once its frontend answers.
func StartHAProxy(ctx context.Context, bin string, opts HAProxyOptions) (*HAProxy, error) {
	return retryStart(ctx, func() (*HAProxy, error) { return startHAProxyOnce(ctx, bin, opts) })
}

func startHAProxyOnce(ctx context.Context, bin string, opts HAProxyOptions) (*HAProxy, error) {
	port, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lktoken-e2e-haproxy-")
	if err != nil {
		return nil, err
	}
	h := &HAProxy{URL: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir, socket: filepath.Join(dir, "admin.sock")}
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(haproxyConfig(port, h.socket, opts)), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// -db: foreground, no daemon; -W is not needed without reloads.
	h.proc, err = startProcess("haproxy", bin, []string{"-db", "-f", conf}, nil, nil)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := waitReady(ctx, h.proc, h.URL+"/readyz"); err != nil {
		stopErr := h.Stop()
		return nil, fmt.Errorf("haproxy on port %d: %w (stop: %v)\nlast output:\n%s", port, err, stopErr, tail(h.proc.Logs(), 30))
	}
	return h, nil
}

func haproxyConfig(port int, socket string, opts HAProxyOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 2000
  stats socket %s mode 600 level admin
  log stdout format raw local0 info

defaults
  mode http
  log global
  option httplog
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 10s
`, socket)
	if opts.NoRetries {
		b.WriteString("  retries 0\n  retry-on none\n")
	} else {
		b.WriteString("  retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\n")
	}
	fmt.Fprintf(&b, `
frontend api
  bind 127.0.0.1:%d
  default_backend lktoken

backend lktoken
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 1 rise 2
`, port)
	for i, addr := range opts.Backends {
		fmt.Fprintf(&b, "  server s%d %s check\n", i+1, addr)
	}
	return b.String()
}

// ServerStat is one backend server as haproxy's "show stat" reports it.
type ServerStat struct {
	Name   string // s1, s2, …
	Status string // UP, DOWN, "UP 1/2" (going up), "DOWN 1/2"…
	// Retries and Redispatches count what haproxy did to hide failures.
	Retries, Redispatches int
	// Errors are connection and response errors toward this server.
	ConnErrors, RespErrors int
	// Sessions is the total of requests it was sent.
	Sessions int
}

// Stats asks haproxy's admin socket for the backend servers' state.
func (h *HAProxy) Stats() ([]ServerStat, error) {
	conn, err := net.DialTimeout("unix", h.socket, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("show stat\n")); err != nil {
		return nil, err
	}
	r := csv.NewReader(bufio.NewReader(conn))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, errors.New("haproxy: empty show stat")
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[strings.TrimPrefix(strings.TrimSpace(name), "# ")] = i
	}
	num := func(rec []string, name string) int {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return 0
		}
		n, _ := strconv.Atoi(rec[i])
		return n
	}
	var out []ServerStat
	for _, rec := range recs[1:] {
		if len(rec) <= col["status"] || rec[col["pxname"]] != "lktoken" {
			continue
		}
		if sv := rec[col["svname"]]; sv != "BACKEND" && sv != "FRONTEND" {
			out = append(out, ServerStat{Name: sv, Status: rec[col["status"]],
				Retries: num(rec, "wretr"), Redispatches: num(rec, "wredis"),
				ConnErrors: num(rec, "econ"), RespErrors: num(rec, "eresp"), Sessions: num(rec, "stot")})
		}
	}
	return out, nil
}

// WaitServer waits until haproxy reports server name (s1, …) in status
// ("UP" or "DOWN"), or the timeout passes.
func (h *HAProxy) WaitServer(ctx context.Context, name, status string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := "no answer"
	for {
		stats, err := h.Stats()
		if err != nil {
			last = err.Error()
		}
		for _, s := range stats {
			if s.Name == name {
				if s.Status == status {
					return nil
				}
				last = s.Status
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy: server %s not %s after %s (last: %s)", name, status, timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Logs is haproxy's output so far: one line per request (httplog).
func (h *HAProxy) Logs() string { return h.proc.Logs() }

// Stop stops haproxy by its PID and removes its configuration.
func (h *HAProxy) Stop() error {
	err := h.proc.stop(stopGrace)
	_ = os.RemoveAll(h.dir)
	return err
}

// Terminate sends lktoken one SIGTERM, as an orchestrator does, and waits up
// to timeout for it to exit. It returns nil only for exit status 0; unlike
// Stop it never escalates, so a slow drain shows as an error.
func (lt *LKToken) Terminate(timeout time.Duration) error {
	if err := lt.proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM lktoken (pid %d): %w", lt.PID(), err)
	}
	select {
	case <-lt.proc.exited:
		if lt.proc.waitErr != nil {
			return fmt.Errorf("lktoken (pid %d) after SIGTERM: %w", lt.PID(), lt.proc.waitErr)
		}
		return nil
	case <-time.After(timeout):
		_ = lt.proc.cmd.Process.Kill()
		return fmt.Errorf("lktoken (pid %d) still running %s after SIGTERM (killed)", lt.PID(), timeout)
	}
}
