package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiKey is one LiveKit API key of the run.
type apiKey struct{ id, secret string }

func newKey() apiKey {
	b := make([]byte, 36)
	_, _ = rand.Read(b)
	return apiKey{id: "APIk8s" + randomHex(4), secret: base64.RawURLEncoding.EncodeToString(b)}
}

// deployment is deploy/kubernetes as a user has it: a copy of the directory
// with keys.yaml and signing-key filled in, and the test's overlay, which
// only sets the image and the settings.
type deployment struct {
	c       *cluster
	base    string // the copy of deploy/kubernetes
	overlay string
	keys    *keyring
	image   string
}

// writeKeys writes keys.yaml and signing-key into the copy of
// deploy/kubernetes, as docs/deploy.md tells users to.
func (d *deployment) writeKeys(keys []apiKey, signing apiKey) {
	var lines []string
	for _, k := range keys {
		lines = append(lines, k.id+": "+k.secret)
	}
	d.c.must(os.WriteFile(filepath.Join(d.base, "keys.yaml"), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	d.c.must(os.WriteFile(filepath.Join(d.base, "signing-key"), []byte(signing.id+"\n"), 0o600))
}

// writeOverlay writes the overlay: the base, the image (name and tag) and
// the settings the test sets.
func (d *deployment) writeOverlay(tag, livekitURL string) {
	name := strings.TrimSuffix(d.image, ":"+d.tag())
	// The base names the image localhost/lktoken (kustomization.yaml's
	// images): the overlay replaces that name.
	k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../base
images:
  - name: localhost/lktoken
    newName: %s
    newTag: %s
configMapGenerator:
  - name: lktoken-settings
    behavior: merge
    literals:
      - LIVEKIT_URL=%s
      - LKTOKEN_ALLOWED_ORIGINS=https://app.e2e.test
`, name, tag, livekitURL)
	d.c.must(os.MkdirAll(d.overlay, 0o755))
	d.c.must(os.WriteFile(filepath.Join(d.overlay, "kustomization.yaml"), []byte(k), 0o644))
}

// with is d failing through t (a subtest's).
func (d *deployment) with(t *testing.T) *deployment {
	dd := *d
	dd.c = d.c.with(t)
	return &dd
}

// tag is the image's tag.
func (d *deployment) tag() string {
	if i := strings.LastIndex(d.image, ":"); i > strings.LastIndex(d.image, "/") {
		return d.image[i+1:]
	}
	return "latest"
}

// pod is what the suite reads of a pod.
type pod struct {
	Metadata struct {
		Name, UID         string
		DeletionTimestamp *string
		Labels            map[string]string
	}
	Spec struct {
		EphemeralContainers []struct{ Name string }
	}
	Status struct {
		PodIP             string
		Phase             string
		ContainerStatuses []struct {
			Name, ContainerID string
			Ready             bool
		}
		EphemeralContainerStatuses []struct {
			Name  string
			State struct {
				Terminated *struct{ ExitCode int }
			}
		}
	}
}

func (c *cluster) pods(ctx context.Context) ([]pod, error) {
	var list struct{ Items []pod }
	err := c.get(ctx, "/api/v1/namespaces/default/pods?labelSelector=app.kubernetes.io%2Finstance%3Dlktoken", &list)
	return list.Items, err
}

// drainWatch probes the /readyz of every terminating pod directly (pod IP)
// until it answers 503, and records which pods it saw draining.
type drainWatch struct {
	mu      sync.Mutex
	saw503  map[string]string // pod name → the 503's body
	pending map[string]bool
	served  map[string]bool // pods seen ready
	stop    chan struct{}
	done    chan struct{}
}

func watchDrains(ctx context.Context, c *cluster) *drainWatch {
	w := &drainWatch{saw503: map[string]string{}, pending: map[string]bool{}, served: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: time.Second}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			pods, err := c.pods(ctx)
			if err != nil {
				continue
			}
			for _, p := range pods {
				w.mu.Lock()
				if p.Metadata.DeletionTimestamp == nil || p.Status.PodIP == "" {
					// Only a pod that served drains (not one whose image
					// never ran).
					if ready(p) {
						w.served[p.Metadata.Name] = true
					}
					w.mu.Unlock()
					continue
				}
				_, seen := w.saw503[p.Metadata.Name]
				w.pending[p.Metadata.Name] = !seen && w.served[p.Metadata.Name]
				w.mu.Unlock()
				if seen {
					continue
				}
				resp, err := client.Get("http://" + p.Status.PodIP + ":8080/readyz")
				if err != nil {
					continue
				}
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					w.mu.Lock()
					w.saw503[p.Metadata.Name] = strings.TrimSpace(string(b))
					w.mu.Unlock()
				}
			}
		}
	}()
	return w
}

func (w *drainWatch) finish() (saw503 map[string]string, missed []string) {
	close(w.stop)
	<-w.done
	for name, p := range w.pending {
		if p {
			missed = append(missed, name)
		}
	}
	return w.saw503, missed
}

// underLoad runs step under the steady load through the Service's ClusterIP
// and checks: no request failed, every token verifies against the keys of
// its moment, and each pod that terminated answered 503 on /readyz while
// draining. It returns the results.
func (d *deployment) underLoad(ctx context.Context, t *testing.T, serviceURL string, step func()) []result {
	t.Helper()
	w := watchDrains(ctx, d.c)
	l := startLoad(serviceURL)
	time.Sleep(time.Second)
	start := time.Now()
	step()
	// Until every terminating pod has drained and exited, under the load.
	d.c.waitFor(ctx, "terminating pods to exit", 90*time.Second, func() (bool, error) {
		pods, err := d.c.pods(ctx)
		return err == nil && !slices.ContainsFunc(pods, func(p pod) bool { return p.Metadata.DeletionTimestamp != nil }), nil
	})
	time.Sleep(time.Second)
	res := l.finish()
	drained, missed := w.finish()
	failed, during := 0, 0
	for _, r := range res {
		if !r.start.Before(start) {
			during++
		}
		if r.err != nil || r.token == "" {
			failed++
			if failed <= 5 {
				t.Errorf("request at %s failed: %v %d %s", r.start.Format("15:04:05.000"), r.err, r.status, r.body)
			}
			continue
		}
		if _, err := d.keys.check(r); err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("token minted at %s: %v", r.start.Format("15:04:05.000"), err)
			}
		}
	}
	names := make([]string, 0, len(drained))
	for n, body := range drained {
		names = append(names, n)
		if body != "not ready: shutting down" {
			t.Errorf("pod %s draining: /readyz said 503 %q, want %q", n, body, "not ready: shutting down")
		}
	}
	slices.Sort(names)
	if len(missed) > 0 {
		t.Errorf("terminating pods never answered 503 on /readyz: %v", missed)
	}
	t.Logf("%d requests (%d during the step), %d failed; pods drained with /readyz 503: %d %v", len(res), during, failed, len(drained), names)
	return res
}

// TestDeployKubernetes applies deploy/kubernetes to a real cluster and rolls,
// scales, rotates and breaks it under load, losing no request.
func TestDeployKubernetes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	begin := time.Now()
	c := startCluster(ctx, t)

	// deploy/kubernetes as a user has it: a copy with keys.yaml and
	// signing-key filled in (kustomization.yaml's first lines), and an overlay
	// that sets the image and the settings.
	work := t.TempDir()
	d := &deployment{c: c, base: filepath.Join(work, "base"), overlay: filepath.Join(work, "overlay"),
		image: env.image, keys: &keyring{secrets: map[string]string{}}}
	c.must(os.CopyFS(d.base, os.DirFS(filepath.Join(env.repo, "deploy/kubernetes"))))
	c.must(os.RemoveAll(filepath.Join(d.base, "check")))
	oldKey, newKey := newKey(), newKey()
	for _, k := range []apiKey{oldKey, newKey} {
		d.keys.secrets[k.id] = k.secret
		c.secrets = append(c.secrets, k.secret)
	}
	d.writeKeys([]apiKey{oldKey}, oldKey)
	d.keys.allow(oldKey.id)
	d.writeOverlay(d.tag(), "wss://one.e2e.test")

	t.Run("apply", func(t *testing.T) {
		c := c.with(t)
		out := c.mustKubectl(ctx, "apply", "--dry-run=server", "-k", d.overlay)
		t.Logf("server dry-run:\n%s", strings.TrimSpace(out))
		c.mustKubectl(ctx, "apply", "-k", d.overlay)
		c.rollout(ctx, "120s")
	})
	if t.Failed() {
		return
	}
	var svc struct{ Spec struct{ ClusterIP string } }
	c.must(c.get(ctx, "/api/v1/namespaces/default/services/lktoken", &svc))
	serviceURL := "http://" + svc.Spec.ClusterIP
	// kube-proxy programs a new Service's rules shortly after its endpoints
	// are ready: the scenarios start once it answers.
	c.waitHTTP(ctx, "the Service", serviceURL+"/readyz", newClient())
	t.Logf("Service lktoken at %s; ready after %s", serviceURL, time.Since(begin).Round(100*time.Millisecond))

	// Each subtest fails through its own t: cluster and deployment helpers
	// call t.Fatal, which must be the running test's.
	parentC, parentD := c, d
	sub := func(name string, f func(t *testing.T, c *cluster, d *deployment)) {
		t.Run(name, func(t *testing.T) { f(t, parentC.with(t), parentD.with(t)) })
	}
	sub("servicemonitor", func(t *testing.T, _ *cluster, d *deployment) { serviceMonitor(ctx, t, d) })
	sub("security", func(t *testing.T, c *cluster, _ *deployment) { security(ctx, t, c) })

	sub("settings change rolls every pod", func(t *testing.T, c *cluster, d *deployment) {
		before := podNames(ctx, t, c)
		res := d.underLoad(ctx, t, serviceURL, func() {
			d.writeOverlay(d.tag(), "wss://two.e2e.test")
			c.mustKubectl(ctx, "apply", "-k", d.overlay)
			c.rollout(ctx, "180s")
		})
		after := podNames(ctx, t, c)
		for _, n := range after {
			if slices.Contains(before, n) {
				t.Errorf("pod %s was not rolled", n)
			}
		}
		if last := res[len(res)-1]; last.url != "wss://two.e2e.test" {
			t.Errorf("after the roll the server URL is %q, want the new setting wss://two.e2e.test", last.url)
		}
	})
	sub("rollout restart", func(t *testing.T, c *cluster, d *deployment) {
		d.underLoad(ctx, t, serviceURL, func() {
			c.mustKubectl(ctx, "rollout", "restart", "deployment/lktoken")
			c.rollout(ctx, "180s")
		})
	})
	sub("scale 2-4-2", func(t *testing.T, c *cluster, d *deployment) {
		d.underLoad(ctx, t, serviceURL, func() {
			for _, n := range []string{"4", "2"} {
				c.mustKubectl(ctx, "scale", "deployment/lktoken", "--replicas="+n)
				c.rollout(ctx, "120s")
				c.waitFor(ctx, n+" pods", 60*time.Second, func() (bool, error) {
					names := podNames(ctx, t, c)
					return fmt.Sprint(len(names)) == n, nil
				})
			}
		})
	})
	sub("key rotation without a roll", func(t *testing.T, _ *cluster, d *deployment) { rotateKeys(ctx, t, d, serviceURL, oldKey, newKey) })
	sub("broken image then undo", func(t *testing.T, c *cluster, d *deployment) {
		d.underLoad(ctx, t, serviceURL, func() {
			d.writeOverlay("no-such-tag", "wss://two.e2e.test")
			c.mustKubectl(ctx, "apply", "-k", d.overlay)
			out, err := c.kubectl(ctx, "rollout", "status", "deployment/lktoken", "--timeout=20s")
			if err == nil {
				t.Errorf("rollout status succeeded with an image that does not exist:\n%s", out)
			} else {
				t.Logf("rollout status failed, as it must: %v", err)
			}
			c.mustKubectl(ctx, "rollout", "undo", "deployment/lktoken")
			c.rollout(ctx, "120s")
		})
		for _, p := range mustPods(ctx, t, c) {
			if p.Metadata.DeletionTimestamp == nil && !ready(p) {
				t.Errorf("after the undo pod %s is not ready", p.Metadata.Name)
			}
		}
	})
	// Delete the Deployment so that the kubelet stops the pods before the
	// cluster stops.
	if _, err := c.kubectl(ctx, "delete", "-k", d.overlay, "--wait=true", "--timeout=60s"); err != nil {
		t.Log(err)
	}
	t.Logf("whole run: %s", time.Since(begin).Round(time.Second))
}

func ready(p pod) bool {
	for _, s := range p.Status.ContainerStatuses {
		if s.Name == "lktoken" && s.Ready {
			return true
		}
	}
	return false
}

func mustPods(ctx context.Context, t *testing.T, c *cluster) []pod {
	t.Helper()
	pods, err := c.pods(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return pods
}

// podNames lists the pods that are not terminating.
func podNames(ctx context.Context, t *testing.T, c *cluster) []string {
	var names []string
	for _, p := range mustPods(ctx, t, c) {
		if p.Metadata.DeletionTimestamp == nil {
			names = append(names, p.Metadata.Name)
		}
	}
	slices.Sort(names)
	return names
}

// serviceMonitor validates the optional components/servicemonitor against
// the Prometheus Operator's own CRD: the CRD is installed, then the overlay
// with the component is applied with --dry-run=server (strict field
// validation against the CRD's schema).
func serviceMonitor(ctx context.Context, t *testing.T, d *deployment) {
	c := d.c
	c.mustKubectl(ctx, "create", "-f", env.crd)
	c.mustKubectl(ctx, "wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s")
	dir := filepath.Join(filepath.Dir(d.overlay), "with-servicemonitor")
	c.must(os.MkdirAll(dir, 0o755))
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../overlay\ncomponents:\n  - ../base/components/servicemonitor\n"
	c.must(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644))
	out := c.mustKubectl(ctx, "apply", "--dry-run=server", "-k", dir)
	if !strings.Contains(out, "servicemonitor.monitoring.coreos.com/lktoken created (server dry run)") {
		t.Errorf("the ServiceMonitor was not validated by the server:\n%s", out)
	}
	t.Logf("with components/servicemonitor, server dry-run against %s:\n%s", promOperatorModule, strings.TrimSpace(out))
}

// security reads each pod's lktoken process from the node's side (the image
// has no shell): its uid and gid, capabilities, no_new_privs, seccomp, a
// read-only root and keys mount, and no service-account token mounted.
func security(ctx context.Context, t *testing.T, c *cluster) {
	tasks, err := c.ctr(ctx, "tasks", "ls")
	if err != nil {
		t.Fatal(err)
	}
	pids := map[string]string{} // container id → pid
	for _, line := range strings.Split(tasks, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 2 {
			pids[f[0]] = f[1]
		}
	}
	pods := mustPods(ctx, t, c)
	if len(pods) == 0 {
		t.Fatal("no pods")
	}
	for _, p := range pods {
		var id string
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == "lktoken" {
				id = strings.TrimPrefix(s.ContainerID, "containerd://")
			}
		}
		bad := false
		errorf := func(format string, args ...any) {
			t.Helper()
			bad = true
			t.Errorf(format, args...)
		}
		pid := pids[id]
		if pid == "" {
			errorf("pod %s: no running task for container %q", p.Metadata.Name, id)
			continue
		}
		status, err := os.ReadFile("/proc/" + pid + "/status")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"Uid": "65532\t65532\t65532\t65532", "Gid": "65532\t65532\t65532\t65532",
			"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
			"CapBnd": "0000000000000000", "CapAmb": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
		}
		for _, line := range strings.Split(string(status), "\n") {
			k, v, _ := strings.Cut(line, ":")
			if w, ok := want[k]; ok {
				if strings.TrimSpace(v) != w {
					errorf("pod %s (pid %s): %s is %q, want %q", p.Metadata.Name, pid, k, strings.TrimSpace(v), w)
				}
				delete(want, k)
			}
		}
		if len(want) > 0 {
			errorf("pod %s: /proc/%s/status lacks %v", p.Metadata.Name, pid, want)
		}
		mountinfo, err := os.ReadFile("/proc/" + pid + "/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		mounts := map[string]string{} // mount point → options
		for _, line := range strings.Split(strings.TrimSpace(string(mountinfo)), "\n") {
			if f := strings.Fields(line); len(f) > 5 {
				mounts[f[4]] = f[5]
			}
		}
		for _, mp := range []string{"/", "/etc/lktoken/keys"} {
			if opts, ok := mounts[mp]; !ok || !slices.Contains(strings.Split(opts, ","), "ro") {
				errorf("pod %s: %s is mounted %q, want read-only", p.Metadata.Name, mp, opts)
			}
		}
		for mp := range mounts {
			if strings.Contains(mp, "serviceaccount") {
				errorf("pod %s: a service-account token is mounted at %s", p.Metadata.Name, mp)
			}
		}
		if bad {
			continue
		}
		t.Logf("pod %s: pid %s runs as 65532:65532, no capabilities, no_new_privs, seccomp filter, read-only / and keys, no service-account token", p.Metadata.Name, pid)
	}
}
