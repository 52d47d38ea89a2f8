// Package httpserver serves lktoken: it composes the packages below it from a
// config.Config (keys, the Issuer, the mint operation, the routes) and serves
// them on one port over HTTP/1.1 and cleartext HTTP/2, with the middleware
// every request passes (request id, metrics, panic recovery, CORS,
// authentication), readiness and liveness probes, Prometheus metrics on their
// own address, a batching log writer, SIGHUP reloads and a draining shutdown.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/lktoken/lktoken/service/audit"

	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/ratelimit"
	"github.com/lktoken/lktoken/service/roompolicy"
	"github.com/lktoken/lktoken/service/setting"
)

// Server serves lktoken on one port: HTTP/1.1 and cleartext HTTP/2, so the
// Connect, gRPC and gRPC-Web protocols all work there.
type Server struct {
	cfg     config.Config
	log     *slog.Logger
	http    *http.Server
	keys    *keys.Ring
	ready   *Readiness
	metrics *Metrics
	bearer  *authn.BearerToken // set when the bearer-token mode is on
	oidc    *oidc.Verifier     // set when callers authenticate with OpenID Connect
	redis   *ratelimit.Redis   // set when the rate limit keeps its budgets in Redis
	// stopTracing flushes spans at the end of Serve; nil without tracing.
	stopTracing func(context.Context) error
	// skipDrain, closed by SkipDrainDelay, cuts the drain delay short.
	skipDrain     chan struct{}
	skipDrainOnce sync.Once
}

// refuseAll is the authenticator of a server whose OpenID Connect
// configuration cannot work: fail closed.
type refuseAll struct{ err error }

func (r refuseAll) Authenticate(context.Context, authn.Caller) (*authn.Principal, error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("caller authentication is misconfigured on the server"))
}

// NewLogger returns the JSON (or text) logger the configuration asks for.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	// slog's JSON handler, through which the audit log writes its mint lines
	// directly (audit.NewJSONHandler).
	return slog.New(audit.NewJSONHandler(w, level))
}

// New builds the server for cfg, logging to log: the keyring, the Issuer
// that signs with it, the mint operation with the configured authentication,
// and the handler that serves it.
func New(cfg config.Config, log *slog.Logger) *Server {
	ring := keys.NewRing(keys.Set{Signing: cfg.Credentials, IDs: cfg.KeyIDs})
	s := &Server{cfg: cfg, log: log, keys: ring, ready: NewReadiness(ring), metrics: NewMetrics(), skipDrain: make(chan struct{})}
	opts := pipeline.Options{
		Issuer:   mint.NewIssuer(ring, cfg.Policy, time.Now),
		Log:      log,
		Now:      time.Now,
		Observer: s.metrics,
	}
	if cfg.Ops.BearerToken != "" {
		s.bearer = authn.NewBearerToken(string(cfg.Ops.BearerToken))
		opts.Authenticator = s.bearer
	}
	if cfg.Auth.OIDCEnabled() {
		oc := cfg.Auth.OIDC
		oc.Log = log
		v, err := oidc.New(context.Background(), oc)
		if err != nil {
			// config.LoadConfig checked it; a hand-made Config that fails
			// refuses every caller rather than letting them all in.
			log.Error("OpenID Connect misconfigured: refusing every caller", slog.String("error", err.Error()))
			opts.Authenticator = refuseAll{err}
		} else {
			s.oidc = v
			opts.Authenticator = v
			s.ready.oidc = func() (bool, string) { st := v.State(); return st.Ready, st.String() }
		}
	}
	if cfg.Auth.Policy != nil {
		opts.RoomPolicy = roompolicy.Hook{Policy: cfg.Auth.Policy, Log: log}
	}
	if cfg.RateLimit.Enabled() {
		opts.Limiter, opts.Proxies = s.newLimiter(), cfg.RateLimit.Proxies
	}
	if cfg.Ops.Tracing {
		tracer, stop, err := newTracing()
		if err != nil {
			// Tracing is an aid, not a dependency: serve without it, loudly.
			log.Error("tracing disabled", slog.String("error", err.Error()))
		} else {
			opts.Tracer, s.stopTracing = tracer, stop
		}
	}
	h := NewHandler(pipeline.New(opts), HandlerOptions{
		AllowedOrigins:    cfg.AllowedOrigins,
		MaxRequestBytes:   cfg.MaxRequestBytes,
		TokenEndpointPath: cfg.TokenEndpointPath,
		Log:               log,
		Metrics:           s.metrics,
		Ready:             s.ready,
	})
	lim := cfg.Ops.WithDefaults()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.http = &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		MaxHeaderBytes:    lim.MaxHeaderBytes,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: lim.MaxConcurrentStreams},
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// newLimiter composes the rate limiter: in memory, or in the configured Redis.
func (s *Server) newLimiter() *ratelimit.Limiter {
	rc := s.cfg.RateLimit
	lo := ratelimit.Options{Policy: rc.Policy, FailClosed: rc.FailClosed, Log: s.log, Observer: s.metrics, Store: ratelimit.NewMemory()}
	if rc.RedisURL != "" {
		r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: rc.RedisURL, Password: string(rc.RedisPassword)})
		if err != nil {
			// config.LoadConfig checked the URL; a hand-made Config that
			// fails keeps each replica's budgets in memory, loudly.
			s.log.Error("rate limit: Redis misconfigured, keeping budgets in memory", slog.String("error", err.Error()))
		} else {
			s.redis, lo.Store = r, r
		}
	}
	l := ratelimit.New(lo)
	if s.redis != nil {
		s.ready.rateStore = l.Unreachable
	}
	return l
}

