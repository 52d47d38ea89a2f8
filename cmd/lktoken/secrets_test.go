package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/livekit/protocol/auth"

	"github.com/lktoken/lktoken/internal/testserver"
)

// Secrets of the rotation test: random-looking, at least 32 characters.
const (
	secretA1 = "kA1-9f8e7d6c5b4a3928171605f4e3d2c1b0a99"
	secretA2 = "kA2-0a1b2c3d4e5f60718293a4b5c6d7e8f9f11"
	secretA3 = "kA3-5e4d3c2b1a09f8e7d6c5b4a39281706f22"
	secretB  = "kB-aa55bb66cc77dd88ee99ff00112233445566"
	weak     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // long but one character
)

// writeKeys writes a key (or bearer-token) file with a rename.
func writeKeys(t *testing.T, path, content string) { testserver.WriteFile(t, path, content) }

// whichSecret returns the secret among candidates that verifies token.
func whichSecret(token string, candidates ...string) (string, *auth.ClaimGrants) {
	for _, s := range candidates {
		v, err := auth.ParseAPIToken(token)
		if err != nil {
			return "", nil
		}
		if _, g, err := v.Verify(s); err == nil && v.APIKey() == "keyA" {
			return s, g
		}
	}
	return "", nil
}

func TestWeakSecretsAreRefusedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	writeKeys(t, path, "keyA: "+secretA1+"\nkeyB: "+weak+"\n")
	out, code := run(t, []string{"LIVEKIT_KEYS_FILE=" + path, "LIVEKIT_API_KEY=keyA", "LIVEKIT_URL=wss://lk.example.com", appOrigin})
	want := "lktoken: refusing to start:\nLIVEKIT_KEYS_FILE " + path + ": the secret of key \"keyB\" is too weak: only 1 distinct characters, it must have at least 8 (generate one with `openssl rand -base64 48`)\n"
	if code != 2 || out != want {
		t.Errorf("exit %d:\n%s\nwant:\n%s", code, out, want)
	}
	out, code = run(t, []string{"LIVEKIT_API_KEY=k", "LIVEKIT_API_SECRET=" + weak, "LIVEKIT_URL=wss://lk.example.com", appOrigin})
	if code != 2 || !strings.Contains(out, "LIVEKIT_API_SECRET is too weak: only 1 distinct characters") || strings.Contains(out, weak) {
		t.Errorf("exit %d: %s", code, out)
	}
	out, code = run(t, []string{"LIVEKIT_KEYS_FILE=" + path, "LIVEKIT_URL=wss://lk.example.com", appOrigin})
	if code != 2 || !strings.Contains(out, "LIVEKIT_API_KEY is not set: with several keys in LIVEKIT_KEYS_FILE (keyA, keyB) it must name the one that signs") {
		t.Errorf("exit %d: %s", code, out)
	}
}

