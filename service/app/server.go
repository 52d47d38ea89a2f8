// Package app composes lktoken from a config.Config: the keyring, the Issuer
// that signs with it, the caller's authentication, the room policy, the
// tracer, the rate limiter (package ratelimit), the mint operation (package pipeline), the routes (package api)
// behind the middleware every request passes (request id, metrics, panic
// recovery, CORS, authentication before the body is read), the readiness
// probe, and the listener (package httpserver) that serves them. It is the
// one place that wires; cmd/lktoken only loads the config, opens the log
// (package logging) and runs an App.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/httpserver"
	"github.com/lktoken/lktoken/service/identity"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/logging"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/oidc"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/ratelimit"
	"github.com/lktoken/lktoken/service/roompolicy"
)

// App is lktoken, composed and ready to serve.
type App struct {
	cfg     config.Config
	log     *slog.Logger
	srv     *httpserver.Server
	handler http.Handler
	keys    *keys.Ring
	ready   *Readiness
	metrics *Metrics
	bearer  *authn.BearerToken // set when the bearer-token mode is on
	oidc    *oidc.Verifier     // set when callers authenticate with OpenID Connect
	ident   *identity.Binder   // the identity mode; its pseudonym key reloads on SIGHUP
	redis   *ratelimit.Redis   // set when the rate limit keeps its budgets in Redis
	// stopTracing flushes spans at the end of Serve; nil without tracing.
	stopTracing func(context.Context) error
}

// refuseAll is the authenticator of a server whose OpenID Connect
// configuration cannot work: fail closed.
type refuseAll struct{ err error }

func (r refuseAll) Authenticate(context.Context, authn.Caller) (*authn.Principal, error) {
	return nil, connect.NewError(connect.CodeUnavailable, errors.New("caller authentication is misconfigured on the server"))
}

// New builds lktoken for cfg, logging to logs (logging.New): the keyring,
// the Issuer that signs with it, the mint operation with the configured
// authentication, the handler that serves it and the server around that.
// The audit log writes its mint lines to logs.Lines directly when it is set.
func New(cfg config.Config, logs logging.Logs) *App {
	log := logs.Log
	ring := keys.NewRing(keys.Set{Signing: cfg.Credentials, IDs: cfg.KeyIDs})
	a := &App{cfg: cfg, log: log, keys: ring, ready: NewReadiness(ring), metrics: NewMetrics()}
	opts := pipeline.Options{
		Issuer:     mint.NewIssuer(ring, cfg.Policy, time.Now),
		Log:        log,
		AuditLines: logs.Lines,
		Now:        time.Now,
		Observer:   a.metrics,
	}
	if cfg.Ops.BearerToken != "" {
		a.bearer = authn.NewBearerToken(string(cfg.Ops.BearerToken))
		opts.Authenticator = a.bearer
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
			a.oidc = v
			opts.Authenticator = v
			a.ready.oidc = func() (bool, string) { st := v.State(); return st.Ready, st.String() }
		}
	}
	if b, err := identity.NewBinder(cfg.Identity.Mode, string(cfg.Identity.Key), nil); err != nil {
		// config.LoadConfig checked it; a hand-made Config that fails must
		// not mint the claims it was meant to hide.
		log.Error("identity mode misconfigured: refusing every caller", slog.String("error", err.Error()))
		opts.Authenticator = refuseAll{err}
	} else {
		a.ident, opts.Identity = b, b
	}
	if cfg.Auth.Policy != nil {
		opts.RoomPolicy = roompolicy.Hook{Policy: cfg.Auth.Policy, Log: log}
	}
	if cfg.RateLimit.Enabled() {
		opts.Limiter, opts.Proxies = a.newLimiter(), cfg.RateLimit.Proxies
	}
	if cfg.Ops.Tracing {
		tracer, stop, err := newTracing()
		if err != nil {
			// Tracing is an aid, not a dependency: serve without it, loudly.
			log.Error("tracing disabled", slog.String("error", err.Error()))
		} else {
			opts.Tracer, a.stopTracing = tracer, stop
		}
	}
	h := NewHandler(pipeline.New(opts), HandlerOptions{
		AllowedOrigins:    cfg.AllowedOrigins,
		MaxRequestBytes:   cfg.MaxRequestBytes,
		TokenEndpointPath: cfg.TokenEndpointPath,
		Log:               log,
		Metrics:           a.metrics,
		Ready:             a.ready,
	})
	a.handler = h
	lim := cfg.Ops.WithDefaults()
	a.srv = httpserver.New(httpserver.Config{
		Listen:               cfg.Listen,
		MetricsListen:        cfg.Ops.MetricsListen,
		ListenSetting:        config.FieldListen,
		MetricsListenSetting: config.FieldMetricsListen,
		Metrics:              a.metrics.Handler(),
		DrainDelay:           cfg.DrainDelay,
		ShutdownTimeout:      cfg.ShutdownTimeout,
		ReadHeaderTimeout:    lim.ReadHeaderTimeout,
		ReadTimeout:          lim.ReadTimeout,
		WriteTimeout:         lim.WriteTimeout,
		IdleTimeout:          lim.IdleTimeout,
		MaxHeaderBytes:       lim.MaxHeaderBytes,
		MaxConcurrentStreams: lim.MaxConcurrentStreams,
		Announce: []slog.Attr{slog.String("livekit_url", cfg.Policy.ServerURL),
			slog.Any("allowed_origins", cfg.AllowedOrigins), slog.String("token_endpoint", cfg.TokenEndpointPath)},
	}, h, a.ready, log)
	return a
}

