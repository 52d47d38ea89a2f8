package kubernetes

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster's addresses, which exist only in the test's network namespace:
// the node's address on a veth pair, the pods' subnet on the CNI bridge, and
// the services' range (routed to the node's interface so that kube-proxy's
// rules rewrite connections to ClusterIPs).
const (
	nodeName    = "node0"
	nodeIP      = "10.0.0.1"
	podCIDR     = "10.244.0.0/24"
	serviceCIDR = "10.96.0.0/16"
	apiServer   = "https://127.0.0.1:6443"
	etcdURL     = "http://127.0.0.1:2379"
)

// proc is a cluster process, stopped by its PID.
type proc struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// cluster is a running cluster: its processes (in start order), its files
// and clients.
type cluster struct {
	t       *testing.T
	dir     string
	bin     string
	pki     *pki
	procs   []*proc
	admin   string // the admin kubeconfig
	api     *http.Client
	sock    string // containerd's socket
	kubelet string // the kubelet's root directory
	secrets []string
}

// startCluster starts etcd, the control plane, containerd, the kubelet and
// kube-proxy, and waits until the node is Ready. Everything is stopped by
// PID when the test ends.
func startCluster(ctx context.Context, t *testing.T) *cluster {
	t.Helper()
	start := time.Now()
	// Not t.TempDir: containers' mounts may outlive the test function (they
	// end with the mount namespace); the outer process removes TMPDIR.
	dir, err := os.MkdirTemp("", "cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, bin: env.binDir}
	t.Cleanup(c.stop)
	c.must(c.network())
	c.must(c.mountFixedPaths())
	c.pki, err = newPKI(filepath.Join(c.dir, "pki"))
	c.must(err)
	c.must(c.pki.issue("apiserver", "kube-apiserver", nil,
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1"), net.ParseIP(nodeIP)},
		[]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}))
	for _, u := range []struct{ name, cn, org string }{
		{"admin", "e2e-admin", "system:masters"},
		{"controller-manager", "system:kube-controller-manager", ""},
		{"scheduler", "system:kube-scheduler", ""},
		{"kubelet", "system:node:" + nodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
		{"apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"},
	} {
		var orgs []string
		if u.org != "" {
			orgs = []string{u.org}
		}
		c.must(c.pki.issue(u.name, u.cn, orgs, nil, nil))
	}
	kc := map[string]string{}
	for _, n := range []string{"admin", "controller-manager", "scheduler", "kubelet", "kube-proxy"} {
		kc[n], err = c.pki.kubeconfig(n, apiServer)
		c.must(err)
	}
	c.admin = kc["admin"]
	c.api = c.apiClient()

	c.run(ctx, "etcd", filepath.Join(c.bin, "etcd"), "--name=e2e", "--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=e2e=http://127.0.0.1:2380", "--unsafe-no-fsync", "--log-level=warn")
	c.waitHTTP(ctx, "etcd", etcdURL+"/health", http.DefaultClient)
	p := c.pki.path
	c.run(ctx, "kube-apiserver", filepath.Join(c.bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", "--secure-port=6443", "--advertise-address="+nodeIP,
		"--authorization-mode=Node,RBAC", "--client-ca-file="+p("ca.crt"),
		"--tls-cert-file="+p("apiserver.crt"), "--tls-private-key-file="+p("apiserver.key"),
		"--service-account-key-file="+p("sa.pub"), "--service-account-signing-key-file="+p("sa.key"),
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local", "--service-cluster-ip-range="+serviceCIDR,
		"--kubelet-client-certificate="+p("apiserver-kubelet-client.crt"), "--kubelet-client-key="+p("apiserver-kubelet-client.key"),
		"--kubelet-preferred-address-types=InternalIP,Hostname", "--profiling=false", "--v=0")
	c.waitHTTP(ctx, "kube-apiserver", apiServer+"/readyz", c.api)
	c.run(ctx, "kube-controller-manager", filepath.Join(c.bin, "kube-controller-manager"),
		"--kubeconfig="+kc["controller-manager"], "--leader-elect=false", "--bind-address=127.0.0.1",
		"--use-service-account-credentials=true", "--service-account-private-key-file="+p("sa.key"),
		"--root-ca-file="+p("ca.crt"), "--cluster-cidr=10.244.0.0/16", "--profiling=false", "--v=0")
	c.run(ctx, "kube-scheduler", filepath.Join(c.bin, "kube-scheduler"),
		"--kubeconfig="+kc["scheduler"], "--leader-elect=false", "--bind-address=127.0.0.1", "--profiling=false", "--v=0")
	c.t.Logf("control plane ready in %s", time.Since(start).Round(100*time.Millisecond))

	c.must(c.startContainerd(ctx))
	c.must(c.startKubelet(ctx, kc["kubelet"]))
	c.must(c.startKubeProxy(ctx, kc["kube-proxy"]))
	c.waitFor(ctx, "node Ready", 90*time.Second, func() (bool, error) {
		var node struct {
			Status struct {
				Conditions []struct{ Type, Status string }
			}
		}
		if err := c.get(ctx, "/api/v1/nodes/"+nodeName, &node); err != nil {
			return false, nil
		}
		for _, cond := range node.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	c.t.Logf("cluster ready in %s (node %s Ready)", time.Since(start).Round(100*time.Millisecond), nodeName)
	return c
}

// with is c failing through t (a subtest's); the processes stay c's.
func (c *cluster) with(t *testing.T) *cluster {
	cc := *c
	cc.t = t
	return &cc
}

func (c *cluster) must(err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatal(err)
	}
}

// network gives the namespace its loopback, the node's interface (one end
// of a veth pair: an address that is not loopback, which the kubelet and
// kube-proxy need) and a route for the service range.
func (c *cluster) network() error {
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"link", "add", nodeName, "type", "veth", "peer", "name", nodeName + "-peer"},
		{"link", "set", nodeName, "up"},
		{"link", "set", nodeName + "-peer", "up"},
		{"addr", "add", nodeIP + "/24", "dev", nodeName},
		{"route", "add", serviceCIDR, "dev", nodeName},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// mountFixedPaths mounts a fresh tmpfs on each directory holding a path the
// kubelet, containerd or the CNI plugins use whatever their flags say, in the
// test's own mount namespace: nothing they write there reaches the host.
func (c *cluster) mountFixedPaths() error {
	for _, dir := range []string{"/var/lib", "/var/log", "/run", "/etc/kubernetes"} {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			continue // nothing to hide; the kubelet does not write there
		}
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "mode=0755,size=256m"); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
		}
	}
	return nil
}

