// Command pause is the pod sandbox's process (the "pause" image): it holds the
// pod's namespaces and exits on SIGTERM or SIGINT. Built static and put in an
// image FROM scratch by the suite, because no registry is reachable here.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	// As PID 1 of a shared process namespace it would reap orphans: SIGCHLD
	// is left to the default, which reaps nothing, so reap on demand.
	signal.Notify(sig, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
