// Package azure checks deploy/azure-functions and deploy/azure-container-apps
// without Azure: the Functions custom handler is run as the Functions host
// runs it (FUNCTIONS_CUSTOMHANDLER_PORT set, requests forwarded over HTTP/1.1
// on exactly the routes the function.json files declare) and mints on both
// routes; the Container Apps YAML decodes strictly into the fields it uses and
// agrees with the server (settings in --help, probes, ports, secret files,
// grace period).
//
// Skipped under -short (it builds and runs lktoken).
package azure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"gopkg.in/yaml.v3"

	"github.com/lktoken/lktoken/e2e/harness"
	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/gen/go/lktoken/v1/lktokenv1connect"
)

// built is the lktoken binary the tests run, with its --help text.
type built struct{ bin, help string }

// suite builds lktoken once for the package; TestMain removes it.
var suite harness.Suite[built]

func TestMain(m *testing.M) { suite.Main(m) }

// lktoken builds the binary once ($LKTOKEN_BIN if set) and returns it with
// its --help text.
func lktoken(t *testing.T) (string, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs lktoken: skipped under -short")
	}
	b := suite.Get(t, func(ctx context.Context, td *harness.Teardown) (built, error) {
		var b built
		if b.bin = os.Getenv("LKTOKEN_BIN"); b.bin == "" {
			dir, err := td.TempDir("lktoken-e2e-azure-")
			if err != nil {
				return b, err
			}
			if b.bin, err = harness.BuildLKToken(ctx, dir); err != nil {
				return b, err
			}
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, b.bin, "--help").CombinedOutput()
		if err != nil {
			return b, fmt.Errorf("lktoken --help: %v\n%s", err, out)
		}
		b.help = string(out)
		return b, nil
	})
	return b.bin, b.help
}

// deployDir is deploy/<name>, or $LKTOKEN_DEPLOY_DIR/<name>: a broken copy,
// when TestChecksCatchBreakage runs this test binary against one.
func deployDir(t *testing.T, name string) string {
	t.Helper()
	if d := os.Getenv("LKTOKEN_DEPLOY_DIR"); d != "" {
		return filepath.Join(d, name)
	}
	root, err := harness.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "deploy", name)
}

// decodeJSON decodes path strictly into v: an unknown field fails.
func decodeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// encoding/json matches names case-insensitively; the Functions host
	// does not, so check the spelling of every key too.
	var raw any
	_ = json.Unmarshal(b, &raw)
	exactKeys(t, path, raw, reflect.TypeOf(v).Elem(), "")
}

// exactKeys fails for every key of raw (JSON) that is not spelt exactly as a
// json tag of the struct type typ.
func exactKeys(t *testing.T, file string, raw any, typ reflect.Type, at string) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	switch raw := raw.(type) {
	case []any:
		for i, e := range raw {
			exactKeys(t, file, e, typ, fmt.Sprintf("%s[%d]", at, i))
		}
	case map[string]any:
		if typ.Kind() != reflect.Struct {
			return // a map or raw JSON: any keys
		}
		for k, v := range raw {
			found := false
			for i := range typ.NumField() {
				if name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ","); name == k {
					exactKeys(t, file, v, typ.Field(i).Type, at+"."+k)
					found = true
				}
			}
			if !found {
				t.Errorf("%s: %s%s is not spelt as the host reads it", file, at, "."+k)
			}
		}
	}
}

