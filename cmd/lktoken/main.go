// Command lktoken serves LiveKit access tokens. See `lktoken --help`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/lktoken/lktoken/service/app"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/httpserver"
	"github.com/lktoken/lktoken/service/logging"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		if err := healthcheck(os.Args[2:], os.Getenv); err != nil {
			fmt.Fprintf(os.Stderr, "lktoken healthcheck: %v\n", err)
			os.Exit(1)
		}
		return
	}
	// Caught from the start: a signal that arrives while the server is
	// being built stops it as soon as it runs.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	err := realMain(sigs, os.Args[1:])
	signal.Stop(sigs)
	var cerr configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, config.ErrVersion):
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

// realMain reads the configuration, builds the server and serves until a
// signal arrives on sigs. Errors after the log exists are logged there.
func realMain(sigs <-chan os.Signal, args []string) error {
	cfg, err := config.LoadConfig(args, os.Getenv, os.Stdout)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if errors.Is(err, config.ErrVersion) {
		fmt.Println(version())
		return err
	}
	if err != nil {
		return configError{err}
	}
	// Log lines are batched (one write per batch, not per request); the
	// deferred Close hands on the last of them on every way out.
	out := logging.NewLogWriter(os.Stderr)
	defer out.Close()
	logs := logging.New(cfg.LogFormat, cfg.LogLevel, out)
	log := logs.Log
	srv := app.New(cfg, logs)
	// SIGTERM (an orchestrator, a balancer's host) drains: not ready, still
	// serving for the drain delay, then the shutdown. SIGINT (Ctrl-C: nobody
	// balances onto a terminal) or a second signal skips the delay.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		if sig := <-sigs; sig == os.Interrupt {
			srv.SkipDrainDelay()
		}
		stop()
		<-sigs
		srv.SkipDrainDelay()
	}()
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
		// An address that cannot be listened on is a configuration error.
		var le *httpserver.ListenError
		if errors.As(err, &le) {
			var op *net.OpError
			if errors.As(le.Err, &op) {
				le.Err = op.Err // "bind: address already in use", without the address again
			}
			return configError{fmt.Errorf("%s %q: cannot listen there: %w", cfg.Name(le.Setting), le.Addr, le.Err)}
		}
		log.Error("server stopped", "error", err.Error())
		return err
	}
	return nil
}

// version is the module version and the commit the binary was built from,
// as the go command recorded them in its build information.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "lktoken: no build information"
	}
	return versionOf(bi)
}

// versionOf formats bi as "lktoken <module version>[, commit <hash>[ of
// <time>][, with uncommitted changes]], <go version>". The commit is there
// when the build ran in a git checkout with -buildvcs (the default, auto,
// outside git worktrees).
func versionOf(bi *debug.BuildInfo) string {
	v := "lktoken " + bi.Main.Version
	var commit, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if commit != "" {
		v += ", commit " + commit
		if at != "" {
			v += " of " + at
		}
		if modified {
			v += ", with uncommitted changes"
		}
	}
	return v + ", " + bi.GoVersion
}
