package check

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// breakages are deliberate mistakes in the manifests, each with what the
// checks must say about it.
var breakages = []struct {
	name, file, old, new, want string
}{
	{"misspelt field", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", `unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"`},
	{"misspelt variable", "settings.env", "LKTOKEN_LOG_LEVEL=info", "LKTOKEN_LOGLEVEL=info", "the manifests set LKTOKEN_LOGLEVEL, which `lktoken --help` does not list"},
	{"unknown flag", "deployment.yaml", "          image: lktoken\n", "          image: lktoken\n          args: [\"--listen-address=:8080\"]\n", "the manifests pass --listen-address"},
	{"readiness on /healthz", "deployment.yaml", "              path: /readyz", "              path: /healthz", "readinessProbe asks /healthz"},
	{"probe path the server lacks", "deployment.yaml", "              path: /healthz\n              port: http\n            periodSeconds: 10", "              path: /livez\n              port: http\n            periodSeconds: 10", "/livez: want 200, last 404"},
	{"probe on another port", "deployment.yaml", "              path: /readyz\n              port: http", "              path: /readyz\n              port: 8081", "readinessProbe asks port 8081, but lktoken listens on 8080"},
	{"containerPort is not the listen port", "deployment.yaml", "containerPort: 8080", "containerPort: 8000", "containerPort http 8000, but LKTOKEN_LISTEN=:8080"},
	{"listen address broken", "deployment.yaml", `value: ":8080"`, `value: "8080"`, `LKTOKEN_LISTEN="8080": not host:port`},
	{"grace period too short", "deployment.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 15", "terminationGracePeriodSeconds 15: want more than drain delay + shutdown timeout (20s)"},
	{"privilege escalation", "deployment.yaml", "allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "allowPrivilegeEscalation is not false"},
	{"capabilities kept", "deployment.yaml", `drop: ["ALL"]`, `drop: ["NET_RAW"]`, "want drop [ALL] and nothing added"},
	{"root", "deployment.yaml", "runAsUser: 65532", "runAsUser: 0", "runAsUser 0, the image's user is 65532"},
	{"seccomp unconfined", "deployment.yaml", "type: RuntimeDefault", "type: Unconfined", "want RuntimeDefault"},
	{"service-account token", "deployment.yaml", "automountServiceAccountToken: false", "automountServiceAccountToken: true", "automountServiceAccountToken is not false"},
	{"one replica", "deployment.yaml", "replicas: 2", "replicas: 1", "replicas 1: want at least 2"},
	{"maxUnavailable 1", "deployment.yaml", "maxUnavailable: 0", "maxUnavailable: 1", "want RollingUpdate with maxUnavailable 0"},
	{"no spread over nodes", "deployment.yaml", "topologyKey: kubernetes.io/hostname", "topologyKey: kubernetes.io/os", "no topology spread across nodes"},
	{"no memory limit", "deployment.yaml", "              memory: 128Mi\n", "", "memory: want a request and a limit"},
	{"keys through a subPath", "deployment.yaml", "              readOnly: true\n", "              readOnly: true\n              subPath: keys.yaml\n", "a subPath is never refreshed"},
	{"keys file misnamed", "deployment.yaml", "value: /etc/lktoken/keys/keys.yaml", "value: /etc/lktoken/keys/keys.yml", "has no keys.yml"},
	{"a secret in the environment", "settings.env", "LKTOKEN_LOG_FORMAT=json", "LKTOKEN_LOG_FORMAT=json\nLIVEKIT_API_SECRET=0123456789abcdef0123456789abcdef", "LIVEKIT_API_SECRET is set in the manifests"},
	{"no content hash", "kustomization.yaml", "secretGenerator:\n", "generatorOptions:\n  disableNameSuffixHash: true\nsecretGenerator:\n", `Secret "lktoken-keys": want a generated name with a content hash`},
	{"PDB selects nothing", "poddisruptionbudget.yaml", "app.kubernetes.io/instance: lktoken", "app.kubernetes.io/instance: lktoken-old", "the PodDisruptionBudget does not select the pods"},
	{"HPA scales another", "horizontalpodautoscaler.yaml", "    name: lktoken\n", "    name: lktoken-api\n", "HPA scales Deployment/lktoken-api"},
	{"HPA field misspelt", "horizontalpodautoscaler.yaml", "averageUtilization: 70", "averageUtilisation: 70", `unknown field "spec.metrics[0].resource.target.averageUtilisation"`},
	{"ingress on every port", "networkpolicy.yaml", "    - ports:\n        - port: http\n          protocol: TCP\n  egress:", "    - {}\n  egress:", "an ingress rule without ports opens every port"},
	{"egress anywhere", "networkpolicy.yaml", "    - ports:\n        - port: 443\n          protocol: TCP\n", "    - {}\n", "an egress rule without ports allows everything"},
	{"metrics open to every pod", "components/servicemonitor/kustomization.yaml", "          from:\n            - namespaceSelector:\n                matchLabels:\n                  kubernetes.io/metadata.name: monitoring\n", "", "the metrics port is open to every pod"},
	{"ServiceMonitor port misnamed", "components/servicemonitor/servicemonitor.yaml", "    - port: metrics", "    - port: metric", `ServiceMonitor endpoint port "metric" is not a Service port`},
	{"ServiceMonitor field misspelt", "components/servicemonitor/servicemonitor.yaml", "      interval: 30s", "      intervall: 30s", `unknown field "spec.endpoints[0].intervall"`},
	{"metrics port is not the metrics listener", "settings.env", "LKTOKEN_METRICS_LISTEN=:9090", "LKTOKEN_METRICS_LISTEN=:9100", "containerPort metrics 9090, but LKTOKEN_METRICS_LISTEN=:9100"},
}

// TestChecksCatchBreakage runs this package's checks against copies of the
// manifests, each broken in one way, and wants each to fail saying why:
// a check that passes a broken manifest proves nothing.
func TestChecksCatchBreakage(t *testing.T) {
	if os.Getenv("LKTOKEN_K8S_DIR") != "" {
		t.Skip("inside a breakage run")
	}
	bin, _ := binary(t) // skips under -short
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	testBin := filepath.Join(tmp, "check.test")
	if out, err := exec.CommandContext(ctx, "go", "test", "-c", "-o", testBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	for i, b := range breakages {
		dir := filepath.Join(tmp, "k"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		copyManifests(t, dir)
		p := filepath.Join(dir, b.file)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(src), b.old) {
			t.Errorf("%s: %s no longer contains %q: update the breakage", b.name, b.file, b.old)
			continue
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(src), b.old, b.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		run := exec.CommandContext(ctx, testBin, "-test.count=1")
		run.Env = append(os.Environ(), "LKTOKEN_K8S_DIR="+dir, "LKTOKEN_BIN="+bin)
		out, err := run.CombinedOutput()
		switch {
		case err == nil:
			t.Errorf("%s (%s): every check passed", b.name, b.file)
		case !strings.Contains(string(out), b.want):
			t.Errorf("%s (%s): the checks failed, but without %q:\n%s", b.name, b.file, b.want, out)
		}
	}
	t.Logf("%d deliberate breakages, each caught with its reason", len(breakages))
}

// copyManifests copies deploy/kubernetes, without this package and a
// user's own files (render makes those from the examples), to dir.
func copyManifests(t *testing.T, dir string) {
	t.Helper()
	err := eachManifest(func(rel string, isDir bool, b []byte) error {
		if isDir {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
