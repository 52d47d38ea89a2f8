//go:build profile

package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

// With -tags profile, -cpuprofile FILE profiles the floor until SIGTERM, for
// comparing its profile with lktoken's (bench/profile, docs/BENCHMARKS.md).
// It is a build tag, not a flag of the default build, so that the floor
// measured by `make bench` does not link runtime/pprof (which turns on the
// runtime's allocation sampling).
var cpuProfile = flag.String("cpuprofile", "", "write a CPU profile here until SIGTERM")

func init() {
	startProfile = func() {
		if *cpuProfile == "" {
			return
		}
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		go func() {
			<-sig
			pprof.StopCPUProfile()
			_ = f.Close()
			os.Exit(0)
		}()
	}
}
