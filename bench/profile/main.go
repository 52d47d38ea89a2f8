// Command profile is lktoken's main with CPU and allocation profiling around
// it, for finding what dominates under load (docs/BENCHMARKS.md):
//
//	go build -o /tmp/lkprof ./bench/profile
//	LIVEKIT_API_KEY=... LIVEKIT_API_SECRET=... LIVEKIT_URL=... LKTOKEN_ALLOWED_ORIGINS=... taskset -c 0 /tmp/lkprof -cpuprofile cpu.out -memprofile mem.out -- --listen 127.0.0.1:8080 2>audit.log
//	(drive it with wrk or h2load, then SIGTERM it)
//	go tool pprof -top /tmp/lkprof cpu.out
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/lktoken/lktoken/service/app"
	"github.com/lktoken/lktoken/service/config"
	"github.com/lktoken/lktoken/service/logging"
)

func main() {
	cpuOut := flag.String("cpuprofile", "cpu.out", "CPU profile written at exit")
	memOut := flag.String("memprofile", "mem.out", "allocation profile written at exit")
	memRate := flag.Int("memprofilerate", runtime.MemProfileRate, "runtime.MemProfileRate: lower samples more allocations but costs CPU")
	flag.Parse()
	runtime.MemProfileRate = *memRate
	if err := run(*cpuOut, *memOut, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		os.Exit(1)
	}
}

func run(cpuOut, memOut string, args []string) error {
	cfg, err := config.LoadConfig(args, os.Getenv, os.Stderr)
	if err != nil {
		return err
	}
	out := logging.NewLogWriter(os.Stderr)
	defer out.Close()
	srv := app.New(cfg, logging.New(cfg.LogFormat, cfg.LogLevel, out))
	f, err := os.Create(cpuOut)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = srv.Run(ctx)
	pprof.StopCPUProfile()
	m, merr := os.Create(memOut)
	if merr != nil {
		return merr
	}
	defer m.Close()
	if werr := pprof.Lookup("allocs").WriteTo(m, 0); werr != nil {
		return werr
	}
	return err
}
