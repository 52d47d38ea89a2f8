package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server serves lktoken on one port: HTTP/1.1 and cleartext HTTP/2, so the
// Connect, gRPC and gRPC-Web protocols all work there.
type Server struct {
	cfg  Config
	log  *slog.Logger
	http *http.Server
	ops  // keys, readiness, metrics (server_ops.go)
}

// NewLogger returns the JSON (or text) logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// NewServer builds the server for cfg, logging to log.
func NewServer(cfg Config, log *slog.Logger) (*Server, error) {
	o := newOps(cfg, log)
	issuer := NewIssuer(cfg.Credentials, cfg.Policy, time.Now, log)
	issuer.UseKeyring(o.keys)
	h, err := NewHandler(issuer, o.handlerOptions(HandlerOptions{
		AllowedOrigins:    cfg.AllowedOrigins,
		MaxRequestBytes:   cfg.MaxRequestBytes,
		TokenEndpointPath: cfg.TokenEndpointPath,
		Log:               log,
		Now:               time.Now,
	}))
	if err != nil {
		return nil, err
	}
	lim := cfg.Ops.withDefaults()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	return &Server{cfg: cfg, log: log, ops: o, http: &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: lim.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}, nil
}

// Run listens on the configured address and serves until ctx is done, then
// stops accepting connections and lets in-flight requests finish within the
// shutdown timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (LKTOKEN_LISTEN): %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.Dev {
		s.log.Warn("DEVELOPMENT MODE: tokens are signed with LiveKit's public dev credentials; never expose this server",
			slog.String("api_key", s.cfg.Credentials.APIKey), slog.String("livekit_url", s.cfg.Policy.ServerURL))
	}
	s.log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("livekit_url", s.cfg.Policy.ServerURL),
		slog.Any("allowed_origins", s.cfg.AllowedOrigins), slog.String("token_endpoint", s.cfg.TokenEndpointPath))

	stopMetrics, err := s.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	defer s.flushTracing(s.log)
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(ln) }()
	s.ready.Serving()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.ready.Draining()
	s.log.Info("shutting down", slog.Duration("drain_timeout", s.cfg.ShutdownTimeout))
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
