package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestAuthSettings(t *testing.T) {
	t.Parallel()
	oidcEnv := map[string]string{"LKTOKEN_OIDC_ISSUER": "https://id.example.com/", "LKTOKEN_OIDC_AUDIENCE": "lktoken"}
	cfg, err := LoadConfig(nil, envOf(withEnv(oidcEnv)), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Auth.OIDC
	if !cfg.Auth.OIDCEnabled() || o.Issuer != "https://id.example.com/" || o.Audience != "lktoken" || o.IdentityClaim != "sub" ||
		o.NameClaim != "name" || o.Leeway != 30*time.Second || o.RequireAccessTokenType || o.Algorithms != nil || cfg.Auth.Policy != nil {
		t.Errorf("auth = %+v", cfg.Auth)
	}

	all := withEnv(oidcEnv)
	all["LKTOKEN_OIDC_JWKS_URL"] = "http://127.0.0.1:4444/keys"
	all["LKTOKEN_OIDC_IDENTITY_CLAIM"] = "oid"
	all["LKTOKEN_OIDC_NAME_CLAIM"] = "nickname"
	all["LKTOKEN_OIDC_ALGORITHMS"] = "RS256, ES256"
	all["LKTOKEN_OIDC_LEEWAY"] = "0"
	all["LKTOKEN_OIDC_REQUIRE_AT_JWT"] = "true"
	all["LKTOKEN_POLICY"] = `request.room_name == "lobby"`
	cfg, err = LoadConfig(nil, envOf(all), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	o = cfg.Auth.OIDC
	if o.JWKSURL != "http://127.0.0.1:4444/keys" || o.IdentityClaim != "oid" || o.NameClaim != "nickname" ||
		strings.Join(o.Algorithms, ",") != "RS256,ES256" || o.Leeway >= 0 || !o.RequireAccessTokenType || cfg.Auth.Policy == nil {
		t.Errorf("auth = %+v", cfg.Auth)
	}
	// Flags work too.
	cfg, err = LoadConfig([]string{"--oidc-issuer", "https://x.example/", "--oidc-audience", "a", "--policy", "true"}, envOf(prodEnv), &bytes.Buffer{})
	if err != nil || cfg.Auth.OIDC.Issuer != "https://x.example/" || cfg.Auth.Policy == nil {
		t.Errorf("flags: %v %+v", err, cfg.Auth)
	}
	// A policy without OpenID Connect (over the request alone) is allowed.
	if cfg, err := LoadConfig(nil, envOf(withEnv(map[string]string{"LKTOKEN_POLICY": `request.room_name != "x"`})), &bytes.Buffer{}); err != nil || cfg.Auth.Policy == nil {
		t.Errorf("policy alone: %v", err)
	}
}

func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	iss := map[string]string{"LKTOKEN_OIDC_ISSUER": "https://id.example.com/", "LKTOKEN_OIDC_AUDIENCE": "lktoken"}
	with := func(kv ...string) map[string]string {
		m := withEnv(iss)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{with("LKTOKEN_OIDC_AUDIENCE", ""), "LKTOKEN_OIDC_AUDIENCE is required with LKTOKEN_OIDC_ISSUER"},
		{with("LKTOKEN_BEARER_TOKEN", "0123456789abcdef0123456789abcdef"), "are exclusive"},
		{with("LKTOKEN_OIDC_ALGORITHMS", "RS256,HS256"), `LKTOKEN_OIDC_ALGORITHMS: "HS256" is not accepted`},
		{with("LKTOKEN_OIDC_ALGORITHMS", "none"), `"none" is not accepted`},
		{with("LKTOKEN_OIDC_LEEWAY", "10m"), `LKTOKEN_OIDC_LEEWAY "10m": must be a duration from 0 to 5m, such as 30s`},
		{with("LKTOKEN_OIDC_LEEWAY", "soon"), `LKTOKEN_OIDC_LEEWAY "soon"`},
		{with("LKTOKEN_OIDC_REQUIRE_AT_JWT", "maybe"), `LKTOKEN_OIDC_REQUIRE_AT_JWT "maybe": must be true or false`},
		{withEnv(map[string]string{"LKTOKEN_OIDC_REQUIRE_AT_JWT": "true"}), "LKTOKEN_OIDC_REQUIRE_AT_JWT is set, but has no effect"},
		{with("LKTOKEN_OIDC_ISSUER", "id.example.com"), "LKTOKEN_OIDC_ISSUER:"},
		{with("LKTOKEN_OIDC_ISSUER", "http://id.example.com/"), "plain http:// is accepted only on loopback"},
		{with("LKTOKEN_OIDC_JWKS_URL", "http://10.0.0.1/keys"), "LKTOKEN_OIDC_JWKS_URL: \"http://10.0.0.1/keys\": plain http://"},
		{with("LKTOKEN_POLICY", `request.room == "x"`), "LKTOKEN_POLICY does not compile:\nLKTOKEN_POLICY:1:8: undefined field 'room'"},
		{with("LKTOKEN_POLICY", `request.room_name`), "must be a bool"},
		{withEnv(map[string]string{"LKTOKEN_OIDC_AUDIENCE": "x"}), "LKTOKEN_OIDC_AUDIENCE is set, but has no effect without LKTOKEN_OIDC_ISSUER"},
		{withEnv(map[string]string{"LKTOKEN_OIDC_IDENTITY_CLAIM": "oid"}), "LKTOKEN_OIDC_IDENTITY_CLAIM is set, but has no effect"},
	} {
		_, err := LoadConfig(nil, envOf(c.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v\nwant it to say %q", err, c.want)
		}
	}
}

func TestAuthErrorsNameTheFlagGiven(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig([]string{"--oidc-issuer", "https://id.example/"}, envOf(prodEnv), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "is required with --oidc-issuer") {
		t.Errorf("got %v", err)
	}
	_, err = LoadConfig([]string{"--oidc-issuer", "https://id.example/", "--oidc-audience", "a", "--oidc-leeway", "1h"}, envOf(prodEnv), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `--oidc-leeway "1h": must be a duration from 0 to 5m, such as 30s`) {
		t.Errorf("got %v", err)
	}
	_, err = LoadConfig([]string{"--policy", "request.x"}, envOf(prodEnv), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--policy does not compile") {
		t.Errorf("got %v", err)
	}
}

func TestHelpListsAuthSettings(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	_, _ = LoadConfig([]string{"--help"}, envOf(nil), &out)
	var c Config
	for _, s := range specs(&c) {
		if !strings.Contains(string(s.id()), "oidc.") {
			continue
		}
		if !strings.Contains(out.String(), "--"+s.flag) || !strings.Contains(out.String(), "$"+s.env) {
			t.Errorf("--help lacks %s", s.env)
		}
	}
	if !strings.Contains(out.String(), "Exclusive with LKTOKEN_BEARER_TOKEN") {
		t.Error("--help does not say the modes are exclusive")
	}
}
