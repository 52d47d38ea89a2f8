package kubernetes

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The Prometheus Operator whose ServiceMonitor CRD validates
// components/servicemonitor: the newest version of its Go module on the
// module proxy, which carries the CRDs in example/prometheus-operator-crd.
const (
	promOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
	serviceMonitorCRD  = "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
)

// Images the suite adds to containerd besides lktoken's: the pod sandbox's
// pause process, and a stand-in for busybox with only a static `kill`, for
// the `kubectl debug ... -- kill -HUP 1` that docs/deploy.md documents (no
// registry is reachable here, so neither can be pulled).
const (
	pauseImage   = "localhost/lktoken-e2e-pause:1"
	busyboxImage = "docker.io/library/busybox:1.37"
)

var podman = []string{"podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"}

// prepared is what prepare made outside the namespaces.
type prepared struct {
	image, archives, crd string
	created              []string // podman images to remove afterwards
}

// prepare builds (or takes) lktoken's image, builds the pause and kill
// images, saves all three as docker archives for `ctr images import`, and
// downloads the ServiceMonitor CRD: all of which needs the host's network
// and podman's storage, which the namespaces hide.
func prepare(ctx context.Context, repo, work string) (*prepared, error) {
	p := &prepared{image: os.Getenv("LKTOKEN_IMAGE"), archives: filepath.Join(work, "images")}
	if err := os.MkdirAll(p.archives, 0o755); err != nil {
		return nil, err
	}
	if p.image == "" {
		img := "localhost/lktoken-e2e:" + randomHex(4)
		cmd := exec.CommandContext(ctx, filepath.Join(repo, "deploy/container/build.sh"))
		cmd.Env = append(os.Environ(), "IMAGE="+img)
		cmd.Stderr = os.Stderr
		if _, err := cmd.Output(); err != nil {
			return nil, fmt.Errorf("deploy/container/build.sh: %w", err)
		}
		p.image, p.created = img, append(p.created, img)
	}
	for _, b := range []struct{ image, cmd, entry string }{
		{pauseImage, "pause", "/pause"},
		{busyboxImage, "kill", "/bin/kill"},
	} {
		if _, err := command(ctx, "", podman[0], append(podman[1:], "image", "exists", b.image)...); err == nil && b.image == busyboxImage {
			continue // a real busybox is there: use it
		}
		dir := filepath.Join(work, "image-"+b.cmd)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, b.cmd), "./cmd/"+b.cmd)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/%s: %w: %s", b.cmd, err, out)
		}
		containerfile := fmt.Sprintf("FROM scratch\nCOPY %s %s\nENTRYPOINT [%q]\n", b.cmd, b.entry, b.entry)
		if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
			return nil, err
		}
		if _, err := command(ctx, "", podman[0], append(podman[1:], "build", "--quiet", "--format", "docker", "-t", b.image, dir)...); err != nil {
			return nil, err
		}
		p.created = append(p.created, b.image)
	}
	for i, img := range []string{p.image, pauseImage, busyboxImage} {
		out := filepath.Join(p.archives, fmt.Sprintf("%d.tar", i))
		if _, err := command(ctx, "", podman[0], append(podman[1:], "save", "--quiet", "--format", "docker-archive", "-o", out, img)...); err != nil {
			return nil, err
		}
	}
	out, err := command(ctx, "", "go", "mod", "download", "-json", promOperatorModule)
	if err != nil {
		return nil, err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal([]byte(out), &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("go mod download %s: no directory in %q", promOperatorModule, out)
	}
	p.crd = filepath.Join(mod.Dir, serviceMonitorCRD)
	if _, err := os.Stat(p.crd); err != nil {
		return nil, err
	}
	return p, nil
}