// newLimiter composes the rate limiter: in memory, or in the configured Redis.
func (a *App) newLimiter() *ratelimit.Limiter {
	rc := a.cfg.RateLimit
	lo := ratelimit.Options{Policy: rc.Policy, FailClosed: rc.FailClosed, Log: a.log, Observer: a.metrics, Store: ratelimit.NewMemory()}
	if rc.RedisURL != "" {
		r, err := ratelimit.NewRedis(ratelimit.RedisOptions{URL: rc.RedisURL, Password: string(rc.RedisPassword)})
		if err != nil {
			// config.LoadConfig checked the URL; a hand-made Config that
			// fails keeps each replica's budgets in memory, loudly.
			a.log.Error("rate limit: Redis misconfigured, keeping budgets in memory", slog.String("error", err.Error()))
		} else {
			a.redis, lo.Store = r, r
		}
	}
	l := ratelimit.New(lo)
	if a.redis != nil {
		a.ready.rateStore = l.Unreachable
	}
	return l
}

// Run listens on the configured address and serves until ctx is done, then
// drains (httpserver.Server.Run).
func (a *App) Run(ctx context.Context) error {
	ln, err := a.srv.Listen()
	if err != nil {
		a.stop()
		return err
	}
	return a.Serve(ctx, ln)
}

// Serve is Run on a listener the caller opened.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	a.announce()
	defer a.stop()
	return a.srv.Serve(ctx, ln)
}

// announce logs what an operator must know before the first request.
func (a *App) announce() {
	if a.cfg.Dev {
		a.log.Warn("DEVELOPMENT MODE: tokens are signed with LiveKit's public dev credentials; never expose this server",
			slog.String("api_key", a.cfg.Credentials.APIKey), slog.String("livekit_url", a.cfg.Policy.ServerURL))
	}
	if a.oidc != nil {
		a.log.Info("callers authenticate with OpenID Connect", slog.String("issuer", a.cfg.Auth.OIDC.Issuer),
			slog.String("audience", a.cfg.Auth.OIDC.Audience), slog.Bool("room_policy", a.cfg.Auth.Policy != nil),
			slog.String("identity_mode", a.cfg.Identity.Mode.String()))
	}
	if rc := a.cfg.RateLimit; rc.Enabled() {
		store := "memory (per replica)"
		if a.redis != nil {
			store = "redis " + rc.RedisURL
		}
		a.log.Info("rate limit", slog.String("policy", rc.Policy.String()), slog.String("store", store), slog.Bool("fail_closed", rc.FailClosed))
	}
}

// stop releases what New started once serving ends: the provider's key
// refresh, the Redis connections, and the spans still buffered.
func (a *App) stop() {
	if a.oidc != nil {
		a.oidc.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.stopTracing == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.stopTracing(ctx); err != nil {
		a.log.Warn("tracing: spans not flushed", slog.String("error", err.Error()))
	}
}

// Handler is what the server serves: every route behind the middleware.
func (a *App) Handler() http.Handler { return a.handler }

// SkipDrainDelay ends the drain delay now, or makes a drain that has not
// begun skip it: for an interactive stop (Ctrl-C) or a second signal.
func (a *App) SkipDrainDelay() { a.srv.SkipDrainDelay() }

// Reload reads the keys, and the bearer token, the pseudonym key and the
// Redis password when they come from files, again, and refreshes the OpenID
// Connect provider's key set (SIGHUP). The swap is atomic: a request signs with either the old or
// the new key, never fails for the reload. On error the current keys stay and
// the reason is logged; the reason never contains a secret.
func (a *App) Reload() error {
	var errs []error
	if a.bearer != nil && a.cfg.Ops.BearerTokenFile != "" {
		if token, err := config.ReadBearerTokenFile(a.cfg.Ops.BearerTokenFile); err != nil {
			err = a.cfg.Explain(err)
			a.log.Error("reload failed, keeping the current bearer token", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else {
			a.bearer.Set(token)
			a.log.Info("bearer token reloaded")
		}
	}
	if a.ident != nil && a.cfg.Identity.KeyFile != "" {
		if key, err := config.ReadPseudonymKeyFile(a.cfg.Identity.KeyFile); err != nil {
			err = a.cfg.Explain(err)
			a.log.Error("reload failed, keeping the current pseudonym key", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else if err := a.ident.SetKey(key); err != nil {
			errs = append(errs, err) // ReadPseudonymKeyFile checked it
		} else {
			a.log.Info("pseudonym key reloaded")
		}
	}
	if a.redis != nil && a.cfg.RateLimit.RedisPasswordFile != "" {
		if pw, err := config.ReadRedisPasswordFile(a.cfg.RateLimit.RedisPasswordFile); err != nil {
			err = a.cfg.Explain(err)
			a.log.Error("reload failed, keeping the current Redis password", slog.String("error", err.Error()))
			errs = append(errs, err)
		} else {
			a.redis.SetPassword(pw)
			a.log.Info("Redis password reloaded")
		}
	}
	if a.oidc != nil {
		// The provider's key set too, at once: an operator who knows the
		// provider rotated need not wait for the next refresh. It logs.
		errs = append(errs, a.oidc.Refresh(context.Background()))
	}
	if !a.cfg.Keys.Reloadable() {
		a.log.Info("reload: " + a.cfg.Explain(keys.ErrNotReloadable).Error())
		return errors.Join(errs...)
	}
	ks, err := a.keys.Reload(a.cfg.Keys)
	if err != nil {
		err = a.cfg.Explain(err)
		a.log.Error("reload failed, keeping the current keys", slog.String("error", err.Error()),
			slog.String("signing_key", a.keys.Signing().APIKey))
		return errors.Join(append(errs, err)...)
	}
	a.log.Info("keys reloaded", slog.String("signing_key", ks.Signing.APIKey), slog.Any("key_ids", ks.IDs))
	return errors.Join(errs...)
}
