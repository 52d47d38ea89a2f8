package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// HydraBinary returns the path of the Ory Hydra binary: the one named by
// $HYDRA_BIN, else the one e2e/hydra/build.sh prints, building it (a few
// minutes cold) when it is not cached yet.
func HydraBinary(ctx context.Context) (string, error) {
	return cachedBinary(ctx, "HYDRA_BIN", "hydra")
}

// Hydra is a running Ory Hydra (OAuth 2.0 and OpenID Connect provider) on
// loopback, with a throwaway sqlite database and JWT access tokens (RS256,
// each with a kid).
type Hydra struct {
	// Issuer is the iss of every token, with Hydra's trailing slash:
	// http://127.0.0.1:PORT/. Discovery is at Issuer+".well-known/openid-configuration".
	Issuer string
	// PublicURL serves /oauth2/token and /.well-known/jwks.json.
	PublicURL string
	// AdminURL serves the admin API (clients, keys, login and consent).
	AdminURL string

	// LoginConsentURL is the login-and-consent app the browser flows go
	// through; it signs in TestUser.
	LoginConsentURL string

	bin    string
	dir    string
	config string
	secret string
	proc   *process
	lc     *loginConsent
}

// HydraClient is an OAuth 2.0 client registered with Hydra.
type HydraClient struct {
	ID     string `json:"client_id"`
	Secret string `json:"client_secret"`
}

// StartHydra migrates a fresh sqlite database and starts `hydra serve all
// --dev` with public and admin listeners on free 127.0.0.1 ports. It returns
// once both answer /health/ready. A start that loses a port is retried on
// new ones.
func StartHydra(ctx context.Context, bin string) (*Hydra, error) {
	return retryStart(ctx, func() (*Hydra, error) { return startHydraOnce(ctx, bin) })
}

func startHydraOnce(ctx context.Context, bin string) (*Hydra, error) {
	public, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	admin, err := freeTCPPort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lktoken-e2e-hydra-")
	if err != nil {
		return nil, err
	}
	h := &Hydra{
		Issuer:    "http://127.0.0.1:" + strconv.Itoa(public) + "/",
		PublicURL: "http://127.0.0.1:" + strconv.Itoa(public),
		AdminURL:  "http://127.0.0.1:" + strconv.Itoa(admin),
		bin:       bin,
		dir:       dir,
		config:    filepath.Join(dir, "hydra.yaml"),
		secret:    randomHex(32),
	}
	if h.lc, err = startLoginConsent(func() string { return h.AdminURL }); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	h.LoginConsentURL = h.lc.URL
	if err := os.WriteFile(h.config, []byte(h.configYAML(public, admin)), 0o600); err != nil {
		h.lc.close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	mctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if out, err := h.cli(mctx, "migrate", "sql", "up", "-e", "--yes", "-c", h.config); err != nil {
		h.lc.close()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("hydra migrate: %w\n%s", err, tail(out, 20))
	}
	if err := h.serve(ctx); err != nil {
		h.lc.close()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return h, nil
}

// serve starts `hydra serve all` on h's configuration and waits until it is
// ready.
func (h *Hydra) serve(ctx context.Context) error {
	proc, err := startProcess("hydra", h.bin, []string{"serve", "all", "--dev", "--sqa-opt-out", "-c", h.config},
		h.env(), []string{h.secret})
	if err != nil {
		return err
	}
	h.proc = proc
	for _, u := range []string{h.PublicURL + "/health/ready", h.AdminURL + "/health/ready"} {
		if err := waitReady(ctx, proc, u); err != nil {
			stopErr := proc.stop(stopGrace)
			return fmt.Errorf("hydra (%s): %w (stop: %v)\nlast output:\n%s", u, err, stopErr, tail(proc.Logs(), 30))
		}
	}
	return nil
}

// configYAML is a loopback configuration known to work with Hydra v2.3.0:
// sqlite, JWT access tokens, a system secret made for this run.
func (h *Hydra) configYAML(public, admin int) string {
	return fmt.Sprintf(`dsn: "sqlite://%s?_fk=true"
serve:
  public: {host: 127.0.0.1, port: %d}
  admin: {host: 127.0.0.1, port: %d}
urls:
  self: {issuer: %q}
  login: %q
  consent: %q
strategies:
  access_token: jwt
oauth2:
  # The login-and-consent app's name claim at the top level of access
  # tokens (Hydra nests session claims under "ext" otherwise).
  allowed_top_level_claims: [name]
secrets:
  system: [%q]
log:
  level: warn
`, filepath.Join(h.dir, "hydra.sqlite"), public, admin, h.Issuer, h.LoginConsentURL+"/login", h.LoginConsentURL+"/consent", h.secret)
}

// env is the environment of every hydra command beyond PATH, HOME and
// TMPDIR: nothing (Hydra reads settings from variables such as DSN, so none
// of the caller's may reach it).
func (h *Hydra) env() []string { return nil }

// cli runs one hydra command (not `serve`) and returns its combined output.
func (h *Hydra) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, h.env()...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return Redact(out.String(), h.secret), err
}

// CreateClient registers a client-credentials client that may ask for
// tokens for each of audiences (`hydra create client`). Its tokens' sub is
// its ID.
func (h *Hydra) CreateClient(ctx context.Context, audiences ...string) (HydraClient, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	args := []string{"create", "client", "--endpoint", h.AdminURL, "--grant-type", "client_credentials", "--format", "json"}
	for _, a := range audiences {
		args = append(args, "--audience", a)
	}
	out, err := h.cliJSON(ctx, args...)
	if err != nil {
		return HydraClient{}, fmt.Errorf("hydra create client: %w", err)
	}
	var c HydraClient
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" || c.Secret == "" {
		return HydraClient{}, fmt.Errorf("hydra create client: unexpected output (%v)", err)
	}
	return c, nil
}

