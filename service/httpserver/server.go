// Package httpserver serves a built http.Handler on one port over HTTP/1.1
// and cleartext HTTP/2 (so the Connect, gRPC and gRPC-Web protocols all work
// there), with Prometheus metrics on an address of their own and a draining
// shutdown. It composes nothing: package app builds the handler.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lktoken/lktoken/service/setting"
)

// Config is what the listener needs.
type Config struct {
	// Listen is the address to serve on (Run).
	Listen string
	// MetricsListen, when set, serves Metrics at GET /metrics there.
	MetricsListen string
	Metrics       http.Handler
	// ListenSetting and MetricsListenSetting are the settings that named the
	// two addresses, for a ListenError.
	ListenSetting, MetricsListenSetting setting.Field
	// DrainDelay is how long the server keeps serving, not ready, after the
	// stop is asked for; ShutdownTimeout bounds the requests in flight then.
	DrainDelay      time.Duration
	ShutdownTimeout time.Duration
	// The http.Server's limits.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	MaxHeaderBytes                                            int
	MaxConcurrentStreams                                      int
	// Announce are extra attributes of the "listening" line.
	Announce []slog.Attr
}

// State learns when the server begins serving and when it begins draining
// (the readiness probe).
type State interface {
	Serving()
	Draining()
}

// Server serves one handler.
type Server struct {
	cfg   Config
	log   *slog.Logger
	http  *http.Server
	state State
	// skipDrain, closed by SkipDrainDelay, cuts the drain delay short.
	skipDrain     chan struct{}
	skipDrainOnce sync.Once
}

// New returns the server of h; state (nil: none) learns its lifecycle.
func New(cfg Config, h http.Handler, state State, log *slog.Logger) *Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &Server{cfg: cfg, log: log, state: state, skipDrain: make(chan struct{}), http: &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: cfg.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
}

// Run listens on the configured address and serves until ctx is done. Then
// it drains: the State learns of it at once (so /readyz answers 503) while
// the server keeps serving for the drain delay (so that balancers, which
// learn of the drain from /readyz or from Kubernetes removing the endpoint,
// stop sending first), then it stops accepting connections and lets
// in-flight requests finish within the shutdown timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := s.Listen()
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Listen opens the configured address; a failure is a *ListenError.
func (s *Server) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, &ListenError{Setting: s.cfg.ListenSetting, Addr: s.cfg.Listen, Err: err}
	}
	return ln, nil
}

// ListenError is an address the server could not listen on: a
// configuration error (the address is taken, not allowed, or malformed).
type ListenError struct {
	// Setting is the setting that named the address (Config.ListenSetting or
	// Config.MetricsListenSetting); config.Config.Name says how the user
	// wrote it.
	Setting setting.Field
	Addr    string
	Err     error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("listen on %s (%s): %v", e.Addr, e.Setting, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// The metrics listener first: "listening" is logged only once both are.
	stopMetrics, err := s.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	s.log.LogAttrs(context.Background(), slog.LevelInfo, "listening",
		append([]slog.Attr{slog.String("addr", ln.Addr().String())}, s.cfg.Announce...)...)
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(ln) }()
	if s.state != nil {
		s.state.Serving()
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	if s.state != nil {
		s.state.Draining()
	}
	if d := s.cfg.DrainDelay; d > 0 {
		s.log.Info("draining: not ready, still serving", slog.String("drain_delay", d.String()))
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-s.skipDrain:
			timer.Stop()
			s.log.Info("drain delay cut short")
		case err := <-served:
			timer.Stop()
			return err
		}
	}
	s.log.Info("shutting down", slog.String("drain_timeout", s.cfg.ShutdownTimeout.String()))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// SkipDrainDelay ends the drain delay now, or makes a drain that has not
// begun skip it: for an interactive stop (Ctrl-C) or a second signal.
func (s *Server) SkipDrainDelay() { s.skipDrainOnce.Do(func() { close(s.skipDrain) }) }

// serveMetrics serves Prometheus /metrics on its own address when one is
// configured: scrapers stay off the public port. The returned func stops it.
func (s *Server) serveMetrics() (func(), error) {
	if s.cfg.MetricsListen == "" || s.cfg.Metrics == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.MetricsListen)
	if err != nil {
		return nil, &ListenError{Setting: s.cfg.MetricsListenSetting, Addr: s.cfg.MetricsListen, Err: err}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.cfg.Metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics server stopped", slog.String("error", err.Error()))
		}
	}()
	s.log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