func (c *cluster) startContainerd(ctx context.Context) error {
	d := filepath.Join(c.dir, "containerd")
	c.sock = filepath.Join(d, "containerd.sock")
	cniConf := filepath.Join(c.dir, "cni")
	if err := os.MkdirAll(cniConf, 0o755); err != nil {
		return err
	}
	conflist := fmt.Sprintf(`{"cniVersion": "1.0.0", "name": "e2e", "plugins": [{"type": "bridge", "bridge": "cni0",
  "isGateway": true, "ipMasq": false, "hairpinMode": true,
  "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}}]}`,
		podCIDR, filepath.Join(c.dir, "ipam"))
	if err := os.WriteFile(filepath.Join(cniConf, "10-e2e.conflist"), []byte(conflist), 0o644); err != nil {
		return err
	}
	// restrict_oom_score_adj: root here lacks CAP_SYS_RESOURCE, so runc cannot
	// lower a sandbox's oom_score_adj. SystemdCgroup off: cgroupfs, as the
	// kubelet. The sandbox image is the local pause image (no pulls).
	cfg := fmt.Sprintf(`version = 2
root = %q
state = %q
[grpc]
  address = %q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %q
`, filepath.Join(d, "root"), filepath.Join(d, "state"), c.sock, pauseImage, cniConf)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "config.toml"), []byte(cfg), 0o644); err != nil {
		return err
	}
	c.run(ctx, "containerd", "containerd", "--config", filepath.Join(d, "config.toml"), "--log-level", "warn")
	c.waitFor(ctx, "containerd", 30*time.Second, func() (bool, error) {
		_, err := c.ctr(ctx, "version")
		return err == nil, nil
	})
	archives, err := filepath.Glob(filepath.Join(env.images, "*.tar"))
	if err != nil || len(archives) == 0 {
		return fmt.Errorf("no image archives in %s", env.images)
	}
	for _, a := range archives {
		if _, err := c.ctr(ctx, "images", "import", a); err != nil {
			return err
		}
	}
	return nil
}

// ctr runs containerd's ctr in the k8s.io namespace (the CRI's).
func (c *cluster) ctr(ctx context.Context, args ...string) (string, error) {
	return command(ctx, "", "ctr", append([]string{"--address", c.sock, "--namespace", "k8s.io"}, args...)...)
}

func (c *cluster) startKubelet(ctx context.Context, kubeconfig string) error {
	c.kubelet = filepath.Join(c.dir, "kubelet")
	// failCgroupV1 false and cgroupfs: the host is cgroup v1. syncFrequency
	// 5s instead of a minute: how soon the kubelet refreshes a changed Secret
	// in the pods' volumes (the key rotation without a restart waits for it).
	// Eviction thresholds low: a busy build machine's disk is not the test.
	cfg := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
address: %s
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: %q}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
resolvConf: ""
failSwapOn: false
syncFrequency: 5s
podLogsDir: %q
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%%", imagefs.available: "1%%", nodefs.inodesFree: "1%%"}
containerRuntimeEndpoint: unix://%s
`, nodeIP, c.pki.path("ca.crt"), filepath.Join(c.dir, "pod-logs"), c.sock)
	path := filepath.Join(c.dir, "kubelet.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	c.run(ctx, "kubelet", filepath.Join(c.bin, "kubelet"), "--config="+path, "--kubeconfig="+kubeconfig,
		"--root-dir="+c.kubelet, "--node-ip="+nodeIP, "--hostname-override="+nodeName, "--v=0")
	return nil
}

func (c *cluster) startKubeProxy(ctx context.Context, kubeconfig string) error {
	// conntrack 0: leave the host's conntrack limits and timeouts alone
	// (nf_conntrack_max is not namespaced).
	cfg := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: %q}
hostnameOverride: %s
clusterCIDR: 10.244.0.0/16
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
`, kubeconfig, nodeName)
	path := filepath.Join(c.dir, "kube-proxy.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	c.run(ctx, "kube-proxy", filepath.Join(c.bin, "kube-proxy"), "--config="+path, "--v=0")
	return nil
}

