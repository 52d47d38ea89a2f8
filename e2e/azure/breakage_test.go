package azure

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

// breakages are deliberate mistakes in the Azure configurations, each with
// what the checks must say about it.
var breakages = []struct {
	name, file, old, new, want string
}{
	{"route prefix kept", "azure-functions/host.json", `"routePrefix": ""`, `"routePrefix": "api"`, `routePrefix "api"`},
	{"request not forwarded", "azure-functions/host.json", `"enableForwardingHttpRequest": true`, `"enableForwardingHttpRequest": false`, "enableForwardingHttpRequest is not true"},
	{"key miscased", "azure-functions/host.json", `"defaultExecutablePath"`, `"defaultExecutablepath"`, "defaultExecutablepath is not spelt as the host reads it"},
	{"route misspelt", "azure-functions/TokenEndpoint/function.json", `"route": "api/token"`, `"route": "api/tokens"`, "no function routes /api/token"},
	{"no preflight", "azure-functions/GenerateToken/function.json", `"methods": ["post", "options"]`, `"methods": ["post"]`, "want post (the call) and options (the CORS preflight)"},
	{"setting misnamed", "azure-functions/local.settings.json.example", `"LIVEKIT_URL"`, `"LIVEKIT_SERVER_URL"`, "sets LIVEKIT_SERVER_URL, which `lktoken --help` does not list"},
	{"target port", "azure-container-apps/containerapp.yaml", "targetPort: 8080", "targetPort: 80", `ingress targetPort 80, LKTOKEN_LISTEN ":8080"`},
	{"no HTTP/2", "azure-container-apps/containerapp.yaml", "transport: http2", "transport: http", `transport "http"`},
	{"readiness on /healthz", "azure-container-apps/containerapp.yaml", "path: /readyz", "path: /healthz", "Readiness on /readyz"},
	{"field miscased", "azure-container-apps/containerapp.yaml", "storageType: Secret", "storagetype: Secret", "field storagetype not found"},
	{"secret file misnamed", "azure-container-apps/containerapp.yaml", "path: signing-key", "path: signing_key", "is not a mounted Key Vault secret"},
	{"grace period too short", "azure-container-apps/containerapp.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds 20: want more than"},
	{"setting misspelt", "azure-container-apps/containerapp.yaml", "LKTOKEN_ALLOWED_ORIGINS", "LKTOKEN_ALLOWED_ORIGIN", "env LKTOKEN_ALLOWED_ORIGIN is not a setting"},
}

// TestChecksCatchBreakage runs this package's checks against copies of
// deploy/azure-*, each broken in one way, and wants each to fail saying why.
func TestChecksCatchBreakage(t *testing.T) {
	if os.Getenv("LKTOKEN_DEPLOY_DIR") != "" {
		t.Skip("inside a breakage run")
	}
	bin, _ := lktoken(t) // skips under -short
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	testBin := filepath.Join(tmp, "azure.test")
	if out, err := exec.CommandContext(ctx, "go", "test", "-c", "-o", testBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	for i, b := range breakages {
		dir := filepath.Join(tmp, "deploy", strings.Repeat("x", i+1))
		for _, sub := range []string{"azure-functions", "azure-container-apps"} {
			copyTree(t, filepath.Join(root, "deploy", sub), filepath.Join(dir, sub))
		}
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
		run := exec.CommandContext(ctx, testBin, "-test.count=1", "-test.run", "TestFunctions|TestContainerApp")
		run.Dir = "."
		run.Env = append(os.Environ(), "LKTOKEN_DEPLOY_DIR="+dir, "LKTOKEN_BIN="+bin)
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

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if rel == "lktoken" || rel == "local.settings.json" { // build.sh's binary, a user's settings
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
