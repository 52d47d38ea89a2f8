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

	"github.com/lktoken/lktoken/service"
)

func main() {
	cfg, err := service.LoadConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "lktoken: refusing to start:\n%v\n", err)
		os.Exit(2)
	}
	// Log lines are batched (one write per batch, not per request); every
	// exit path below closes out so that none is lost.
	out := service.NewLogWriter(os.Stderr)
	log := service.NewLogger(cfg, out)
	srv, err := service.NewServer(cfg, log)
	if err != nil {
		_ = out.Close()
		fmt.Fprintf(os.Stderr, "lktoken: %v\n", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reads the key files again; a failed reload keeps the old keys.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = srv.Reload()
		}
	}()
	if err := srv.Run(ctx); err != nil {
		log.Error("server stopped", "error", err.Error())
		_ = out.Close()
		os.Exit(1)
	}
	_ = out.Close()
}