// run starts a cluster process, its output in a log file.
func (c *cluster) run(ctx context.Context, name, bin string, args ...string) {
	c.t.Helper()
	logPath := filepath.Join(c.dir, "logs", name+".log")
	c.must(os.MkdirAll(filepath.Dir(logPath), 0o755))
	f, err := os.Create(logPath)
	c.must(err)
	defer f.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir, "TMPDIR=" + os.TempDir()}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.must(cmd.Start())
	p := &proc{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	c.procs = append(c.procs, p)
}

// stop stops every process by its PID, the last started first: SIGTERM, then
// SIGKILL after a grace period. Before that the pods are deleted, so that
// the kubelet stops their containers; what is left the kernel ends with the
// PID namespace.
func (c *cluster) stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		if c.t.Failed() {
			c.t.Logf("--- %s log (last lines):\n%s", p.name, c.tail(p.log, 12))
		}
		if p.name == "containerd" {
			// The containers the kubelet left (a failed test deletes no pods).
			ids, _ := c.ctr(context.Background(), "tasks", "ls", "--quiet")
			for _, id := range strings.Fields(ids) {
				_, _ = c.ctr(context.Background(), "tasks", "kill", "--all", "--signal", "SIGKILL", id)
			}
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// tail returns the last n lines of a log, secrets redacted.
func (c *cluster) tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		// The informers' and the HPA's (no metrics-server) chatter.
		if !strings.Contains(l, "Caches are synced") && !strings.Contains(l, "pods.metrics.k8s.io") {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return c.redact(strings.Join(lines, "\n"))
}

func (c *cluster) redact(s string) string {
	for _, secret := range c.secrets {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	return s
}

// apiClient is an HTTP client for the API server as the admin.
func (c *cluster) apiClient() *http.Client {
	cert, err := tls.LoadX509KeyPair(c.pki.path("admin.crt"), c.pki.path("admin.key"))
	c.must(err)
	roots := x509.NewCertPool()
	roots.AddCert(c.pki.caCert)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
}

// get GETs an API path and decodes the JSON answer into v.
func (c *cluster) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiServer+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}

// waitHTTP waits until url answers 200.
func (c *cluster) waitHTTP(ctx context.Context, name, url string, client *http.Client) {
	c.t.Helper()
	c.waitFor(ctx, name+" ready", 60*time.Second, func() (bool, error) {
		resp, err := client.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// waitFor polls cond every 200 ms until it holds, fails, a cluster process
// exits, or the timeout passes.
func (c *cluster) waitFor(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		for _, p := range c.procs {
			select {
			case <-p.exited:
				c.t.Fatalf("waiting for %s: %s exited:\n%s", what, p.name, c.tail(p.log, 30))
			default:
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.t.Fatalf("waiting for %s: not after %s", what, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kubectl runs kubectl as the admin and returns its standard output.
func (c *cluster) kubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.admin, "--cache-dir", filepath.Join(c.dir, "kubectl-cache")}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.dir}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, c.redact(strings.TrimSpace(stderr.String())))
	}
	return string(out), nil
}

// mustKubectl is kubectl that fails the test on an error.
func (c *cluster) mustKubectl(ctx context.Context, args ...string) string {
	c.t.Helper()
	out, err := c.kubectl(ctx, args...)
	c.must(err)
	return out
}

// rollout waits for the Deployment's rollout; when it does not finish, the
// test fails with the pods and the warning events that say why (a probe
// failing, an image missing).
func (c *cluster) rollout(ctx context.Context, timeout string) {
	c.t.Helper()
	if _, err := c.kubectl(ctx, "rollout", "status", "deployment/lktoken", "--timeout="+timeout); err != nil {
		pods, _ := c.kubectl(ctx, "get", "pods", "-o", "wide")
		events, _ := c.kubectl(ctx, "get", "events", "--field-selector=type=Warning", "--sort-by=.lastTimestamp")
		c.t.Fatalf("%v\npods:\n%s\nwarnings:\n%s", err, c.redact(pods), c.redact(events))
	}
}
