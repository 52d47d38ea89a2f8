package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// TestUser is the one user the login-and-consent app signs in: the
// subject of every token of the authorization-code flow, and its name.
const (
	TestUserSubject = "e2e-user-ada"
	TestUserName    = "Ada (e2e)"
)

// loginConsent is the minimal login-and-consent app Hydra's browser flows
// need (urls.login, urls.consent): it accepts every login as TestUser
// without asking, and every consent with what the client asked for,
// through Hydra's admin API. It runs in the test process.
type loginConsent struct {
	srv      *http.Server
	URL      string
	adminURL func() string
}

func startLoginConsent(adminURL func() string) (*loginConsent, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lc := &loginConsent{URL: "http://" + ln.Addr().String(), adminURL: adminURL}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", lc.login)
	mux.HandleFunc("GET /consent", lc.consent)
	lc.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = lc.srv.Serve(ln) }()
	return lc, nil
}

func (lc *loginConsent) close() { _ = lc.srv.Close() }

func (lc *loginConsent) login(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("login_challenge")
	to, err := lc.accept(r.Context(), "login", challenge, map[string]any{"subject": TestUserSubject, "remember": false})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

func (lc *loginConsent) consent(w http.ResponseWriter, r *http.Request) {
	challenge := r.URL.Query().Get("consent_challenge")
	var req struct {
		Scope    []string `json:"requested_scope"`
		Audience []string `json:"requested_access_token_audience"`
	}
	if err := lc.admin(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/consent?consent_challenge="+url.QueryEscape(challenge), nil, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	to, err := lc.accept(r.Context(), "consent", challenge, map[string]any{
		"grant_scope":                 req.Scope,
		"grant_access_token_audience": req.Audience,
		"remember":                    false,
		// Claims of the access token beyond Hydra's own: the name.
		"session": map[string]any{"access_token": map[string]any{"name": TestUserName}},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	http.Redirect(w, r, to, http.StatusFound)
}

// accept accepts a login or consent challenge and returns where Hydra wants
// the browser next.
func (lc *loginConsent) accept(ctx context.Context, kind, challenge string, body map[string]any) (string, error) {
	var out struct {
		RedirectTo string `json:"redirect_to"`
	}
	path := fmt.Sprintf("/admin/oauth2/auth/requests/%s/accept?%s_challenge=%s", kind, kind, url.QueryEscape(challenge))
	if err := lc.admin(ctx, http.MethodPut, path, body, &out); err != nil {
		return "", err
	}
	if out.RedirectTo == "" {
		return "", fmt.Errorf("hydra accepted the %s without a redirect_to", kind)
	}
	return out.RedirectTo, nil
}

func (lc *loginConsent) admin(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, lc.adminURL()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("hydra admin %s %s: %s: %s", method, path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

// CreatePublicClient registers a public client (no secret) for the
// authorization-code flow with PKCE, as a browser app is: redirectURI is
// where the code goes, audience what its access tokens may carry.
func (h *Hydra) CreatePublicClient(ctx context.Context, redirectURI, audience string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := h.cliJSON(ctx, "create", "client", "--endpoint", h.AdminURL, "--format", "json",
		"--grant-type", "authorization_code", "--response-type", "code", "--scope", "openid",
		"--redirect-uri", redirectURI, "--token-endpoint-auth-method", "none", "--audience", audience)
	if err != nil {
		return "", fmt.Errorf("hydra create client: %w", err)
	}
	var c HydraClient
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" {
		return "", fmt.Errorf("hydra create client: unexpected output (%v)", err)
	}
	return c.ID, nil
}

// SignIn runs the authorization-code flow with PKCE (S256) the way a
// browser app does — to Hydra's /oauth2/auth, through the login-and-consent
// app (which signs in TestUser), back to redirectURI with a code — and
// exchanges the code for an access token for audience and an ID token (aud:
// the client's id).
func (h *Hydra) SignIn(ctx context.Context, clientID, redirectURI, audience string) (access, id string, err error) {
	verifier := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	sum := sha256.Sum256([]byte(verifier))
	state := randomHex(8)
	q := url.Values{
		"client_id": {clientID}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirectURI},
		"state": {state}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"audience": {audience},
	}
	jar, _ := cookiejar.New(nil)
	var code string
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirectURI) {
			if req.URL.Query().Get("state") != state {
				return errors.New("the redirect's state is not ours")
			}
			code = req.URL.Query().Get("code")
			if e := req.URL.Query().Get("error"); e != "" {
				return fmt.Errorf("hydra answered %s: %s", e, req.URL.Query().Get("error_description"))
			}
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return errors.New("too many redirects")
		}
		return nil
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.PublicURL+"/oauth2/auth?"+q.Encode(), nil)
	if err != nil {
		return "", "", err
	}
	resp, err := browser.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("authorization request: %w", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if code == "" {
		return "", "", fmt.Errorf("authorization request ended at %s (%s) without a code: %s", resp.Request.URL, resp.Status, body)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {clientID}, "code_verifier": {verifier}}
	treq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.PublicURL+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	tresp, err := (&http.Client{Timeout: 30 * time.Second}).Do(treq)
	if err != nil {
		return "", "", fmt.Errorf("token request: %w", err)
	}
	defer tresp.Body.Close()
	tb, _ := io.ReadAll(io.LimitReader(tresp.Body, 1<<20))
	if tresp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("token request: %s: %s", tresp.Status, Redact(string(tb)))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		IDToken     string `json:"id_token"`
	}
	if err := json.Unmarshal(tb, &tok); err != nil || tok.AccessToken == "" {
		return "", "", fmt.Errorf("token request: no access_token (%v)", err)
	}
	return tok.AccessToken, tok.IDToken, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
