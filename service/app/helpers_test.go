package app

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/pipeline"
)

var testCreds = keys.Credentials{APIKey: "APItestkey", APISecret: "0123456789abcdef0123456789abcdef-test-secret"}

// testIssuer signs with creds under policy.
func testIssuer(creds keys.Credentials, policy mint.Policy) *mint.Issuer {
	return mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), policy, time.Now)
}

// testHandler is NewHandler for cfg over a mint operation signing with cfg's
// credentials; op adds hooks to the operation (nil: none).
func testHandler(cfg config.Config, log *slog.Logger, metrics *Metrics, op *pipeline.Options) http.Handler {
	opts := pipeline.Options{}
	if op != nil {
		opts = *op
	}
	opts.Issuer, opts.Log, opts.Now = testIssuer(cfg.Credentials, cfg.Policy), log, time.Now
	if metrics != nil {
		opts.Observer = metrics
	}
	return NewHandler(pipeline.New(opts), HandlerOptions{
		AllowedOrigins: cfg.AllowedOrigins, MaxRequestBytes: cfg.MaxRequestBytes, TokenEndpointPath: cfg.TokenEndpointPath,
		Log: log, Metrics: metrics,
	})
}
