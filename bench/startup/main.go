// Command startup measures lktoken's start-up as a client sees it: the time
// from exec of the binary to the first successful GenerateToken answer. It
// runs the binary -runs times on free loopback ports and prints each time
// and the median. Credentials come from the environment it is given.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/lktoken", "the lktoken binary")
	runs := flag.Int("runs", 10, "how many cold starts to time")
	cpu := flag.String("taskset", "", "CPU list to pin the server to (taskset -c), empty for none")
	flag.Parse()

	var times []time.Duration
	for i := 0; i < *runs; i++ {
		d, err := once(*bin, *cpu)
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		times = append(times, d)
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	fmt.Printf("startup_ms median=%.1f min=%.1f max=%.1f runs=", ms(sorted[len(sorted)/2]), ms(sorted[0]), ms(sorted[len(sorted)-1]))
	for i, t := range times {
		if i > 0 {
			fmt.Print(",")
		}
		fmt.Printf("%.1f", ms(t))
	}
	fmt.Println()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// once starts the binary, polls until a token comes back, stops the binary
// and returns the time from exec to that token.
func once(bin, cpu string) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()
	ln.Close()

	args := []string{bin, "--listen", addr}
	if cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = nil, nil // /dev/null: the log is not what is timed
	// A fresh connection per attempt, as a first client would have.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	body := []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`)
	url := "http://" + addr + "/lktoken.v1.TokenService/GenerateToken"

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(raw, []byte(`"token":"eyJ`)) {
				return time.Since(start), nil
			}
			return 0, fmt.Errorf("answer %d: %.200s", resp.StatusCode, raw)
		}
		if ctx.Err() != nil {
			return 0, errors.New("no token within 10s")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
