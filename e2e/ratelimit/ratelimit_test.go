// Package ratelimit proves lktoken's per-caller rate limit with the real
// binary, Debian's redis-server and HAProxy, all on loopback: one replica
// allows burst + rate × time (± 1) and answers the rest 429 with a
// Retry-After that is honoured, in memory and in Redis; three replicas
// behind HAProxy share one budget through Redis (in memory they allow about
// three times as much); a Redis restart under load loses no request when
// failing open, and answers 503 during the outage, recovering on its own,
// when failing closed; distinct callers do not share budgets; a forged
// token never draws from a verified subject's budget (Ory Hydra); bad
// settings refuse to start.
//
// Each test is its own caller: a distinct client address, sent in
// X-Forwarded-For, which lktoken trusts from 127.0.0.1 (HAProxy, or the test
// itself). Skipped under -short.
package ratelimit

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

// The limit the window tests use: a burst of 4, then 5 a second (one per
// 200 ms), so that a few milliseconds of scheduling noise move a count by
// at most one.
const (
	rate   = 5
	burst  = 4
	window = 2 * time.Second
)

type servers struct {
	bin, hap string
	redis    *harness.Redis
	creds    harness.Credentials
}

var suite harness.Suite[*servers]

func TestMain(m *testing.M) { suite.Main(m) }

func env(t *testing.T) *servers {
	t.Helper()
	if testing.Short() {
		t.Skip("starts redis-server, haproxy and lktoken replicas (-short)")
	}
	return suite.Get(t, func(ctx context.Context, td *harness.Teardown) (*servers, error) {
		s := &servers{creds: harness.NewCredentials()}
		redisBin, err := harness.RedisBinary()
		if err != nil {
			return nil, harness.ServersUnavailable(err)
		}
		if s.hap, err = harness.HAProxyBinary(); err != nil {
			return nil, harness.ServersUnavailable(err)
		}
		dir, err := td.TempDir("lktoken-e2e-ratelimit-")
		if err != nil {
			return nil, err
		}
		if s.bin, err = harness.BuildLKToken(ctx, dir); err != nil {
			return nil, err
		}
		if s.redis, err = harness.StartRedis(ctx, redisBin, ""); err != nil {
			return nil, err
		}
		td.Add(s.redis.Stop)
		return s, nil
	})
}

// start starts one lktoken with the rate limit settings in env, trusting
// 127.0.0.1 as a proxy; it stops when the test ends.
func (s *servers) start(t *testing.T, env ...string) *harness.LKToken {
	t.Helper()
	lt, err := harness.StartLKToken(context.Background(), s.bin, harness.LKTokenOptions{
		Credentials: s.creds, LiveKitURL: "ws://127.0.0.1:7880",
		Env: append([]string{"LKTOKEN_TRUSTED_PROXIES=127.0.0.1", "LKTOKEN_DRAIN_DELAY=0"}, env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lktoken output (last lines):\n%s", harness.Tail(lt.Logs(), 20))
		}
		_ = lt.Stop()
	})
	return lt
}

// fleet starts n replicas with env behind HAProxy and returns its URL.
func (s *servers) fleet(t *testing.T, n int, env ...string) (string, []*harness.LKToken) {
	t.Helper()
	var lts []*harness.LKToken
	var backends []string
	for range n {
		lt := s.start(t, env...)
		lts = append(lts, lt)
		backends = append(backends, strings.TrimPrefix(lt.URL, "http://"))
	}
	hap, err := harness.StartHAProxy(context.Background(), s.hap, harness.HAProxyOptions{Backends: backends})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hap.Stop() })
	for i := range n {
		if err := hap.WaitServer(context.Background(), fmt.Sprintf("s%d", i+1), "UP", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return hap.URL, lts
}

func limitEnv(rate string, burst int) []string {
	return []string{"LKTOKEN_RATE_LIMIT=" + rate, "LKTOKEN_RATE_BURST=" + strconv.Itoa(burst)}
}

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

// answer is one response: its status and Retry-After.
type answer struct {
	status     int
	retryAfter string
	body       string
}

// mint asks base for a token as the caller at address from, alternating
// the Connect route and /api/token.
func mint(base, from string, n int) (answer, error) {
	path, body := "/lktoken.v1.TokenService/GenerateToken", `{"roomName":"rl","participantIdentity":"p`+strconv.Itoa(n)+`"}`
	if n%2 == 1 {
		path, body = "/api/token", `{"room_name":"rl"}`
	}
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", from)
	resp, err := client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: harness.Redact(string(b))}, nil
}

