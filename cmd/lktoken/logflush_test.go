package main

import (
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The audit log is batched, yet every answered request has its line once the
// process has exited after SIGTERM: nothing is dropped at shutdown.
func TestEveryAuditLineIsWrittenByShutdown(t *testing.T) {
	t.Parallel()
	p := start(t, nil, "--dev")
	const requests = 300
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan string, requests)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range requests / 10 {
				resp, err := client.Post("http://"+p.Addr+"/lktoken.v1.TokenService/GenerateToken", "application/json",
					strings.NewReader(`{"roomName":"standup","participantIdentity":"user-42"}`))
				if err != nil {
					errs <- err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					errs <- resp.Status
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
	logs := p.Logs()
	if n := strings.Count(logs, `"msg":"mint"`); n != requests {
		t.Errorf("%d audit lines, want %d", n, requests)
	}
	if !strings.HasSuffix(logs, `"msg":"stopped"}`+"\n") {
		t.Errorf("the last line is not the clean stop:\n%s", logs[max(0, len(logs)-500):])
	}
}