// helpVars are the variables `lktoken --help` lists.
func helpVars(help string) map[string]bool {
	vars := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$([A-Z][A-Z0-9_]+)`).FindAllStringSubmatch(help, -1) {
		vars[m[1]] = true
	}
	return vars
}

type hostJSON struct {
	Version       string `json:"version"`
	CustomHandler struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
	ExtensionBundle struct {
		ID      string `json:"id"`
		Version string `json:"version"`
	} `json:"extensionBundle"`
	Logging json.RawMessage `json:"logging"`
}

type functionJSON struct {
	Bindings []struct {
		Type      string   `json:"type"`
		Direction string   `json:"direction"`
		Name      string   `json:"name"`
		AuthLevel string   `json:"authLevel"`
		Methods   []string `json:"methods"`
		Route     string   `json:"route"`
	} `json:"bindings"`
}

// route is one HTTP trigger: what the host forwards to the handler.
type route struct {
	function, path string
	methods        []string
}

func functionsApp(t *testing.T) (hostJSON, []route, map[string]string) {
	t.Helper()
	dir := deployDir(t, "azure-functions")
	var host hostJSON
	decodeJSON(t, filepath.Join(dir, "host.json"), &host)
	var routes []route
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name(), "function.json")
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			continue
		}
		var fn functionJSON
		decodeJSON(t, p, &fn)
		n := 0
		for _, b := range fn.Bindings {
			if b.Type == "httpTrigger" {
				n++
				routes = append(routes, route{e.Name(), "/" + b.Route, b.Methods})
				if b.Direction != "in" || b.AuthLevel != "anonymous" {
					t.Errorf("%s: httpTrigger direction %q authLevel %q: want in, anonymous (lktoken authenticates itself)", p, b.Direction, b.AuthLevel)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d httpTriggers, want 1", p, n)
		}
	}
	var settings struct {
		IsEncrypted bool              `json:"IsEncrypted"`
		Values      map[string]string `json:"Values"`
	}
	decodeJSON(t, filepath.Join(dir, "local.settings.json.example"), &settings)
	return host, routes, settings.Values
}

func TestFunctionsAppDefinition(t *testing.T) {
	_, help := lktoken(t)
	host, routes, values := functionsApp(t)
	d := host.CustomHandler.Description
	if host.Version != "2.0" || d.DefaultExecutablePath != "lktoken" || len(d.Arguments) != 0 {
		t.Errorf("host.json: version %q, defaultExecutablePath %q, arguments %q: want 2.0, lktoken (what build.sh puts beside it), none",
			host.Version, d.DefaultExecutablePath, d.Arguments)
	}
	if !host.CustomHandler.EnableForwardingHTTPRequest {
		t.Error("host.json: enableForwardingHttpRequest is not true: the handler would get the host's JSON envelope, not the request")
	}
	if p := host.Extensions.HTTP.RoutePrefix; p == nil {
		t.Error("host.json: extensions.http.routePrefix unset: the host's default prefixes every path with /api")
	} else if *p != "" {
		t.Errorf("host.json: extensions.http.routePrefix %q: want \"\", or every path gains /%s", *p, *p)
	}
	paths := map[string]bool{}
	for _, r := range routes {
		paths[r.path] = true
		if !slices.Contains(r.methods, "post") || !slices.Contains(r.methods, "options") {
			t.Errorf("%s: methods %q: want post (the call) and options (the CORS preflight)", r.function, r.methods)
		}
	}
	for _, want := range []string{"/lktoken.v1.TokenService/GenerateToken", "/api/token"} {
		if !paths[want] {
			t.Errorf("no function routes %s", want)
		}
	}
	vars := helpVars(help)
	if values["FUNCTIONS_WORKER_RUNTIME"] != "custom" {
		t.Errorf("local.settings.json.example: FUNCTIONS_WORKER_RUNTIME %q, want custom", values["FUNCTIONS_WORKER_RUNTIME"])
	}
	for name := range values {
		if !vars[name] && !strings.HasPrefix(name, "FUNCTIONS_") && !strings.HasPrefix(name, "AzureWebJobs") {
			t.Errorf("local.settings.json.example sets %s, which `lktoken --help` does not list", name)
		}
	}
	for _, name := range []string{"LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_URL"} {
		if _, ok := values[name]; !ok {
			t.Errorf("local.settings.json.example lacks LiveKit's %s", name)
		}
	}
}

// functionsHost forwards, as the Functions host does with
// enableForwardingHttpRequest, the requests of the declared routes (and
// methods) to the handler over HTTP/1.1, path and query unchanged; anything
// else is the host's 404.
func functionsHost(t *testing.T, routes []route, handler string) string {
	t.Helper()
	target, _ := url.Parse(handler)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 8} // HTTP/1.1 only
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, rt := range routes {
			if strings.EqualFold(r.URL.Path, rt.path) && slices.Contains(rt.methods, strings.ToLower(r.Method)) {
				proxy.ServeHTTP(w, r)
				return
			}
		}
		http.NotFound(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func TestFunctionsCustomHandlerMints(t *testing.T) {
	bin, _ := lktoken(t)
	_, routes, values := functionsApp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	creds := harness.NewCredentials()
	port := harness.FreePort(t)
	// The app settings of local.settings.json.example, with real credentials,
	// and the variable the host sets; no LKTOKEN_LISTEN.
	env := []string{"FUNCTIONS_CUSTOMHANDLER_PORT=" + strconv.Itoa(port), "LKTOKEN_LISTEN="}
	for k, v := range values {
		switch k {
		case "LIVEKIT_API_KEY":
			v = creds.APIKey
		case "LIVEKIT_API_SECRET":
			v = creds.APISecret
		}
		env = append(env, k+"="+v)
	}
	lt, err := harness.StartLKToken(ctx, bin, harness.LKTokenOptions{Credentials: creds, LiveKitURL: values["LIVEKIT_URL"], Env: env})
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Stop() //nolint:errcheck
	if want := "http://127.0.0.1:" + strconv.Itoa(port); lt.URL != want {
		t.Fatalf("lktoken listens at %s, want %s (FUNCTIONS_CUSTOMHANDLER_PORT)", lt.URL, want)
	}
	host := functionsHost(t, routes, lt.URL)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: false}}
	check := func(how, token string) {
		t.Helper()
		v, err := auth.ParseAPIToken(token)
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		_, grants, err := v.Verify(creds.APISecret)
		if err != nil || grants.Identity != "ada" || grants.Video == nil || grants.Video.Room != "fn" || !grants.Video.RoomJoin {
			t.Errorf("%s: token %v, grants %+v", how, err, grants)
		}
	}

	// Connect, binary protobuf, through the generated client.
	svc := lktokenv1connect.NewTokenServiceClient(client, host)
	res, err := svc.GenerateToken(ctx, &lktokenv1.GenerateTokenRequest{RoomName: "fn", ParticipantIdentity: "ada"})
	if err != nil {
		t.Fatalf("Connect (binary) through the Functions host: %v", err)
	}
	check("Connect binary", res.GetToken())
	// Connect JSON, as curl sends it.
	var cj struct{ Token string }
	post(t, client, host+"/lktoken.v1.TokenService/GenerateToken", `{"roomName":"fn","participantIdentity":"ada"}`, http.StatusOK, &cj)
	check("Connect JSON", cj.Token)
	// LiveKit's /api/token.
	var lj struct {
		ParticipantToken string `json:"participant_token"`
	}
	post(t, client, host+"/api/token", `{"room_name":"fn","participant_identity":"ada"}`, http.StatusCreated, &lj)
	check("/api/token", lj.ParticipantToken)
	// The CORS preflight reaches lktoken too.
	req, _ := http.NewRequest(http.MethodOptions, host+"/api/token", nil)
	req.Header.Set("Origin", "http://localhost:4200")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") != "http://localhost:4200" {
		t.Errorf("preflight through the host: %s, Allow-Origin %q", resp.Status, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// The audit log has every mint (log lines arrive batched, a moment later).
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(lt.Logs(), `"outcome":"issued"`) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := strings.Count(lt.Logs(), `"outcome":"issued"`); n != 3 {
		t.Errorf("%d tokens issued, want 3", n)
	}
}

func post(t *testing.T, client *http.Client, url, body string, want int, into any) {
	t.Helper()
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %s %s", url, resp.Status, harness.Redact(string(b)))
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
}

// containerApp is the part of the Container Apps resource the YAML uses,
// spelt as the Microsoft.App/containerApps schema spells it; decoding with
// KnownFields fails on any other (misspelt) field.
type containerApp struct {
	Location string `yaml:"location"`
	Type     string `yaml:"type"`
	Identity struct {
		Type                   string              `yaml:"type"`
		UserAssignedIdentities map[string]struct{} `yaml:"userAssignedIdentities"`
	} `yaml:"identity"`
	Properties struct {
		ManagedEnvironmentID string `yaml:"managedEnvironmentId"`
		Configuration        struct {
			ActiveRevisionsMode string `yaml:"activeRevisionsMode"`
			Ingress             struct {
				External      bool   `yaml:"external"`
				TargetPort    int    `yaml:"targetPort"`
				Transport     string `yaml:"transport"`
				AllowInsecure bool   `yaml:"allowInsecure"`
				Traffic       []struct {
					LatestRevision bool `yaml:"latestRevision"`
					Weight         int  `yaml:"weight"`
				} `yaml:"traffic"`
			} `yaml:"ingress"`
			Registries []struct {
				Server   string `yaml:"server"`
				Identity string `yaml:"identity"`
			} `yaml:"registries"`
			Secrets []struct {
				Name        string `yaml:"name"`
				KeyVaultURL string `yaml:"keyVaultUrl"`
				Identity    string `yaml:"identity"`
				Value       string `yaml:"value"`
			} `yaml:"secrets"`
		} `yaml:"configuration"`
		Template struct {
			TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
			Containers                    []struct {
				Name      string `yaml:"name"`
				Image     string `yaml:"image"`
				Resources struct {
					CPU    float64 `yaml:"cpu"`
					Memory string  `yaml:"memory"`
				} `yaml:"resources"`
				Env []struct {
					Name      string `yaml:"name"`
					Value     string `yaml:"value"`
					SecretRef string `yaml:"secretRef"`
				} `yaml:"env"`
				VolumeMounts []struct {
					VolumeName string `yaml:"volumeName"`
					MountPath  string `yaml:"mountPath"`
				} `yaml:"volumeMounts"`
				Probes []struct {
					Type    string `yaml:"type"`
					HTTPGet struct {
						Path string `yaml:"path"`
						Port int    `yaml:"port"`
					} `yaml:"httpGet"`
					InitialDelaySeconds int `yaml:"initialDelaySeconds"`
					PeriodSeconds       int `yaml:"periodSeconds"`
					TimeoutSeconds      int `yaml:"timeoutSeconds"`
					FailureThreshold    int `yaml:"failureThreshold"`
					SuccessThreshold    int `yaml:"successThreshold"`
				} `yaml:"probes"`
			} `yaml:"containers"`
			Volumes []struct {
				Name        string `yaml:"name"`
				StorageType string `yaml:"storageType"`
				Secrets     []struct {
					SecretRef string `yaml:"secretRef"`
					Path      string `yaml:"path"`
				} `yaml:"secrets"`
			} `yaml:"volumes"`
			Scale struct {
				MinReplicas int `yaml:"minReplicas"`
				MaxReplicas int `yaml:"maxReplicas"`
				Rules       []struct {
					Name string `yaml:"name"`
					HTTP *struct {
						Metadata map[string]string `yaml:"metadata"`
					} `yaml:"http"`
				} `yaml:"rules"`
			} `yaml:"scale"`
		} `yaml:"template"`
	} `yaml:"properties"`
}

func TestContainerAppYAML(t *testing.T) {
	bin, help := lktoken(t)
	b, err := os.ReadFile(filepath.Join(deployDir(t, "azure-container-apps"), "containerapp.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var app containerApp
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&app); err != nil {
		t.Fatalf("containerapp.yaml: %v", err)
	}
	p := app.Properties
	if len(p.Template.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(p.Template.Containers))
	}
	c := p.Template.Containers[0]
	env := map[string]string{}
	vars := helpVars(help)
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if !vars[e.Name] {
			t.Errorf("env %s is not a setting `lktoken --help` lists", e.Name)
		}
		if e.Name == "LIVEKIT_API_SECRET" || e.Name == "LIVEKIT_API_KEY" || e.SecretRef != "" {
			t.Errorf("env %s: keys go in the mounted files", e.Name)
		}
	}
	_, listenPort, _ := net.SplitHostPort(env["LKTOKEN_LISTEN"])
	ing := p.Configuration.Ingress
	if strconv.Itoa(ing.TargetPort) != listenPort {
		t.Errorf("ingress targetPort %d, LKTOKEN_LISTEN %q", ing.TargetPort, env["LKTOKEN_LISTEN"])
	}
	if ing.Transport != "http2" || ing.AllowInsecure {
		t.Errorf("ingress transport %q allowInsecure %v: want http2 (gRPC) and HTTPS only", ing.Transport, ing.AllowInsecure)
	}
	probes := map[string]string{}
	for _, pr := range c.Probes {
		probes[pr.Type] = pr.HTTPGet.Path
		if pr.HTTPGet.Port != ing.TargetPort {
			t.Errorf("%s probe on port %d, the server's is %d", pr.Type, pr.HTTPGet.Port, ing.TargetPort)
		}
	}
	if probes["Startup"] != "/healthz" || probes["Liveness"] != "/healthz" || probes["Readiness"] != "/readyz" {
		t.Errorf("probes %v: want Startup and Liveness on /healthz, Readiness on /readyz", probes)
	}
	// Key Vault secrets, mounted as the files the server reads.
	kv := map[string]bool{}
	for _, s := range p.Configuration.Secrets {
		if s.KeyVaultURL == "" || s.Identity == "" || s.Value != "" {
			t.Errorf("secret %s: want a keyVaultUrl and an identity, no value", s.Name)
		}
		kv[s.Name] = true
	}
	files := map[string]string{} // mounted path -> secret
	for _, m := range c.VolumeMounts {
		for _, v := range p.Template.Volumes {
			if v.Name != m.VolumeName {
				continue
			}
			if v.StorageType != "Secret" {
				t.Errorf("volume %s: storageType %q, want Secret", v.Name, v.StorageType)
			}
			for _, s := range v.Secrets {
				files[m.MountPath+"/"+s.Path] = s.SecretRef
			}
		}
	}
	for _, name := range []string{"LIVEKIT_KEYS_FILE", "LIVEKIT_API_KEY_FILE"} {
		if ref, ok := files[env[name]]; !ok || !kv[ref] {
			t.Errorf("%s=%q is not a mounted Key Vault secret (mounted: %v)", name, env[name], files)
		}
	}
	parse := func(name string) time.Duration {
		d, err := time.ParseDuration(env[name])
		if err != nil {
			t.Errorf("%s=%q: %v", name, env[name], err)
		}
		return d
	}
	if need := parse("LKTOKEN_DRAIN_DELAY") + parse("LKTOKEN_SHUTDOWN_TIMEOUT"); time.Duration(p.Template.TerminationGracePeriodSeconds)*time.Second <= need {
		t.Errorf("terminationGracePeriodSeconds %d: want more than drain delay + shutdown timeout (%s)", p.Template.TerminationGracePeriodSeconds, need)
	}
	httpRule := slices.ContainsFunc(p.Template.Scale.Rules, func(r struct {
		Name string `yaml:"name"`
		HTTP *struct {
			Metadata map[string]string `yaml:"metadata"`
		} `yaml:"http"`
	}) bool {
		return r.HTTP != nil && r.HTTP.Metadata["concurrentRequests"] != ""
	})
	if !httpRule || p.Template.Scale.MinReplicas < 1 {
		t.Errorf("scale %+v: want an HTTP concurrency rule and at least one replica", p.Template.Scale)
	}

	// The server starts with these settings (placeholders filled in) and
	// answers every probe with 200.
	dir := t.TempDir()
	creds := harness.NewCredentials()
	if err := os.WriteFile(filepath.Join(dir, "keys.yaml"), []byte(creds.APIKey+": "+creds.APISecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "signing-key"), []byte(creds.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	placeholder := regexp.MustCompile(`<[^>]+>`)
	var runEnv []string
	for k, v := range env {
		switch k {
		case "LKTOKEN_LISTEN":
			continue // the harness listens on a free loopback port
		case "LIVEKIT_KEYS_FILE", "LIVEKIT_API_KEY_FILE":
			v = filepath.Join(dir, filepath.Base(v))
		}
		runEnv = append(runEnv, k+"="+placeholder.ReplaceAllString(v, "example.com"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lt, err := harness.StartLKToken(ctx, bin, harness.LKTokenOptions{Credentials: harness.Credentials{}, LiveKitURL: "wss://example.com",
		Env: append(runEnv, "LIVEKIT_API_KEY=", "LIVEKIT_API_SECRET="), Args: []string{"--drain-delay", "0"}})
	if err != nil {
		t.Fatal(err)
	}
	defer lt.Stop() //nolint:errcheck
	for typ, path := range probes {
		resp, err := http.Get(lt.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s probe %s: %s", typ, path, resp.Status)
		}
	}
}