func ok(status int) bool { return status == http.StatusOK || status == http.StatusCreated }

// countWindow sends a request every 20 ms for window as the caller from and
// returns how many were allowed and the elapsed time between the first and
// the last; every refusal must be a 429 with Retry-After 1 (the wait, at
// most 200 ms, rounded up).
func countWindow(t *testing.T, base, from string) (allowed int, elapsed time.Duration) {
	t.Helper()
	start := time.Now()
	var last time.Time
	for n := 0; time.Since(start) < window; n++ {
		last = time.Now()
		a, err := mint(base, from, n)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case ok(a.status):
			allowed++
		case a.status != http.StatusTooManyRequests || a.retryAfter != "1":
			t.Fatalf("request %d: %d with Retry-After %q: %s; want a token or 429 with Retry-After 1", n, a.status, a.retryAfter, a.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return allowed, last.Sub(start)
}

// budget is what one caller may get in elapsed: the burst at once, then one
// each full interval.
func budget(elapsed time.Duration) float64 {
	return burst + math.Floor(rate*elapsed.Seconds()) // one more each full interval
}

func within(got int, want float64, tolerance float64) bool {
	return float64(got) >= want-tolerance && float64(got) <= want+tolerance
}

// TestOneReplica: the allowed count in a window is burst + rate × time
// (± 1), every other answer is a 429 whose Retry-After is honoured, in
// memory and in Redis.
func TestOneReplica(t *testing.T) {
	s := env(t)
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			env := limitEnv(strconv.Itoa(rate)+"/s", burst)
			if store == "redis" {
				env = append(env, "LKTOKEN_RATE_LIMIT_REDIS_URL="+s.redis.URL)
			}
			lt := s.start(t, env...)
			from := "192.0.2.1" + map[string]string{"memory": "1", "redis": "2"}[store]
			allowed, elapsed := countWindow(t, lt.URL, from)
			if !within(allowed, budget(elapsed), 1) {
				t.Errorf("allowed %d in %v, want burst + rate × time = %.1f (± 1)", allowed, elapsed, budget(elapsed))
			}
			t.Logf("%s: %d allowed in %v (burst + rate × time = %.1f)", store, allowed, elapsed.Round(time.Millisecond), budget(elapsed))
			// Spend the budget, then honour Retry-After: the retry succeeds.
			var refused answer
			for n := 0; ; n++ {
				a, err := mint(lt.URL, from, n)
				if err != nil {
					t.Fatal(err)
				}
				if a.status == http.StatusTooManyRequests {
					refused = a
					break
				}
			}
			wait, _ := strconv.Atoi(refused.retryAfter)
			time.Sleep(time.Duration(wait) * time.Second)
			if a, err := mint(lt.URL, from, 0); err != nil || !ok(a.status) {
				t.Fatalf("after waiting Retry-After %q: %d %v %s", refused.retryAfter, a.status, err, a.body)
			}
		})
	}
}

