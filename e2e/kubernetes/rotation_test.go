package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// rotateKeys rotates the signing key without restarting a pod, exactly as
// docs/deploy.md tells users: the Secret's name made stable
// (disableNameSuffixHash, uncommented in kustomization.yaml), then for each
// step keys.yaml / signing-key edited and `kubectl apply -k`, the kubelet's
// refresh of the mounted files awaited, and every pod sent SIGHUP with
// `kubectl debug <pod> --image=busybox:1.37 --target=lktoken
// --profile=restricted -- kill -HUP 1`. The steps: add the new key, switch
// signing to it, drop the old one. No request may fail, no pod may restart,
// and once every pod has reloaded, every token is signed by the new key.
func rotateKeys(ctx context.Context, t *testing.T, d *deployment, serviceURL string, oldKey, newKey apiKey) {
	c := d.c
	// The one-time switch to a stable Secret name (it rolls the pods once).
	kpath := filepath.Join(d.base, "kustomization.yaml")
	k, err := os.ReadFile(kpath)
	c.must(err)
	const commented = "    # options:\n    #   disableNameSuffixHash: true\n"
	if !strings.Contains(string(k), commented) {
		t.Fatalf("kustomization.yaml no longer has the commented lines docs/deploy.md says to uncomment:\n%s", commented)
	}
	c.must(os.WriteFile(kpath, []byte(strings.Replace(string(k), commented, "    options:\n      disableNameSuffixHash: true\n", 1)), 0o644))
	d.underLoad(ctx, t, serviceURL, func() {
		c.mustKubectl(ctx, "apply", "-k", d.overlay)
		c.rollout(ctx, "180s")
	})
	before := mustPods(ctx, t, c)
	uids := func(pods []pod) []string {
		var u []string
		for _, p := range pods {
			if p.Metadata.DeletionTimestamp == nil {
				u = append(u, p.Metadata.UID)
			}
		}
		slices.Sort(u)
		return u
	}

	steps := []struct {
		name    string
		keys    []apiKey
		signing apiKey
	}{
		{"add the new key", []apiKey{oldKey, newKey}, oldKey},
		{"switch signing to it", []apiKey{oldKey, newKey}, newKey},
		{"drop the old key", []apiKey{newKey}, newKey},
	}
	d.underLoad(ctx, t, serviceURL, func() {
		for _, s := range steps {
			start := time.Now()
			if s.signing == newKey && s.keys[0] == oldKey {
				// From the first reload on, a pod may sign with either key.
				d.keys.allow(oldKey.id, newKey.id)
			}
			d.writeKeys(s.keys, s.signing)
			c.mustKubectl(ctx, "apply", "-k", d.overlay)
			pods := mustPods(ctx, t, c)
			for _, p := range pods {
				file := filepath.Join(c.kubelet, "pods", p.Metadata.UID, "volumes/kubernetes.io~secret/keys/signing-key")
				c.waitFor(ctx, "the kubelet to refresh "+p.Metadata.Name+"'s keys", 90*time.Second, func() (bool, error) {
					b, err := os.ReadFile(file)
					return err == nil && strings.TrimSpace(string(b)) == s.signing.id, nil
				})
			}
			refreshed := time.Since(start)
			for _, p := range pods {
				sighup(ctx, t, c, p.Metadata.Name, s.signing.id)
				if s.signing == newKey {
					waitSigner(ctx, t, c, p, newKey.id)
				}
			}
			if s.signing == newKey && len(s.keys) == 2 {
				d.keys.allow(newKey.id) // every pod signs with the new key now
			}
			t.Logf("%s: files refreshed in every pod after %s, all reloaded after %s", s.name, refreshed.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
		}
	})
	if a, b := uids(before), uids(mustPods(ctx, t, c)); !slices.Equal(a, b) {
		t.Errorf("the rotation restarted pods: %v before, %v after", a, b)
	}
}

// sighup sends SIGHUP to a pod's lktoken as docs/deploy.md says, waits for
// the debug container to exit 0, and checks the pod's log as the docs say:
// a new "keys reloaded" line naming the signing key.
func sighup(ctx context.Context, t *testing.T, c *cluster, name, signing string) {
	t.Helper()
	var p pod
	c.must(c.get(ctx, "/api/v1/namespaces/default/pods/"+name, &p))
	had := len(p.Spec.EphemeralContainers)
	reloads := func() []string {
		var lines []string
		for _, l := range strings.Split(c.mustKubectl(ctx, "logs", name, "-c", "lktoken"), "\n") {
			if strings.Contains(l, "keys reloaded") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	before := len(reloads())
	c.mustKubectl(ctx, "debug", name, "--image="+strings.TrimPrefix(busyboxImage, "docker.io/library/"), "--target=lktoken", "--profile=restricted", "--", "kill", "-HUP", "1")
	deadline := time.Now().Add(60 * time.Second)
	c.waitFor(ctx, "kill -HUP 1 in "+name, 70*time.Second, func() (bool, error) {
		if time.Now().After(deadline) {
			out, _ := c.kubectl(ctx, "get", "pod", name, "-o", "jsonpath={.status.ephemeralContainerStatuses}")
			return false, fmt.Errorf("the debug container did not finish: %s", out)
		}
		if err := c.get(ctx, "/api/v1/namespaces/default/pods/"+name, &p); err != nil || len(p.Spec.EphemeralContainers) <= had {
			return false, nil
		}
		debugger := p.Spec.EphemeralContainers[len(p.Spec.EphemeralContainers)-1].Name
		for _, s := range p.Status.EphemeralContainerStatuses {
			if s.Name == debugger && s.State.Terminated != nil {
				if s.State.Terminated.ExitCode != 0 {
					t.Fatalf("%s in %s: kill -HUP 1 exited %d", debugger, name, s.State.Terminated.ExitCode)
				}
				return true, nil
			}
		}
		return false, nil
	})
	c.waitFor(ctx, "the reload in "+name+"'s log", 30*time.Second, func() (bool, error) {
		lines := reloads()
		if len(lines) <= before {
			return false, nil
		}
		if last := lines[len(lines)-1]; !strings.Contains(last, `"signing_key":"`+signing+`"`) {
			return false, fmt.Errorf("%s reloaded, but its log says %s, not signing key %s", name, last, signing)
		}
		return true, nil
	})
}

// waitSigner waits until the pod itself (its IP, not the Service) mints
// tokens signed by key.
func waitSigner(ctx context.Context, t *testing.T, c *cluster, p pod, key string) {
	t.Helper()
	l := &load{url: "http://" + p.Status.PodIP + ":8080", client: newClient()}
	c.waitFor(ctx, p.Metadata.Name+" to sign with "+key, 30*time.Second, func() (bool, error) {
		r := l.one(9, 0)
		return r.token != "" && signer(r.token) == key, nil
	})
}
