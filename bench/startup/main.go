// Command startup measures lktoken's start-up as a client sees it: the time
// from exec of the binary to the first successful GenerateToken answer. It
// runs the binary -runs times on free loopback ports and prints each time
// and the median. Credentials come from the environment it is given.
package main

import (
	"bytes"
	"context"
	"encoding/json"
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

	var times, listening []time.Duration
	for i := 0; i < *runs; i++ {
		d, l, err := once(*bin, *cpu)
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		times, listening = append(times, d), append(listening, l)
	}
	slices.Sort(listening)
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	fmt.Printf("startup_ms median=%.1f min=%.1f max=%.1f listening_median=%.1f runs=", ms(sorted[len(sorted)/2]), ms(sorted[0]), ms(sorted[len(sorted)-1]), ms(listening[len(listening)/2]))
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
// and returns the time from exec to that token, and to the moment its
// "listening" log line says it was ready (the line's own timestamp).
func once(bin, cpu string) (token, listening time.Duration, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	addr := ln.Addr().String()
	ln.Close()

	args := []string{bin, "--listen", addr}
	if cpu != "" {
		args = append([]string{"taskset", "-c", cpu}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	// The log is read once the process has exited; a pipe drained by os/exec
	// costs the server no more than a terminal or a file would.
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &logs
	// A fresh connection per attempt, as a first client would have.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Second}
	body := []byte(`{"roomName":"standup-room-42","participantIdentity":"user-42@example.com","participantName":"Ada Lovelace"}`)
	url := "http://" + addr + "/lktoken.v1.TokenService/GenerateToken"

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	token, err = poll(client, url, body, exited)
	if token > 0 {
		token -= time.Duration(start.UnixNano())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if err != nil {
		return 0, 0, fmt.Errorf("%w; log: %s", err, logs.String())
	}
	var line struct {
		Time time.Time
		Msg  string
	}
	for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if json.Unmarshal(l, &line) == nil && line.Msg == "listening" {
			listening = line.Time.Sub(start)
			break
		}
	}
	return token, listening, nil
}

// poll asks for a token until one comes back and returns the Unix time in
// nanoseconds when it did.
func poll(client *http.Client, url string, body []byte, exited chan struct{}) (time.Duration, error) {
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
				return time.Duration(time.Now().UnixNano()), nil
			}
			return 0, fmt.Errorf("answer %d: %.200s", resp.StatusCode, raw)
		}
		select {
		case <-exited:
			return 0, errors.New("lktoken exited before answering")
		default:
		}
		if ctx.Err() != nil {
			return 0, errors.New("no token within 10s")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