// TestFleetSharesOneBudget: three replicas behind HAProxy with one Redis
// give one caller, spread over all three, the one budget (± 1); another
// caller has its own. In memory each replica keeps its own budget, so the
// same fleet allows about three times as much.
func TestFleetSharesOneBudget(t *testing.T) {
	s := env(t)
	env := limitEnv(strconv.Itoa(rate)+"/s", burst)
	url, _ := s.fleet(t, 3, append(env, "LKTOKEN_RATE_LIMIT_REDIS_URL="+s.redis.URL)...)
	allowed, elapsed := countWindow(t, url, "198.51.100.1")
	if !within(allowed, budget(elapsed), 1) {
		t.Errorf("Redis fleet: allowed %d in %v, want one budget %.1f (± 1)", allowed, elapsed, budget(elapsed))
	}
	t.Logf("Redis, 3 replicas: %d allowed in %v (one budget: %.1f)", allowed, elapsed.Round(time.Millisecond), budget(elapsed))
	// Another caller, right after: a budget of its own.
	other := 0
	for n := range burst {
		if a, err := mint(url, "198.51.100.2", n); err == nil && ok(a.status) {
			other++
		}
	}
	if other != burst {
		t.Errorf("a second caller got %d of its burst of %d", other, burst)
	}

	memURL, _ := s.fleet(t, 3, env...)
	allowed, elapsed = countWindow(t, memURL, "198.51.100.3")
	if want := 3 * budget(elapsed); !within(allowed, want, 3) {
		t.Errorf("memory fleet: allowed %d in %v, want about three budgets %.1f (± 3)", allowed, elapsed, want)
	}
	t.Logf("memory, 3 replicas: %d allowed in %v (three budgets: %.1f)", allowed, elapsed.Round(time.Millisecond), 3*budget(elapsed))
}

// load sends requests through url from workers callers until stopped,
// recording each answer's status (0: a transport error).
type load struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []int
	at      []time.Time
	n       atomic.Int64
}

func startLoad(url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				n := int(l.n.Add(1))
				a, err := mint(url, fmt.Sprintf("203.0.113.%d", w+1), n)
				if err != nil {
					a.status = 0
				}
				l.mu.Lock()
				l.results, l.at = append(l.results, a.status), append(l.at, time.Now())
				l.mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	return l
}

func (l *load) finish() ([]int, []time.Time) {
	close(l.stop)
	l.wg.Wait()
	return l.results, l.at
}

// TestRedisRestartUnderLoad: Redis stops for a second and comes back while
// requests flow through HAProxy to three replicas. Failing open, not one
// request fails; failing closed, requests get 503 during the outage and
// tokens again once Redis is back, without any restart of lktoken.
func TestRedisRestartUnderLoad(t *testing.T) {
	s := env(t)
	for _, mode := range []string{"open", "closed"} {
		t.Run(mode, func(t *testing.T) {
			// A limit no worker reaches: every refusal is the outage's.
			env := append(limitEnv("100000/s", 100000), "LKTOKEN_RATE_LIMIT_REDIS_URL="+s.redis.URL, "LKTOKEN_RATE_LIMIT_FAILURE="+mode)
			url, lts := s.fleet(t, 3, env...)
			l := startLoad(url, 4)
			time.Sleep(time.Second)
			if err := s.redis.Halt(); err != nil {
				t.Fatal(err)
			}
			down := time.Now()
			time.Sleep(time.Second)
			if err := s.redis.Resume(context.Background()); err != nil {
				t.Fatal(err)
			}
			up := time.Now()
			time.Sleep(2 * time.Second)
			results, at := l.finish()
			counts := map[int]int{}
			lastFailure := time.Time{}
			for i, st := range results {
				counts[st]++
				if !ok(st) {
					lastFailure = at[i]
				}
			}
			t.Logf("fail %s: %d requests while Redis restarted: %v (status: count)", mode, len(results), counts)
			switch mode {
			case "open":
				if counts[200]+counts[201] != len(results) {
					t.Errorf("failing open, %d of %d requests failed: %v", len(results)-counts[200]-counts[201], len(results), counts)
				}
			case "closed":
				if counts[503] == 0 || counts[200]+counts[201]+counts[503] != len(results) {
					t.Errorf("failing closed: %v, want tokens and 503s only, some 503s", counts)
				}
				// Recovered on its own: within a second of Redis being back
				// (the probe runs every 500 ms), nothing fails.
				if lastFailure.After(up.Add(time.Second)) {
					t.Errorf("a request failed %v after Redis was back", lastFailure.Sub(up))
				}
				if lastFailure.Before(down) {
					t.Errorf("a request failed before the outage")
				}
			}
			// One line per change of state: "unreachable" and "reachable
			// again" alternate, never the same twice in a row. (A restart
			// may show a replica more than one outage: Redis can answer
			// for a moment while it stops or starts.)
			for i, lt := range lts {
				down := false
				for _, line := range strings.Split(lt.Logs(), "\n") {
					switch {
					case strings.Contains(line, `"msg":"rate limit store unreachable"`):
						if down {
							t.Errorf("replica %d logged one outage twice", i+1)
						}
						down = true
					case strings.Contains(line, `"msg":"rate limit store reachable again"`):
						if !down {
							t.Errorf("replica %d logged a recovery without an outage", i+1)
						}
						down = false
					}
				}
			}
		})
	}
}

