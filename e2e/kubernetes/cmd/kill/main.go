// Command kill is `kill -SIGNAL PID...` and nothing else: the one command
// docs/deploy.md runs in a debug container (`kubectl debug ... -- kill -HUP
// 1`). The suite puts it, static, in an image FROM scratch that stands in for
// busybox, which cannot be pulled here.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

var signals = map[string]syscall.Signal{"HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL}

func main() {
	args := os.Args[1:]
	sig := syscall.SIGTERM
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		s, ok := signals[strings.TrimPrefix(strings.TrimPrefix(args[0], "-"), "SIG")]
		if !ok {
			fmt.Fprintf(os.Stderr, "kill: unknown signal %s\n", args[0])
			os.Exit(2)
		}
		sig, args = s, args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: kill [-HUP|-TERM|-INT|-KILL] PID...")
		os.Exit(2)
	}
	status := 0
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err == nil {
			err = syscall.Kill(pid, sig)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "kill %s: %v\n", a, err)
			status = 1
		}
	}
	os.Exit(status)
}