// cliJSON runs a hydra command whose standard output is JSON, keeping its
// standard error apart.
func (h *Hydra) cliJSON(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}, h.env()...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, tail(Redact(stderr.String(), h.secret), 20))
	}
	return stdout.Bytes(), nil
}

// Token gets an access token for c with the client-credentials grant
// (POST /oauth2/token, HTTP basic authentication), asking for audience.
func (h *Hydra) Token(ctx context.Context, c HydraClient, audience string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if audience != "" {
		form.Set("audience", audience)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.PublicURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 2.3.1: both halves form-encoded before basic authentication.
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return "", fmt.Errorf("hydra token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("hydra token endpoint: %s: %s", resp.Status, Redact(string(body), c.Secret))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("hydra token endpoint: no access_token in the answer (%v)", err)
	}
	return tok.AccessToken, nil
}

// RotateKey adds a new RS256 key to the set Hydra signs access tokens with
// (`hydra create jwk hydra.jwt.access-token`): the next token carries its
// kid, which it returns.
func (h *Hydra) RotateKey(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := h.cliJSON(ctx, "create", "jwk", "hydra.jwt.access-token", "--alg", "RS256", "--use", "sig",
		"--endpoint", h.AdminURL, "--format", "json")
	if err != nil {
		return "", fmt.Errorf("hydra create jwk: %w", err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(out, &set); err != nil || len(set.Keys) == 0 || set.Keys[0].Kid == "" {
		return "", fmt.Errorf("hydra create jwk: unexpected output (%v)", err)
	}
	return set.Keys[0].Kid, nil
}

// SetTokenLifespan sets how long c's client-credentials access tokens live
// (the admin API's PUT /admin/clients/{id}/lifespans): short-lived tokens
// that really expire.
func (h *Hydra) SetTokenLifespan(ctx context.Context, c HydraClient, d time.Duration) error {
	body, _ := json.Marshal(map[string]string{"client_credentials_grant_access_token_lifespan": d.String()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, h.AdminURL+"/admin/clients/"+url.PathEscape(c.ID)+"/lifespans", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("hydra lifespans: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("hydra lifespans: %s: %s", resp.Status, b)
	}
	return nil
}

// ImportKey adds a private key (PEM) made by the test to the set Hydra
// signs access tokens with and publishes (`hydra import jwk
// hydra.jwt.access-token`), and returns its kid. The test then holds a key
// the provider really publishes, to sign tokens whose claims Hydra would
// never issue (nbf in the future, another issuer).
func (h *Hydra) ImportKey(ctx context.Context, privatePEM []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	f := filepath.Join(h.dir, "import-"+randomHex(4)+".pem")
	if err := os.WriteFile(f, privatePEM, 0o600); err != nil {
		return "", err
	}
	defer os.Remove(f)
	out, err := h.cliJSON(ctx, "import", "jwk", "hydra.jwt.access-token", f, "--alg", "RS256", "--use", "sig",
		"--endpoint", h.AdminURL, "--format", "json")
	if err != nil {
		return "", fmt.Errorf("hydra import jwk: %w", err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(out, &set); err != nil || len(set.Keys) == 0 || set.Keys[0].Kid == "" {
		return "", fmt.Errorf("hydra import jwk: unexpected output (%v)", err)
	}
	return set.Keys[0].Kid, nil
}

// JWKS returns the public key set Hydra publishes (/.well-known/jwks.json).
func (h *Hydra) JWKS(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.PublicURL+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hydra jwks: %s", resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

// PID is `hydra serve`'s process id.
func (h *Hydra) PID() int { return h.proc.PID() }

// Logs is Hydra's output so far, tokens and the system secret redacted.
func (h *Hydra) Logs() string {
	if h.proc == nil {
		return ""
	}
	return h.proc.Logs()
}

// Halt stops `hydra serve` by its PID but keeps its database and
// configuration, so that Resume can start it again with the same keys,
// clients and ports: an outage of the provider.
func (h *Hydra) Halt() error { return h.proc.stop(stopGrace) }

// Resume starts a halted Hydra again on the same ports and database.
func (h *Hydra) Resume(ctx context.Context) error {
	if done, _ := h.proc.Exited(); !done {
		return errors.New("hydra is still running")
	}
	return h.serve(ctx)
}

// Stop stops Hydra by its PID and removes its database and configuration.
func (h *Hydra) Stop() error {
	err := h.proc.stop(stopGrace)
	h.lc.close()
	_ = os.RemoveAll(h.dir)
	return err
}
