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
	flag.StringVar(&expect, "expect", expect, "what a successful answer contains (the floor's token is not a JWT)")
	flag.Parse()

	var token, listening, cpuTime []time.Duration
	for i := 0; i < *runs; i++ {
		r, err := once(*bin, *cpu)
		if err != nil {
			fmt.Fprintf(os.Stderr, "startup: run %d: %v\n", i+1, err)
			os.Exit(1)
		}
		token, listening, cpuTime = append(token, r.token), append(listening, r.listening), append(cpuTime, r.cpu)
	}
	fmt.Printf("startup_ms median=%.1f min=%.1f max=%.1f listening_median=%.1f cpu_median=%.1f runs=",
		median(token), ms(slices.Min(token)), ms(slices.Max(token)), median(listening), median(cpuTime))
	for i, t := range token {
		if i > 0 {
			fmt.Print(",")
		}
		fmt.Printf("%.1f", ms(t))
	}
	fmt.Println()
}

// expect is what a successful answer's body contains: a JWT by default.
var expect = `"token":"eyJ`

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return ms(s[len(s)/2])
}

// result is one cold start: exec to first token, exec to the "listening"
// log line (by the line's own timestamp), and the CPU time (user + system)
// the process used in its whole life, start, one request and shutdown: the
// figure a busy machine does not inflate.
type result struct{ token, listening, cpu time.Duration }

// once starts the binary, polls until a token comes back and stops it.
func once(bin, cpu string) (result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return result{}, err
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
		return result{}, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	answered, err := poll(client, url, body, exited)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if err != nil {
		return result{}, fmt.Errorf("%w; log: %s", err, logs.String())
	}
	r := result{token: answered.Sub(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	var line struct {
		Time time.Time
		Msg  string
	}
	for _, l := range bytes.Split(logs.Bytes(), []byte("\n")) {
		if json.Unmarshal(l, &line) == nil && line.Msg == "listening" {
			r.listening = line.Time.Sub(start)
			break
		}
	}
	return r, nil
}

// poll asks for a token until one comes back and returns when it did.
func poll(client *http.Client, url string, body []byte, exited chan struct{}) (time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && bytes.Contains(raw, []byte(expect)) {
				return time.Now(), nil
			}
			return time.Time{}, fmt.Errorf("answer %d: %.200s", resp.StatusCode, raw)
		}
		select {
		case <-exited:
			return time.Time{}, errors.New("lktoken exited before answering")
		default:
		}
		if ctx.Err() != nil {
			return time.Time{}, errors.New("no token within 10s")
		}
		time.Sleep(200 * time.Microsecond)
	}
}
