// Command lktoken serves LiveKit access tokens. See `lktoken --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/httpserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	var cerr configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &cerr):
		fmt.Fprintf(os.Stderr, "lktoken: refusing to start:\n%v\n", cerr.err)
		os.Exit(2)
	default:
		os.Exit(1)
	}
}

// configError is a configuration the server refuses to start with.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }

// realMain reads the configuration, builds the server and serves until ctx is
// done. Errors after the log exists are logged there.
func realMain(ctx context.Context, args []string) error {
	cfg, err := config.LoadConfig(args, os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return configError{err}
	}
	// Log lines are batched (one write per batch, not per request); the
	// deferred Close hands on the last of them on every way out.
	out := httpserver.NewLogWriter(os.Stderr)
	defer out.Close()
	log := httpserver.NewLogger(cfg, out)
	srv := httpserver.New(cfg, log)
	// SIGHUP reads the key files again; a failed reload keeps the old keys.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = srv.Reload()
		}
	}()
	if err := srv.Run(ctx); err != nil {
		log.Error("server stopped", "error", err.Error())
		return err
	}
	return nil
}
