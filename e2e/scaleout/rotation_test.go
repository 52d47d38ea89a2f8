package scaleout

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/lktoken/lktoken/e2e/harness"
)

// TestKeyRotationAcrossReplicas rotates the signing key of three replicas
// behind haproxy under steady load, each step a file edit and a SIGHUP to
// every replica (as a Kubernetes Secret mounted by all pods): add the new
// key, switch signing to it, drop the old key. No request may fail; every
// token verifies against a real livekit-server holding both keys (as
// livekit-server's key_file does during a rotation); once every replica has
// switched, every token is signed by the new key.
func TestKeyRotationAcrossReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("scale-out test: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	lkBin, hapBin, bin := binaries(ctx, t)
	oldKey, newKey := harness.NewCredentials(), harness.NewCredentials()
	// One keys.yaml and one signing-key file for all replicas.
	dir := t.TempDir()
	keysFile, keyIDFile := filepath.Join(dir, "keys.yaml"), filepath.Join(dir, "signing-key")
	write := func(path string, lines ...string) {
		t.Helper()
		// With a rename, so that no replica reads half a file.
		if err := os.WriteFile(path+".tmp", []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
	line := func(c harness.Credentials) string { return c.APIKey + ": " + c.APISecret }
	// livekit-server holds both keys throughout, as its key_file does during
	// a rotation (it reads the file only at start).
	lkKeys := filepath.Join(dir, "livekit-keys.yaml")
	write(lkKeys, line(oldKey), line(newKey))
	lk, err := harness.StartLiveKitWithKeyFile(ctx, lkBin, lkKeys, oldKey.APISecret, newKey.APISecret)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Stop() //nolint:errcheck
	write(keysFile, line(oldKey))
	write(keyIDFile, oldKey.APIKey)

	f := &fleet{t: t, bin: bin, live: make([]*harness.LKToken, replicas), opts: harness.LKTokenOptions{
		Env:        []string{"LIVEKIT_KEYS_FILE=" + keysFile, "LIVEKIT_API_KEY_FILE=" + keyIDFile},
		Secrets:    []string{oldKey.APISecret, newKey.APISecret},
		LiveKitURL: lk.WSURL, Args: drainArgs()}}
	hap := f.startBehind(ctx, hapBin, harness.HAProxyOptions{})
	defer func() {
		if t.Failed() {
			for i, lt := range f.live {
				t.Logf("lktoken s%d output (last lines, redacted):\n%s", i+1, harness.Tail(lt.Logs(), 15))
			}
		}
	}()

	// reload HUPs every replica and waits until each has logged the reload
	// with the signing key and key ids wanted.
	reload := func(step, signing string, ids ...string) {
		t.Helper()
		want := fmt.Sprintf(`"msg":"keys reloaded","signing_key":%q,"key_ids":[%s]`, signing, quoteJoin(ids))
		seen := make([]int, replicas)
		for i, lt := range f.live {
			seen[i] = strings.Count(lt.Logs(), want)
			if err := lt.Reload(); err != nil {
				t.Fatalf("%s: SIGHUP s%d: %v", step, i+1, err)
			}
		}
		for i, lt := range f.live {
			deadline := time.Now().Add(15 * time.Second)
			for strings.Count(lt.Logs(), want) == seen[i] {
				if time.Now().After(deadline) {
					t.Fatalf("%s: s%d did not log %s", step, i+1, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}

	l := startLoad(hap.URL)
	time.Sleep(settle)
	began := time.Now()
	// 1. The new key, everywhere; the old one still signs.
	write(keysFile, line(oldKey), line(newKey))
	reload("add the new key", oldKey.APIKey, oldKey.APIKey, newKey.APIKey)
	time.Sleep(settle / 2)
	// 2. The new key signs.
	write(keyIDFile, newKey.APIKey)
	reload("switch signing", newKey.APIKey, oldKey.APIKey, newKey.APIKey)
	switched := time.Now()
	time.Sleep(settle / 2)
	// 3. The old key goes (after the longest token lifetime, in production).
	write(keysFile, line(newKey))
	reload("drop the old key", newKey.APIKey, newKey.APIKey)
	rotated := time.Since(began)
	time.Sleep(settle)
	results := l.finish()

	var failed []result
	var tokens []string
	signedBy := map[string]int{}
	lateOld := 0
	for _, r := range results {
		if r.err != nil || r.status/100 != 2 || r.token == "" {
			failed = append(failed, r)
			continue
		}
		tokens = append(tokens, r.token)
		v, err := auth.ParseAPIToken(r.token)
		if err != nil {
			t.Errorf("unparsable token: %v", err)
			continue
		}
		signedBy[v.APIKey()]++
		// Requests sent after every replica logged the switch are signed
		// by the new key.
		if v.APIKey() != newKey.APIKey && r.at.After(switched) {
			lateOld++
		}
	}
	stats, _ := hap.Stats()
	t.Logf("%d requests through haproxy (%d during the %s rotation), %d failed; signed by the old key %d, by the new %d; haproxy: %+v",
		len(results), countSince(results, began, began.Add(rotated)), rotated.Round(time.Millisecond), len(failed),
		signedBy[oldKey.APIKey], signedBy[newKey.APIKey], stats)
	for i, r := range failed {
		if i == 10 {
			t.Errorf("… and %d more", len(failed)-10)
			break
		}
		t.Errorf("failed request at +%s on %s: status %d, error %v, body %q", r.at.Sub(began).Round(time.Millisecond), r.route, r.status, r.err, r.body)
	}
	if lateOld > 0 {
		t.Errorf("%d tokens sent after every replica switched were signed by the old key", lateOld)
	}
	if signedBy[oldKey.APIKey] == 0 || signedBy[newKey.APIKey] == 0 {
		t.Errorf("signed by old %d, new %d: the load did not span the switch", signedBy[oldKey.APIKey], signedBy[newKey.APIKey])
	}
	if len(results) < 200 {
		t.Errorf("only %d requests: the load was not steady", len(results))
	}
	verifyAll(ctx, t, lk, tokens)
}

// quoteJoin is ids as lktoken logs them: sorted, quoted, comma-separated.
func quoteJoin(ids []string) string {
	ids = slices.Sorted(slices.Values(ids))
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return strings.Join(q, ",")
}
