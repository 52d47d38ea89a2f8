package main

import (
	"os"
	"runtime/debug"
)

// defaultGOGC is the garbage collector's target when GOGC is not set: the
// heap may grow 125% over the live heap between collections instead of Go's
// 100%. lktoken's live heap is small (about 3.5 MiB at 100 connections) and
// every request allocates, so at 100 the collector and the goroutine stacks
// it shrinks cost a sixth of a request's instructions; 125 saves ~4% of the
// CPU time per request for ~1 MiB more peak RSS (docs/BENCHMARKS.md, "GC").
// GOGC in the environment still decides.
const defaultGOGC = 125

func init() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGOGC)
	}
}