// removeImages removes the podman images prepare created.
func (p *prepared) removeImages() {
	for _, img := range p.created {
		if _, err := command(context.Background(), "", podman[0], append(podman[1:], "rmi", "--force", img)...); err != nil {
			fmt.Fprintf(os.Stderr, "e2e/kubernetes: %v\n", err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// hostState is what the kubelet, containerd and kube-proxy could change on
// the host outside the test's namespaces.
type hostState struct {
	// sysctls under /proc/sys/{kernel,vm,fs} (not namespaced by a network
	// namespace): the kubelet sets vm.overcommit_memory, vm.panic_on_oom,
	// kernel.panic, kernel.panic_on_oops and kernel.keys.root_max*.
	sysctls map[string]string
	// kubepods lists the kubelet's pod cgroups (cgroupfs driver, v1: one
	// per hierarchy).
	kubepods []string
	// paths says which of the fixed paths exist.
	paths map[string]bool
	// nft is the host network namespace's nftables tables.
	nft string
}

// fixedPaths are the paths the kubelet, containerd and the CNI plugins use
// whatever their flags say; inside the test they are tmpfs mounts.
var fixedPaths = []string{"/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/netns", "/run/containerd", "/var/lib/containerd", "/etc/kubernetes"}

// volatile sysctls change by themselves.
var volatile = []string{
	"kernel/random/", "kernel/ns_last_pid", "kernel/pty/nr", "kernel/tainted", "kernel/sched_domain/",
	"fs/dentry-state", "fs/inode-nr", "fs/inode-state", "fs/file-nr", "fs/quota/", "fs/aio-nr",
	"fs/binfmt_misc/", "fs/fscache/", "kernel/keys/gc_delay", "vm/stat_refresh", "vm/drop_caches", "vm/compact_memory",
}

func snapshotHost() (*hostState, error) {
	h := &hostState{sysctls: map[string]string{}, paths: map[string]bool{}}
	for _, root := range []string{"/proc/sys/kernel", "/proc/sys/vm", "/proc/sys/fs"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			key := strings.TrimPrefix(path, "/proc/sys/")
			if slices.ContainsFunc(volatile, func(v string) bool { return strings.HasPrefix(key, v) }) {
				return nil
			}
			if b, err := os.ReadFile(path); err == nil {
				h.sysctls[key] = strings.TrimSpace(string(b))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	hierarchies, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	for _, e := range hierarchies {
		for _, name := range []string{"kubepods", "kubepods.slice"} {
			p := filepath.Join("/sys/fs/cgroup", e.Name(), name)
			if st, err := os.Lstat(p); err == nil && st.IsDir() {
				h.kubepods = append(h.kubepods, p)
			}
		}
	}
	for _, p := range fixedPaths {
		_, err := os.Lstat(p)
		h.paths[p] = err == nil
	}
	out, err := exec.Command("nft", "list", "tables").Output()
	if err != nil {
		return nil, fmt.Errorf("nft list tables: %w", err)
	}
	h.nft = string(out)
	return h, nil
}

// restoreHost removes the kubepods cgroups and writes back every sysctl that
// differs from before, then checks that the host is as before and says what
// it restored.
func restoreHost(before *hostState) error {
	now, err := snapshotHost()
	if err != nil {
		return err
	}
	var restored, errs []string
	for _, p := range now.kubepods {
		if slices.Contains(before.kubepods, p) {
			continue
		}
		if err := removeCgroupTree(p); err != nil {
			errs = append(errs, err.Error())
		} else {
			restored = append(restored, "removed "+p)
		}
	}
	for key, was := range before.sysctls {
		if is, ok := now.sysctls[key]; ok && is != was {
			if err := os.WriteFile("/proc/sys/"+key, []byte(was), 0o644); err != nil {
				errs = append(errs, fmt.Sprintf("restore %s=%s: %v", key, was, err))
			} else {
				restored = append(restored, fmt.Sprintf("%s %s (was set to %s)", strings.ReplaceAll(key, "/", "."), was, is))
			}
		}
	}
	sort.Strings(restored)
	if len(restored) == 0 {
		restored = []string{"nothing to restore"}
	}
	fmt.Fprintf(os.Stderr, "e2e/kubernetes: host restored: %s\n", strings.Join(restored, "; "))
	after, err := snapshotHost()
	if err != nil {
		return err
	}
	errs = append(errs, before.diff(after)...)
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// diff lists how h2 differs from h.
func (h *hostState) diff(h2 *hostState) []string {
	var d []string
	for key, was := range h.sysctls {
		if is, ok := h2.sysctls[key]; ok && is != was {
			d = append(d, fmt.Sprintf("sysctl %s is %q, was %q", key, is, was))
		}
	}
	if !slices.Equal(h.kubepods, h2.kubepods) {
		d = append(d, fmt.Sprintf("kubepods cgroups %v, were %v", h2.kubepods, h.kubepods))
	}
	for p, existed := range h.paths {
		if h2.paths[p] != existed {
			d = append(d, fmt.Sprintf("%s exists: %v, before: %v", p, h2.paths[p], existed))
		}
	}
	if h.nft != h2.nft {
		d = append(d, fmt.Sprintf("host nftables tables %q, were %q", h2.nft, h.nft))
	}
	sort.Strings(d)
	return d
}

// removeCgroupTree removes a cgroup v1 directory and its children, deepest
// first (cgroup directories are removed with rmdir, their files vanish).
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	if err := os.Remove(dir); err != nil {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}
