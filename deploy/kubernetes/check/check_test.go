// Package check proves deploy/kubernetes without a cluster: kustomize (its
// krusty API, v5.8.1) renders the manifests in-process, every object decodes
// strictly into its Kubernetes type (a misspelt field fails), every variable
// and flag they set is one `lktoken --help` lists, the probes and ports are
// the ones the real binary serves with the rendered settings, and the
// security, availability and rollout settings hold.
//
// A module of its own so that k8s.io/* and kustomize stay out of lktoken's
// go.mod. Skipped under -short (it compiles and runs the lktoken binary).
package check

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// manifestsDir is deploy/kubernetes, seen from this package's directory, or
// $LKTOKEN_K8S_DIR: a broken copy, when TestChecksCatchBreakage runs this
// test binary against one.
var manifestsDir = cmp.Or(os.Getenv("LKTOKEN_K8S_DIR"), "..")

// repoDir is the repository's root, seen from this package's directory.
const repoDir = "../../.."

// imageUser is the numeric user the image runs as (deploy/container/Containerfile).
const imageUser = 65532

// goRuntimeEnv are variables the manifests may set that are the Go runtime's,
// not lktoken's, so `lktoken --help` does not list them.
var goRuntimeEnv = []string{"GOMEMLIMIT", "GOMAXPROCS", "GODEBUG", "GOGC"}

// userFiles are the git-ignored files a user makes from the .example beside
// them before the first apply.
var userFiles = []string{"keys.yaml", "signing-key", "components/redis-ratelimit/redis-password"}

// rendered is one kustomize build, decoded.
type rendered struct {
	deployment *appsv1.Deployment
	service    *corev1.Service
	pdb        *policyv1.PodDisruptionBudget
	hpa        *autoscalingv2.HorizontalPodAutoscaler
	netpol     *networkingv1.NetworkPolicy
	configMaps []*corev1.ConfigMap
	secrets    []*corev1.Secret
	monitors   []*monitoringv1.ServiceMonitor
}

// eachManifest calls fn for every directory (b nil) and file of
// deploy/kubernetes, with its path relative to manifestsDir, except this
// package and a user's own files (userFiles): a user's keys never enter a
// test.
func eachManifest(fn func(rel string, isDir bool, b []byte) error) error {
	return filepath.WalkDir(manifestsDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(manifestsDir, path)
		if d.IsDir() {
			if rel == "check" {
				return filepath.SkipDir
			}
			return fn(rel, true, nil)
		}
		if slices.Contains(userFiles, rel) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return fn(rel, false, b)
	})
}

