// Package kubernetes is the real-cluster suite: it starts etcd, a Kubernetes
// control plane, a kubelet on Debian's containerd + runc and kube-proxy on
// this machine, applies deploy/kubernetes to it as a user would, and rolls,
// scales, rotates and breaks it under steady load through the Service.
//
// The cluster lives in namespaces of the test's own (unshare --net --mount
// --pid): pod and service addresses exist nowhere else, the kubelet's and
// containerd's fixed paths (/var/lib/kubelet/device-plugins, /var/log/pods,
// /var/lib/cni, /run/netns, /run/containerd) are fresh tmpfs mounts that
// vanish with the namespace, and when the test process (PID 1 there) ends
// the kernel ends every process left. What the kubelet changes on the host
// beyond that (sysctls and the kubepods cgroups) the outer test process
// records before and restores after, then checks that the host is as found.
//
// Inputs: $KUBERNETES_BIN_DIR (what build.sh prints; built when unset) and
// $LKTOKEN_IMAGE (what `make image` built; built when unset). Root is needed:
// without it the suite skips loudly, and under CI=true it fails.
package kubernetes

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// inside is set in the environment of the test process that runs inside
// the namespaces.
const inside = "LKTOKEN_K8S_E2E_INSIDE"

// setup is what the outer process prepared for the inner one.
type setup struct {
	binDir string // etcd and Kubernetes' binaries
	image  string // lktoken's image reference
	images string // directory of docker archives to import
	crd    string // the Prometheus Operator's ServiceMonitor CRD
	repo   string // the repository's root
}

var env setup

func TestMain(m *testing.M) {
	if os.Getenv(inside) != "" {
		env = setup{
			binDir: os.Getenv("KUBERNETES_BIN_DIR"),
			image:  os.Getenv("LKTOKEN_IMAGE"),
			images: os.Getenv("LKTOKEN_K8S_IMAGES"),
			crd:    os.Getenv("LKTOKEN_K8S_CRD"),
			repo:   os.Getenv("LKTOKEN_K8S_REPO"),
		}
		os.Exit(m.Run())
	}
	os.Exit(outside(m))
}

// skipOrFail ends the run without testing: loudly, and as a failure under
// CI=true, where the suite must run.
func skipOrFail(why string) int {
	if os.Getenv("CI") == "true" {
		fmt.Fprintf(os.Stderr, "FAIL e2e/kubernetes: %s (CI=true: the real-cluster suite must run)\n", why)
		return 1
	}
	fmt.Fprintf(os.Stderr, "!!! e2e/kubernetes SKIPPED, proving nothing: %s\n", why)
	return 0
}

// outside prepares binaries and images, records the host, runs the tests in
// namespaces of their own, then restores and checks the host.
func outside(m *testing.M) int {
	if runtime.GOOS != "linux" {
		return skipOrFail("needs Linux")
	}
	flag.Parse()
	if testing.Short() {
		fmt.Fprintln(os.Stderr, "e2e/kubernetes: skipped under -short")
		return 0
	}
	if os.Geteuid() != 0 {
		return skipOrFail("needs root (a kubelet, containerd and network namespaces)")
	}
	for _, tool := range []string{"containerd", "containerd-shim-runc-v2", "ctr", "runc", "unshare", "ip", "nft", "podman"} {
		if _, err := exec.LookPath(tool); err != nil {
			return skipOrFail(tool + " is missing (make system-deps installs it)")
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		return skipOrFail("the CNI plugins are missing (apt-get install containernetworking-plugins)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		return skipOrFail(err.Error())
	}
	binDir := os.Getenv("KUBERNETES_BIN_DIR")
	if binDir == "" {
		out, err := command(ctx, "", "./build.sh")
		if err != nil {
			return skipOrFail("etcd and Kubernetes could not be built: " + err.Error())
		}
		binDir = strings.TrimSpace(out)
	}
	work, err := os.MkdirTemp("", "lktoken-k8s-e2e-")
	if err != nil {
		return skipOrFail(err.Error())
	}
	defer os.RemoveAll(work)
	prep, err := prepare(ctx, repo, work)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL e2e/kubernetes: preparing images: %v\n", err)
		return 1
	}
	defer prep.removeImages()

	before, err := snapshotHost()
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL e2e/kubernetes: recording the host: %v\n", err)
		return 1
	}
	if len(before.kubepods) > 0 {
		return skipOrFail("kubepods cgroups exist already (another kubelet on this machine?): " + strings.Join(before.kubepods, ", "))
	}
	// PID 1 of a new PID namespace: when it ends, the kernel ends the rest.
	args := append([]string{"--net", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", os.Args[0]}, os.Args[1:]...)
	cmd := exec.Command("unshare", args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), inside+"=1", "KUBERNETES_BIN_DIR="+binDir, "LKTOKEN_IMAGE="+prep.image,
		"LKTOKEN_K8S_IMAGES="+prep.archives, "LKTOKEN_K8S_CRD="+prep.crd, "LKTOKEN_K8S_REPO="+repo, "TMPDIR="+work)
	runErr := cmd.Run()
	code := 0
	if runErr != nil {
		code = 1
		if ee, ok := runErr.(*exec.ExitError); ok && ee.ExitCode() > 0 {
			code = ee.ExitCode()
		}
	}
	// Whatever happened inside: put the host back and check it.
	if err := restoreHost(before); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL e2e/kubernetes: the host is not as found: %v\n", err)
		return 1
	}
	return code
}

// command runs name with args in dir and returns its standard output; its
// standard error is in the error (and passed through for progress).
func command(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