// Keys rotate on SIGHUP under load (GenerateToken and /api/token, half the
// clients each) without a failed request: each token is
// signed by the old or the new secret, never anything else; a reload to a
// weak secret is refused and the old key keeps signing. Afterwards, every
// log line of the run (debug included) is searched for each secret and
// each token issued.
func TestKeyRotationUnderLoadAndLogHygiene(t *testing.T) {
	slow(t)
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	writeKeys(t, path, "# rotation test\nkeyA: "+secretA1+"\nkeyB: \""+secretB+"\"\n")
	p := start(t, []string{"LIVEKIT_KEYS_FILE=" + path, "LIVEKIT_API_KEY=keyA", "LIVEKIT_URL=wss://lk.example.com", appOrigin}, "--log-level", "debug")

	var mu sync.Mutex
	var tokens []string
	signedBy := map[string]int{}
	var failed atomic.Int64
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	tokenField := regexp.MustCompile(`"(?:participant_)?token":"([^"]+)"`)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		path := generatePath
		if c%2 == 1 {
			path = tokenPath
		}
		go func() {
			defer wg.Done()
			k, err := dialKeepAlive(p.Addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer k.c.Close()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				code, body, _, err := k.mintAt(p.Addr, path, fmt.Sprintf("rot-%d-%d", c, n), "")
				tok := tokenField.FindStringSubmatch(body)
				if err != nil || !minted(path, code, body) || tok == nil {
					failed.Add(1)
					t.Errorf("request failed: %v %d %.200s", err, code, body)
					return
				}
				s, _ := whichSecret(tok[1], secretA1, secretA2, secretA3)
				mu.Lock()
				tokens = append(tokens, tok[1])
				signedBy[s]++
				mu.Unlock()
			}
		}()
	}
	hup := func(content, wantLog string, n int) {
		t.Helper()
		writeKeys(t, path, content)
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return strings.Count(p.Logs(), wantLog) == n }, wantLog)
		before := sent.Load()
		waitFor(t, func() bool { return sent.Load() > before+200 }, "200 more requests")
	}
	waitFor(t, func() bool { return sent.Load() > 200 }, "load")
	hup("keyA: "+secretA2+"\nkeyB: "+secretB+"\n", `"msg":"keys reloaded"`, 1)
	hup("keyA: "+weak+"\nkeyB: "+secretB+"\n", `"msg":"reload failed, keeping the current keys"`, 1)
	// Still signing with A2 after the refused reload.
	k, err := dialKeepAlive(p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _, _ := k.mint(p.Addr, "after-weak", "")
	k.c.Close()
	if tok := regexp.MustCompile(`"token":"([^"]+)"`).FindStringSubmatch(body); tok == nil {
		t.Fatalf("no token after the refused reload: %s", body)
	} else if s, _ := whichSecret(tok[1], secretA1, secretA2, secretA3, weak); s != secretA2 {
		t.Errorf("after the refused reload the token is signed by %q, want the A2 secret", s)
	} else {
		mu.Lock()
		tokens = append(tokens, tok[1])
		mu.Unlock()
	}
	hup("keyA: "+secretA3+"\n", `"msg":"keys reloaded"`, 2)
	hup("garbage without a colon\n", `"msg":"reload failed, keeping the current keys"`, 2)
	close(stop)
	wg.Wait()

	t.Logf("%d requests during 4 reloads, %d failed; signed by A1 %d, A2 %d, A3 %d, other %d",
		sent.Load(), failed.Load(), signedBy[secretA1], signedBy[secretA2], signedBy[secretA3], signedBy[""])
	if failed.Load() != 0 || signedBy[""] != 0 || signedBy[secretA1] == 0 || signedBy[secretA2] == 0 || signedBy[secretA3] == 0 {
		t.Errorf("rotation: %d failed, signed by %v", failed.Load(), len(signedBy))
	}
	logs := p.Logs()
	for _, want := range []string{
		`"msg":"keys reloaded","signing_key":"keyA","key_ids":["keyA","keyB"]`,
		`"msg":"reload failed, keeping the current keys","error":"LIVEKIT_KEYS_FILE ` + path + `: the secret of key \"keyA\" is too weak: only 1 distinct characters, it must have at least 8 (generate one with ` + "`openssl rand -base64 48`" + `)","signing_key":"keyA"`,
		`"msg":"keys reloaded","signing_key":"keyA","key_ids":["keyA"]`,
		`"msg":"reload failed, keeping the current keys","error":"LIVEKIT_KEYS_FILE ` + path + ` line 1: want ` + "`key: secret`" + `"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}

	// Log hygiene over the whole run: no secret, no token, no token part.
	if !strings.Contains(logs, `"level":"DEBUG"`) {
		t.Fatal("no debug lines: the search would prove little")
	}
	for _, s := range []string{secretA1, secretA2, secretA3, secretB, weak} {
		if strings.Contains(logs, s) {
			t.Errorf("log contains a secret (%.4s…)", s)
		}
	}
	leaks := tokenPartsIn(logs, tokens)
	t.Logf("searched %d log lines for 5 secrets and %d tokens: %d hits", strings.Count(logs, "\n"), len(tokens), leaks)
	if leaks != 0 {
		t.Errorf("%d token parts in the log", leaks)
	}
}

// LIVEKIT_API_KEY may be left out while the keys file holds one key; then a
// second key added to the file is refused by SIGHUP (the old keys stay) and
// by the next start. This is why the rotation recipe (docs/operations.md)
// names the signing key before adding one.
func TestSecondKeyNeedsANamedSigningKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	writeKeys(t, path, "keyA: "+secretA1+"\n")
	env := []string{"LIVEKIT_KEYS_FILE=" + path, "LIVEKIT_URL=wss://lk.example.com", appOrigin}
	p := start(t, env)
	writeKeys(t, path, "keyA: "+secretA1+"\nkeyB: "+secretB+"\n")
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.Log.WaitFor(t, `"level":"ERROR","msg":"reload failed, keeping the current keys","error":"LIVEKIT_API_KEY is not set: with several keys in LIVEKIT_KEYS_FILE (keyA, keyB) it must name the one that signs","signing_key":"keyA"}`)
	out, code := run(t, env)
	want := "lktoken: refusing to start:\nLIVEKIT_API_KEY is not set: with several keys in LIVEKIT_KEYS_FILE (keyA, keyB) it must name the one that signs\n"
	if code != 2 || out != want {
		t.Errorf("restart: exit %d:\n%s\nwant:\n%s", code, out, want)
	}
}

// tokenPartsIn counts, over tokens, the parts (and whole tokens) longer than
// 16 characters that occur in logs: strings.Contains for each of them, but in
// one pass over logs (a lookup of every 16-byte window), so that searching a
// few MB of log for thousands of tokens takes milliseconds, not seconds.
func tokenPartsIn(logs string, tokens []string) int {
	const window = 16
	count := map[string]int{}
	for _, tok := range tokens {
		for _, part := range append(strings.Split(tok, "."), tok) {
			if len(part) > window {
				count[part]++
			}
		}
	}
	byPrefix := map[string][]string{}
	for part := range count {
		byPrefix[part[:window]] = append(byPrefix[part[:window]], part)
	}
	found := map[string]bool{}
	for i := 0; i+window <= len(logs); i++ {
		for _, part := range byPrefix[logs[i:i+window]] {
			if strings.HasPrefix(logs[i:], part) {
				found[part] = true
			}
		}
	}
	n := 0
	for part := range found {
		n += count[part]
	}
	return n
}

func TestTokenPartsIn(t *testing.T) {
	t.Parallel()
	tokens := []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLW9uZS0xMjM0", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTIifQ.c2lnbmF0dXJlLXR3by01Njc4"}
	for logs, want := range map[string]int{
		"":                                   0,
		`{"msg":"mint","identity":"user-1"}`: 0,
		`{"x":"eyJhbGciOiJIUzI1NiJ9"}`:       2, // the shared header, once per token
		`{"x":"..eyJzdWIiOiJ1c2VyLTIifQ.."}`: 1,
		`{"x":"` + tokens[0] + `"}`:          5, // the header of both, its payload, signature and whole token
		`abc c2lnbmF0dXJlLXR3by01Njc4 extra`: 1,
		"c2lnbmF0dXJlLXR3by01Njc\n":          0, // one character short
	} {
		if got := tokenPartsIn(logs, tokens); got != want {
			t.Errorf("%q: %d, want %d", logs, got, want)
		}
	}
}