// render builds deploy/kubernetes with kustomize in memory: the tree is copied
// into an in-memory filesystem with keys.yaml.example as keys.yaml (the real
// one is the user's, git-ignored). With components, an overlay enables them.
func render(t *testing.T, components ...string) *rendered {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := eachManifest(func(rel string, isDir bool, b []byte) error {
		if isDir {
			return nil
		}
		return mem.WriteFile(filepath.Join("/k", rel), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	// The user's files are made from the examples.
	for _, f := range userFiles {
		example, err := os.ReadFile(filepath.Join(manifestsDir, f+".example"))
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.WriteFile("/k/"+f, example); err != nil {
			t.Fatal(err)
		}
	}
	dir := "/k"
	if len(components) > 0 {
		overlay := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../k]\ncomponents:\n"
		for _, c := range components {
			overlay += "  - ../k/" + c + "\n"
		}
		if err := mem.WriteFile("/overlay/kustomization.yaml", []byte(overlay)); err != nil {
			t.Fatal(err)
		}
		dir = "/overlay"
	}
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out := &rendered{}
	for _, res := range resMap.Resources() {
		b, err := res.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		kind := res.GetKind()
		name := kind + "/" + res.GetName()
		var obj any
		switch res.GetApiVersion() + " " + kind {
		case "apps/v1 Deployment":
			out.deployment = one(t, name, out.deployment)
			obj = out.deployment
		case "v1 Service":
			out.service = one(t, name, out.service)
			obj = out.service
		case "policy/v1 PodDisruptionBudget":
			out.pdb = one(t, name, out.pdb)
			obj = out.pdb
		case "autoscaling/v2 HorizontalPodAutoscaler":
			out.hpa = one(t, name, out.hpa)
			obj = out.hpa
		case "networking.k8s.io/v1 NetworkPolicy":
			out.netpol = one(t, name, out.netpol)
			obj = out.netpol
		case "v1 ConfigMap":
			cm := &corev1.ConfigMap{}
			out.configMaps = append(out.configMaps, cm)
			obj = cm
		case "v1 Secret":
			s := &corev1.Secret{}
			out.secrets = append(out.secrets, s)
			obj = s
		case "monitoring.coreos.com/v1 ServiceMonitor":
			m := &monitoringv1.ServiceMonitor{}
			out.monitors = append(out.monitors, m)
			obj = m
		default:
			t.Fatalf("%s (%s): a kind this check does not know; add its type here", name, res.GetApiVersion())
		}
		// Strict, as the API server's field validation: an unknown field, a
		// duplicated one, or one in the wrong case is an error (encoding/json
		// alone matches names case-insensitively, so readOnlyRootFileSystem
		// would pass as readOnlyRootFilesystem; sigs.k8s.io/json does not).
		j, err := yaml.YAMLToJSONStrict(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		strictErrs, err := kjson.UnmarshalStrict(j, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
		if err != nil {
			t.Errorf("%s does not decode as %T: %v", name, obj, err)
		}
		for _, e := range strictErrs {
			t.Errorf("%s does not decode strictly as %T: %v", name, obj, e)
		}
	}
	for what, missing := range map[string]bool{
		"Deployment": out.deployment == nil, "Service": out.service == nil,
		"PodDisruptionBudget": out.pdb == nil, "HorizontalPodAutoscaler": out.hpa == nil,
		"NetworkPolicy": out.netpol == nil,
	} {
		if missing {
			t.Errorf("the build has no %s", what)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// one allocates the single object of a kind, failing on a second.
func one[T any](t *testing.T, name string, have *T) *T {
	t.Helper()
	if have != nil {
		t.Fatalf("%s: a second object of this kind", name)
	}
	return new(T)
}

var (
	lktokenOnce sync.Once
	lktokenDir  string // removed by TestMain
	lktokenBin  string
	lktokenHelp string
	lktokenErr  error
)

// TestMain removes the binary that [binary] built: a run leaves nothing in
// the temporary directory.
func TestMain(m *testing.M) {
	code := m.Run()
	if lktokenDir != "" {
		os.RemoveAll(lktokenDir)
	}
	os.Exit(code)
}

// binary builds cmd/lktoken once and returns it with its --help text.
func binary(t *testing.T) (bin, help string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs lktoken: skipped under -short")
	}
	lktokenOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lktoken-k8s-check-")
		if err != nil {
			lktokenErr = err
			return
		}
		lktokenDir = dir
		lktokenBin = filepath.Join(dir, "lktoken")
		if b := os.Getenv("LKTOKEN_BIN"); b != "" {
			lktokenBin = b // built once by TestChecksCatchBreakage
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", lktokenBin, "./cmd/lktoken")
			build.Dir = repoDir
			if out, err := build.CombinedOutput(); err != nil {
				lktokenErr = fmt.Errorf("go build ./cmd/lktoken: %v\n%s", err, out)
				return
			}
		}
		hctx, hcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer hcancel()
		// --help's text, wherever it is written (stdout or stderr).
		out, err := exec.CommandContext(hctx, lktokenBin, "--help").CombinedOutput()
		if err != nil {
			lktokenErr = fmt.Errorf("lktoken --help: %v\n%s", err, out)
			return
		}
		lktokenHelp = string(out)
	})
	if lktokenErr != nil {
		t.Fatal(lktokenErr)
	}
	return lktokenBin, lktokenHelp
}

// helpNames returns the variables ($NAME) and flags (--name) --help lists.
func helpNames(help string) (vars, flags map[string]bool) {
	vars, flags = map[string]bool{}, map[string]bool{}
	for _, m := range regexp.MustCompile(`\$([A-Z][A-Z0-9_]+)`).FindAllStringSubmatch(help, -1) {
		vars[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^\s+--([a-z0-9-]+)`).FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	return vars, flags
}

// helpDefaults returns the defaults --help gives: "$NAME (default VALUE)".
func helpDefaults(help string) map[string]string {
	defaults := map[string]string{}
	for _, m := range regexp.MustCompile(`\$([A-Z][A-Z0-9_]+) \(default ([^)\s]+)\)`).FindAllStringSubmatch(help, -1) {
		defaults[m[1]] = m[2]
	}
	return defaults
}

// settings returns the environment the lktoken container gets: its envFrom
// ConfigMaps' data and its env entries (values of plain entries only).
func settings(t *testing.T, r *rendered, c *corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Errorf("envFrom %+v: only ConfigMaps are expected", from)
			continue
		}
		cm := r.configMap(from.ConfigMapRef.Name)
		if cm == nil {
			t.Errorf("envFrom names ConfigMap %q, which the build does not have", from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for _, cm := range r.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

func (r *rendered) secret(name string) *corev1.Secret {
	for _, s := range r.secrets {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// container returns the lktoken container of the Deployment.
func container(t *testing.T, d *appsv1.Deployment) *corev1.Container {
	t.Helper()
	cs := d.Spec.Template.Spec.Containers
	if len(cs) != 1 || cs[0].Name != "lktoken" {
		t.Fatalf("want one container named lktoken, have %d", len(cs))
	}
	return &cs[0]
}

func TestRenders(t *testing.T) {
	for _, variant := range [][]string{nil, {"components/servicemonitor"}, {"components/redis-ratelimit"}} {
		t.Run(fmt.Sprint("components=", variant), func(t *testing.T) {
			r := render(t, variant...)
			if slices.Contains(variant, "components/servicemonitor") && len(r.monitors) != 1 {
				t.Errorf("with %v: %d ServiceMonitors, want 1", variant, len(r.monitors))
			}
			if len(variant) == 0 && len(r.monitors) != 0 {
				t.Errorf("the default build has a ServiceMonitor: it needs the Prometheus Operator's CRD, so it must be optional")
			}
		})
	}
}

// TestSettingsExist: every variable and flag the manifests give lktoken is one
// that `lktoken --help` lists (a typo would be silently ignored otherwise).
func TestSettingsExist(t *testing.T) {
	_, help := binary(t)
	vars, flags := helpNames(help)
	if len(vars) < 10 || len(flags) < 10 {
		t.Fatalf("--help lists %d variables and %d flags: the parser no longer matches its format", len(vars), len(flags))
	}
	r := render(t, "components/servicemonitor", "components/redis-ratelimit")
	c := container(t, r.deployment)
	for name := range settings(t, r, c) {
		if !vars[name] && !slices.Contains(goRuntimeEnv, name) {
			t.Errorf("the manifests set %s, which `lktoken --help` does not list", name)
		}
	}
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		if f, ok := strings.CutPrefix(a, "--"); ok {
			f, _, _ = strings.Cut(f, "=")
			if !flags[f] {
				t.Errorf("the manifests pass --%s, which `lktoken --help` does not list", f)
			}
		}
	}
}

// TestProbesAndPortsMatchTheServer starts the real binary with the settings
// the manifests give it (addresses moved to free loopback ports, the example
// keys file) and asks it for every probe path: it must answer 200, on the
// port the manifests' probes resolve to.
func TestProbesAndPortsMatchTheServer(t *testing.T) {
	bin, _ := binary(t)
	r := render(t, "components/servicemonitor")
	c := container(t, r.deployment)
	env := settings(t, r, c)

	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	portOf := func(where string, p intstr.IntOrString) int32 {
		if p.Type == intstr.String {
			n, ok := ports[p.StrVal]
			if !ok {
				t.Errorf("%s: port %q is not a container port", where, p.StrVal)
			}
			return n
		}
		return p.IntVal
	}
	listenPort := func(env string, addr string) int32 {
		_, p, err := net.SplitHostPort(addr)
		n, err2 := strconv.Atoi(p)
		if err != nil || err2 != nil {
			t.Fatalf("%s=%q: not host:port", env, addr)
		}
		return int32(n)
	}
	httpPort := listenPort("LKTOKEN_LISTEN", env["LKTOKEN_LISTEN"])
	if ports["http"] != httpPort {
		t.Errorf("containerPort http %d, but LKTOKEN_LISTEN=%s", ports["http"], env["LKTOKEN_LISTEN"])
	}
	if m := env["LKTOKEN_METRICS_LISTEN"]; m != "" && ports["metrics"] != listenPort("LKTOKEN_METRICS_LISTEN", m) {
		t.Errorf("containerPort metrics %d, but LKTOKEN_METRICS_LISTEN=%s", ports["metrics"], m)
	}
	for _, sp := range r.service.Spec.Ports {
		portOf("Service port "+sp.Name, sp.TargetPort)
	}
	for _, m := range r.monitors {
		for _, ep := range m.Spec.Endpoints {
			if !slices.ContainsFunc(r.service.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
				t.Errorf("ServiceMonitor endpoint port %q is not a Service port", ep.Port)
			}
			if ep.Path != "/metrics" {
				t.Errorf("ServiceMonitor path %q, lktoken serves /metrics", ep.Path)
			}
		}
	}

	// What each probe asks, and of which port.
	type probe struct {
		name, path string
		port       int32
	}
	var probes []probe
	for name, p := range map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s: want an httpGet probe", name)
			continue
		}
		probes = append(probes, probe{name, p.HTTPGet.Path, portOf(name, p.HTTPGet.Port)})
	}
	if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readinessProbe asks %s: only /readyz turns not-ready when a drain begins", c.ReadinessProbe.HTTPGet.Path)
	}
	for _, name := range []string{"startupProbe", "livenessProbe"} {
		if p := map[string]*corev1.Probe{"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe}[name]; p != nil && p.HTTPGet != nil && p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s asks %s, want /healthz (liveness must not fail while draining)", name, p.HTTPGet.Path)
		}
	}

	// The real server with the manifests' settings, on loopback, the files
	// of the keys Secret where the manifests mount them: the examples, with
	// the published placeholder secret replaced as the user must (lktoken
	// refuses to start with it).
	secretDir := t.TempDir()
	for _, f := range userFiles {
		example, _ := os.ReadFile(filepath.Join(manifestsDir, f+".example"))
		// lktoken refuses the examples' placeholder secret: a test one instead.
		example = []byte(strings.ReplaceAll(string(example), "replace-me-with-a-secret-of-at-least-32-characters", "check-test-secret-0123456789abcdefghijklmnop"))
		if err := os.WriteFile(filepath.Join(secretDir, filepath.Base(f)), example, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var cmdEnv []string
	for k, v := range env {
		switch {
		case k == "LKTOKEN_LISTEN" || k == "LKTOKEN_METRICS_LISTEN":
			v = "127.0.0.1:0"
		case k == "LIVEKIT_KEYS_FILE" || k == "LIVEKIT_API_KEY_FILE":
			v = filepath.Join(secretDir, filepath.Base(v))
		case slices.Contains(goRuntimeEnv, k):
			continue
		}
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(c.Command), c.Args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, cmdEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The "listening" and "metrics listening" lines give the ports.
	addrs := map[string]string{}
	var logLines bytes.Buffer
	lines := bufio.NewScanner(stderr)
	for len(addrs) < 2 && lines.Scan() {
		logLines.WriteString(lines.Text() + "\n")
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Addr != "" {
			addrs[rec.Msg] = rec.Addr
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	if addrs["listening"] == "" || addrs["metrics listening"] == "" {
		t.Fatalf("lktoken with the manifests' settings did not start listening (API and metrics):\n%s", logLines.String())
	}
	// The probe ports are the container ports of the same addresses, so a
	// probe of port p asks the server listening at LKTOKEN_LISTEN when p is
	// its port.
	for _, p := range probes {
		if p.port != httpPort {
			t.Errorf("%s asks port %d, but lktoken listens on %d", p.name, p.port, httpPort)
			continue
		}
		get(t, p.name, "http://"+addrs["listening"]+p.path)
	}
	get(t, "metrics", "http://"+addrs["metrics listening"]+"/metrics")
}

// get wants 200 from url, within a few seconds of the server starting.
func get(t *testing.T, what, url string) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		last = resp.Status
	}
	t.Errorf("%s: GET %s: want 200, last %s", what, url, last)
}

// TestKeysAreAFile: the keys reach lktoken as LiveKit's keys.yaml, a file of
// the generated (hashed) Secret mounted read-only as a whole directory, so
// the kubelet refreshes it; settings come from a hashed ConfigMap.
func TestKeysAreAFile(t *testing.T) {
	r := render(t)
	c := container(t, r.deployment)
	env := settings(t, r, c)
	for _, forbidden := range []string{"LIVEKIT_API_SECRET", "LKTOKEN_BEARER_TOKEN", "LIVEKIT_API_KEY"} {
		if _, ok := env[forbidden]; ok {
			t.Errorf("%s is set in the manifests: keys go in the mounted files", forbidden)
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Errorf("env %s comes from a Secret: secrets go in files", e.Name)
		}
	}
	for _, name := range []string{"LIVEKIT_KEYS_FILE", "LIVEKIT_API_KEY_FILE"} {
		t.Run(name, func(t *testing.T) { checkSecretFile(t, r, c, env[name], name) })
	}
}

// checkSecretFile: the file the variable names is a file of a generated
// Secret, mounted read-only without subPath.
func checkSecretFile(t *testing.T, r *rendered, c *corev1.Container, keysFile, name string) {
	if keysFile == "" {
		t.Fatalf("%s is not set", name)
	}
	var mount *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		if strings.HasPrefix(keysFile, m.MountPath+"/") {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("%s=%s is under no volume mount", name, keysFile)
	}
	if !mount.ReadOnly || mount.SubPath != "" {
		t.Errorf("keys mount %+v: want readOnly and no subPath (a subPath is never refreshed)", mount)
	}
	var vol *corev1.Volume
	for i, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Name == mount.Name {
			vol = &r.deployment.Spec.Template.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil {
		t.Fatalf("volume %q is not a Secret", mount.Name)
	}
	s := r.secret(vol.Secret.SecretName)
	if s == nil {
		t.Fatalf("volume %q names Secret %q, which the build does not have", mount.Name, vol.Secret.SecretName)
	}
	file := strings.TrimPrefix(keysFile, mount.MountPath+"/")
	if _, ok := s.Data[file]; !ok {
		t.Errorf("Secret %s has no %s (keys %v)", s.Name, file, keysOf(s.Data))
	}
	if m := vol.Secret.DefaultMode; m != nil && *m&0o007 != 0 {
		t.Errorf("keys volume mode %o: readable by others", *m)
	}
	// kustomize's generators append a hash of the contents to the name, and
	// rewrite every reference: a change makes a new name, so the pods roll.
	hashed := regexp.MustCompile(`^lktoken-(keys|settings)-[a-z0-9]{10}$`)
	if !hashed.MatchString(s.Name) {
		t.Errorf("Secret %q: want a generated name with a content hash", s.Name)
	}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef != nil && !hashed.MatchString(from.ConfigMapRef.Name) {
			t.Errorf("ConfigMap %q: want a generated name with a content hash", from.ConfigMapRef.Name)
		}
	}
}

func keysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestSecurity: non-root (the image's uid), read-only root filesystem, no
// privilege escalation, no capabilities, RuntimeDefault seccomp, no
// service-account token, nothing of the host's.
func TestSecurity(t *testing.T) {
	r := render(t)
	pod := r.deployment.Spec.Template.Spec
	c := container(t, r.deployment)
	psc, csc := pod.SecurityContext, c.SecurityContext
	if psc == nil || csc == nil {
		t.Fatal("want a pod and a container securityContext")
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	if !isTrue(psc.RunAsNonRoot) && !isTrue(csc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not true")
	}
	for _, uid := range []*int64{psc.RunAsUser, csc.RunAsUser} {
		if uid != nil && *uid != imageUser {
			t.Errorf("runAsUser %d, the image's user is %d", *uid, imageUser)
		}
	}
	if psc.RunAsUser == nil && csc.RunAsUser == nil {
		t.Errorf("runAsUser unset: set it to the image's %d so that runAsNonRoot can be checked", imageUser)
	}
	if !isTrue(csc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if !isFalse(csc.AllowPrivilegeEscalation) {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if isTrue(csc.Privileged) {
		t.Error("privileged")
	}
	if csc.Capabilities == nil || !slices.Equal(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
		t.Errorf("capabilities %+v: want drop [ALL] and nothing added", csc.Capabilities)
	}
	seccomp := psc.SeccompProfile
	if csc.SeccompProfile != nil {
		seccomp = csc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v: want RuntimeDefault", seccomp)
	}
	if !isFalse(pod.AutomountServiceAccountToken) {
		t.Error("automountServiceAccountToken is not false: lktoken never calls the Kubernetes API")
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod shares a host namespace")
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
}

// TestAvailability: replicas, rollout, spread, drain timing, resources, and
// that the PDB, HPA, Service and NetworkPolicy select the Deployment's pods.
func TestAvailability(t *testing.T) {
	r := render(t)
	d := r.deployment
	pod := d.Spec.Template
	c := container(t, d)
	env := settings(t, r, c)

	if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %s: want at least 2", show(d.Spec.Replicas))
	}
	ru := d.Spec.Strategy.RollingUpdate
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.String() != "0" {
		t.Errorf("strategy %+v: want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
	}
	if ru != nil && (ru.MaxSurge == nil || ru.MaxSurge.String() == "0" || ru.MaxSurge.String() == "0%") {
		t.Error("maxSurge 0 with maxUnavailable 0: a rollout could never start")
	}
	spreadsNodes := false
	for _, tsc := range pod.Spec.TopologySpreadConstraints {
		if tsc.TopologyKey == "kubernetes.io/hostname" && tsc.LabelSelector != nil && selects(tsc.LabelSelector.MatchLabels, pod.Labels) {
			spreadsNodes = true
		}
	}
	if !spreadsNodes {
		t.Error("no topology spread across nodes (kubernetes.io/hostname) selecting the pods")
	}

	// The grace period must cover the drain delay and the shutdown timeout,
	// as set or, when unset, lktoken's defaults (from --help).
	_, help := binary(t)
	defaults := helpDefaults(help)
	dur := func(name string) time.Duration {
		v, ok := env[name]
		if !ok {
			v, ok = defaults[name]
		}
		if !ok {
			return 0 // a setting this lktoken does not have
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Errorf("%s=%q: not a duration", name, v)
		}
		return d
	}
	need := dur("LKTOKEN_DRAIN_DELAY") + dur("LKTOKEN_SHUTDOWN_TIMEOUT")
	grace := pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || time.Duration(*grace)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %s: want more than drain delay + shutdown timeout (%s)", show(grace), need)
	}

	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := c.Resources.Requests[res], c.Resources.Limits[res]
		if req.IsZero() || lim.IsZero() {
			t.Errorf("%s: want a request and a limit", res)
		} else if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s above limit %s", res, req.String(), lim.String())
		}
	}
	// docs/BENCHMARKS.md: 71 MiB peak RSS at 1000 connections.
	if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Value() < 80<<20 {
		t.Errorf("memory limit %s: under the 71 MiB measured at 1000 connections", lim.String())
	}

	podLabels := pod.Labels
	if !selects(d.Spec.Selector.MatchLabels, podLabels) {
		t.Error("the Deployment's selector does not select its pods")
	}
	if r.pdb.Spec.Selector == nil || !selects(r.pdb.Spec.Selector.MatchLabels, podLabels) {
		t.Error("the PodDisruptionBudget does not select the pods")
	}
	if r.pdb.Spec.MinAvailable == nil && r.pdb.Spec.MaxUnavailable == nil {
		t.Error("the PodDisruptionBudget sets neither minAvailable nor maxUnavailable")
	}
	if !selects(r.service.Spec.Selector, podLabels) {
		t.Error("the Service does not select the pods")
	}
	if !selects(r.netpol.Spec.PodSelector.MatchLabels, podLabels) {
		t.Error("the NetworkPolicy does not select the pods")
	}
	h := r.hpa.Spec
	if h.ScaleTargetRef.Kind != "Deployment" || h.ScaleTargetRef.Name != d.Name {
		t.Errorf("HPA scales %s/%s, not the Deployment %s", h.ScaleTargetRef.Kind, h.ScaleTargetRef.Name, d.Name)
	}
	if h.MinReplicas == nil || *h.MinReplicas < 2 || h.MaxReplicas < *h.MinReplicas {
		t.Errorf("HPA replicas %s..%d: want at least 2", show(h.MinReplicas), h.MaxReplicas)
	}
	cpu := slices.ContainsFunc(h.Metrics, func(m autoscalingv2.MetricSpec) bool {
		return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU
	})
	if !cpu {
		t.Error("HPA does not scale on CPU")
	}
}

// TestNetworkPolicy: ingress only on the service port (the metrics port only
// with the servicemonitor component), egress only DNS and HTTPS.
func TestNetworkPolicy(t *testing.T) {
	for _, variant := range [][]string{nil, {"components/servicemonitor"}, {"components/redis-ratelimit"}} {
		t.Run(fmt.Sprint("components=", variant), func(t *testing.T) {
			r := render(t, variant...)
			np := r.netpol.Spec
			if !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.PolicyTypes, networkingv1.PolicyTypeEgress) {
				t.Errorf("policyTypes %v: want Ingress and Egress", np.PolicyTypes)
			}
			allowed := []string{"http"}
			if slices.Contains(variant, "components/servicemonitor") {
				allowed = append(allowed, "metrics")
			}
			egressAllowed := []string{"53", "443"}
			if slices.Contains(variant, "components/redis-ratelimit") {
				egressAllowed = append(egressAllowed, "6379", "6380", "10000")
			}
			for _, rule := range np.Ingress {
				if len(rule.Ports) == 0 {
					t.Error("an ingress rule without ports opens every port")
				}
				for _, p := range rule.Ports {
					if p.Port == nil || !slices.Contains(allowed, p.Port.String()) {
						t.Errorf("ingress on port %v: want only %v", p.Port, allowed)
					}
					if p.Port != nil && p.Port.String() == "metrics" && len(rule.From) == 0 {
						t.Error("the metrics port is open to every pod")
					}
				}
			}
			var egressPorts []string
			for _, rule := range np.Egress {
				if len(rule.Ports) == 0 {
					t.Error("an egress rule without ports allows everything")
				}
				for _, p := range rule.Ports {
					egressPorts = append(egressPorts, p.Port.String())
				}
			}
			for _, p := range egressPorts {
				if !slices.Contains(egressAllowed, p) {
					t.Errorf("egress to port %s: lktoken needs DNS (53), its identity provider (443) and, with the redis-ratelimit component, Redis only", p)
				}
			}
			if !slices.Contains(egressPorts, "53") {
				t.Error("no egress to DNS")
			}
		})
	}
}

// selects reports whether every label of sel is on labels (a non-empty sel).
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// show prints a pointer's value, or "unset".
func show[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

// TestRedisRateLimitComponent: the component merges the rate limit into
// the settings and mounts the Redis password from its own Secret as the
// file LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE names, never as a variable.
func TestRedisRateLimitComponent(t *testing.T) {
	r := render(t, "components/redis-ratelimit")
	c := container(t, r.deployment)
	env := settings(t, r, c)
	for k, want := range map[string]string{"LKTOKEN_RATE_LIMIT": "20/min", "LKTOKEN_RATE_BURST": "5", "LKTOKEN_RATE_LIMIT_FAILURE": "open",
		"LKTOKEN_RATE_LIMIT_REDIS_PASSWORD_FILE": "/etc/lktoken/redis/password"} {
		if env[k] != want {
			t.Errorf("%s=%q, want %q", k, env[k], want)
		}
	}
	if u := env["LKTOKEN_RATE_LIMIT_REDIS_URL"]; !strings.HasPrefix(u, "rediss://") || strings.Contains(u, "@") {
		t.Errorf("LKTOKEN_RATE_LIMIT_REDIS_URL=%q: want TLS and no password", u)
	}
	if _, ok := env["LKTOKEN_RATE_LIMIT_REDIS_PASSWORD"]; ok {
		t.Error("the password is a variable: it must be a mounted file")
	}
	if env["LIVEKIT_URL"] == "" || env["LKTOKEN_ALLOWED_ORIGINS"] == "" {
		t.Error("merging the component's settings lost the base settings")
	}
	var secretName string
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		if v.Secret != nil && slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == v.Name && m.MountPath == "/etc/lktoken/redis" }) {
			secretName = v.Secret.SecretName
		}
	}
	s := r.secret(secretName)
	if s == nil || len(s.Data["password"]) == 0 || !strings.HasPrefix(secretName, "lktoken-redis") {
		t.Fatalf("/etc/lktoken/redis is not the Secret lktoken-redis with a password key (volume's secret %q)", secretName)
	}
}