// Run listens on the configured address and serves until ctx is done. Then
// it drains: /readyz answers 503 at once while the server keeps serving for
// the drain delay (so that balancers, which learn of the drain from /readyz
// or from Kubernetes removing the endpoint, stop sending first), then it
// stops accepting connections and lets in-flight requests finish within the
// shutdown timeout.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return &ListenError{Setting: config.FieldListen, Addr: s.cfg.Listen, Err: err}
	}
	return s.Serve(ctx, ln)
}

// ListenError is an address the server could not listen on: a
// configuration error (the address is taken, not allowed, or malformed).
type ListenError struct {
	// Setting is the setting that named the address (config.FieldListen or
	// config.FieldMetricsListen); config.Config.Name says how the user wrote it.
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
	if s.cfg.Dev {
		s.log.Warn("DEVELOPMENT MODE: tokens are signed with LiveKit's public dev credentials; never expose this server",
			slog.String("api_key", s.cfg.Credentials.APIKey), slog.String("livekit_url", s.cfg.Policy.ServerURL))
	}
	if s.oidc != nil {
		defer s.oidc.Close()
		s.log.Info("callers authenticate with OpenID Connect", slog.String("issuer", s.cfg.Auth.OIDC.Issuer),
			slog.String("audience", s.cfg.Auth.OIDC.Audience), slog.Bool("room_policy", s.cfg.Auth.Policy != nil))
	}
	if rc := s.cfg.RateLimit; rc.Enabled() {
		store := "memory (per replica)"
		if s.redis != nil {
			store = "redis " + rc.RedisURL
			defer s.redis.Close()
		}
		s.log.Info("rate limit", slog.String("policy", rc.Policy.String()), slog.String("store", store), slog.Bool("fail_closed", rc.FailClosed))
	}
	// The metrics listener first: "listening" is logged only once both are.
	stopMetrics, err := s.serveMetrics()
	if err != nil {
		return err
	}
	defer stopMetrics()
	s.log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("livekit_url", s.cfg.Policy.ServerURL),
		slog.Any("allowed_origins", s.cfg.AllowedOrigins), slog.String("token_endpoint", s.cfg.TokenEndpointPath))
	defer s.flushTracing()
	served := make(chan error, 1)
	go func() { served <- s.http.Serve(ln) }()
	s.ready.Serving()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.ready.Draining()
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

// flushTracing sends the spans still buffered; called once serving ends.
func (s *Server) flushTracing() {
	if s.stopTracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.stopTracing(ctx); err != nil {
		s.log.Warn("tracing: spans not flushed", slog.String("error", err.Error()))
	}
}

// Reload reads the keys, and the bearer token when it comes from a file,
// again (SIGHUP). The swap is atomic: a request signs with either the old or
// the new key, never fails for the reload. On error the current keys stay and
// the reason is logged; the reason never contains a secret.
func (s *Server) Reload() error {
	var errs []error
	if s.bearer != nil && s.cfg.Ops.BearerTokenFile != "" {
		if token, err := config.ReadBearerTokenFile(s.cfg.Ops.BearerTokenFile); err != nil {
			err = s.cfg.Explain(err)
			s.log.Error("reload failed, keeping the current bearer token", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else {
			s.bearer.Set(token)
			s.log.Info("bearer token reloaded")
		}
	}
	if s.redis != nil && s.cfg.RateLimit.RedisPasswordFile != "" {
		if pw, err := config.ReadRedisPasswordFile(s.cfg.RateLimit.RedisPasswordFile); err != nil {
			err = s.cfg.Explain(err)
			s.log.Error("reload failed, keeping the current Redis password", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else {
			s.redis.SetPassword(pw)
			s.log.Info("Redis password reloaded")
		}
	}
	if !s.cfg.Keys.Reloadable() {
		s.log.Info("reload: " + s.cfg.Explain(keys.ErrNotReloadable).Error())
		return errors.Join(errs...)
	}
	ks, err := s.keys.Reload(s.cfg.Keys)
	if err != nil {
		err = s.cfg.Explain(err)
		s.log.Error("reload failed, keeping the current keys", slog.String("error", err.Error()),
			slog.String("signing_key", s.keys.Signing().APIKey))
		return errors.Join(append(errs, err)...)
	}
	s.log.Info("keys reloaded", slog.String("signing_key", ks.Signing.APIKey), slog.Any("key_ids", ks.IDs))
	return errors.Join(errs...)
}

// serveMetrics serves Prometheus /metrics on its own address when one is
// configured: scrapers stay off the public port. The returned func stops it.
func (s *Server) serveMetrics() (func(), error) {
	if s.cfg.Ops.MetricsListen == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", s.cfg.Ops.MetricsListen)
	if err != nil {
		return nil, &ListenError{Setting: config.FieldMetricsListen, Addr: s.cfg.Ops.MetricsListen, Err: err}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics.Handler())
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