// TestBadSettingsRefuseToStart: a wrong Redis URL, an unknown rate syntax
// or a burst of 0 stop lktoken at start with a message naming the setting.
func TestBadSettingsRefuseToStart(t *testing.T) {
	s := env(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--rate-limit", "20/min", "--rate-limit-redis-url", "http://cache:6379"}, `--rate-limit-redis-url "http://cache:6379": the scheme "http" is not redis:// or rediss:// (TLS)`},
		{[]string{"--rate-limit", "20/fortnight"}, `--rate-limit "20/fortnight": unknown unit "fortnight"`},
		{[]string{"--rate-limit", "20/min", "--rate-burst", "0"}, `--rate-burst "0": must be a whole number of requests from 1 to 1000000`},
	} {
		cmd := exec.Command(s.bin, append([]string{"--dev", "--listen", "127.0.0.1:0"}, c.args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%v: %v\n%s\nwant a refusal saying %q", c.args, err, out, c.want)
		}
	}
}

// TestForgedTokenSparesTheSubjectsBudget: with callers verified by Ory
// Hydra, tokens that claim a subject but are forged (a flipped signature)
// or refused (another audience) get 401 and never draw from that subject's
// budget, kept in Redis: the subject still gets its whole burst.
func TestForgedTokenSparesTheSubjectsBudget(t *testing.T) {
	s := env(t)
	ctx := context.Background()
	hydraBin, err := harness.HydraBinary(ctx)
	if err != nil {
		harness.Unavailable(t, err)
	}
	hydra, err := harness.StartHydra(ctx, hydraBin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hydra.Stop() })
	const aud = "lktoken-ratelimit"
	hc, err := hydra.CreateClient(ctx, aud, "another-api")
	if err != nil {
		t.Fatal(err)
	}
	good, err := hydra.Token(ctx, hc, aud)
	if err != nil {
		t.Fatal(err)
	}
	otherAud, err := hydra.Token(ctx, hc, "another-api")
	if err != nil {
		t.Fatal(err)
	}
	// The same header and claims (the same subject), another signature.
	dot := strings.LastIndexByte(good, '.')
	sig := []byte(good[dot+1:])
	sig[len(sig)/2] ^= 'A' ^ 'B'
	forged := good[:dot+1] + string(sig)

	lt := s.start(t, append(limitEnv("1/h", 3), "LKTOKEN_RATE_LIMIT_REDIS_URL="+s.redis.URL,
		"LKTOKEN_OIDC_ISSUER="+hydra.Issuer, "LKTOKEN_OIDC_AUDIENCE="+aud)...)
	call := func(token string) int {
		req, _ := http.NewRequest(http.MethodPost, lt.URL+"/lktoken.v1.TokenService/GenerateToken", strings.NewReader(`{"roomName":"rl"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(10 * time.Second)
	for call(otherAud) == http.StatusServiceUnavailable && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // Hydra's keys not loaded yet
	}
	for _, tok := range []string{forged, otherAud} {
		for range 5 {
			if st := call(tok); st != http.StatusUnauthorized {
				t.Fatalf("a refused token: %d, want 401", st)
			}
		}
	}
	for i, want := range []int{200, 200, 200, 429} {
		if st := call(good); st != want {
			t.Fatalf("the subject's request %d: %d, want %d (its budget is a burst of 3)", i+1, st, want)
		}
	}
}
