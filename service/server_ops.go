package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"
)

// ops is the operational state a Server carries besides its HTTP server.
type ops struct {
	keys    *Keyring
	ready   *Readiness
	metrics *Metrics
	authn   Authenticator
	bearer  *BearerToken // set when the bearer-token mode is on
	tracing connect.Interceptor
	// stopTracing flushes spans at the end of Serve.
	stopTracing func(context.Context) error
}

func newOps(cfg Config, log *slog.Logger) ops {
	keys := NewKeyring(Keyset{Signing: cfg.Credentials, IDs: cfg.KeyIDs})
	o := ops{keys: keys, ready: NewReadiness(keys), metrics: NewMetrics()}
	if cfg.Ops.BearerToken != "" {
		o.bearer = NewBearerToken(string(cfg.Ops.BearerToken))
		o.authn = o.bearer
	}
	if cfg.Ops.Tracing {
		t, stop, err := newTracing()
		if err != nil {
			// Tracing is an aid, not a dependency: serve without it, loudly.
			log.Error("tracing disabled", slog.String("error", err.Error()))
		} else {
			o.tracing, o.stopTracing = t, stop
		}
	}
	return o
}

func (o ops) handlerOptions(h HandlerOptions) HandlerOptions {
	h.Authenticator, h.Metrics, h.Ready, h.Tracing = o.authn, o.metrics, o.ready, o.tracing
	return h
}

// flushTracing sends the spans still buffered; called once serving ends.
func (o ops) flushTracing(log *slog.Logger) {
	if o.stopTracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.stopTracing(ctx); err != nil {
		log.Warn("tracing: spans not flushed", slog.String("error", err.Error()))
	}
}

// Reload reads the keys, and the bearer token when it comes from a file,
// again (SIGHUP). The swap is atomic:
// a request signs with either the old or the new key, never fails for the
// reload. On error the current keys stay and the reason is logged; the
// reason never contains a secret.
func (s *Server) Reload() error {
	var errs []error
	if s.bearer != nil && s.cfg.Ops.BearerTokenFile != "" {
		if token, err := readBearerTokenFile(s.cfg.Ops.BearerTokenFile); err != nil {
			s.log.Error("reload failed, keeping the current bearer token", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else {
			s.bearer.Set(token)
			s.log.Info("bearer token reloaded")
		}
	}
	if !s.cfg.Keys.Reloadable() {
		s.log.Info("reload: keys come from the environment, nothing to reload (use LIVEKIT_API_SECRET_FILE or LIVEKIT_KEYS_FILE)")
		return errors.Join(errs...)
	}
	ks, err := s.keys.Reload(s.cfg.Keys)
	if err != nil {
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
		return nil, fmt.Errorf("listen on %s (LKTOKEN_METRICS_LISTEN): %w", s.cfg.Ops.MetricsListen, err)
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
