// Package oidc proves lktoken's caller authentication against a real
// OpenID Connect provider (Ory Hydra) and a real livekit-server: a Hydra
// access token gets a LiveKit token whose identity is the token's subject,
// which livekit-server admits; hostile tokens get 401 and nothing minted;
// Hydra's key rotation needs no restart; a Hydra outage keeps known keys
// working and shows in readiness.
package oidc

import (
	"context"
	"testing"
	"time"

	"github.com/lktoken/lktoken/e2e/harness"
)

// audience is the aud lktoken requires; otherAudience one it does not.
const (
	audience      = "lktoken-e2e"
	otherAudience = "some-other-api"
)

// policy lets a caller into rooms named oidc-* and into its own lobby.
const policy = `request.room_name.startsWith("oidc-") || request.room_name == "lobby-" + claims.client_id`

// leeway is lktoken's clock leeway here: short, so an expired token need
// not be waited for long.
const leeway = 2 * time.Second

type servers struct {
	hydra   *harness.Hydra
	livekit *harness.LiveKit
	lktoken *harness.LKToken
	client  harness.HydraClient
	creds   harness.Credentials
	// bin is the lktoken binary, for tests that start one of their own.
	bin string
}

// suite starts the servers once for the package; TestMain stops them.
var suite harness.Suite[*servers]

func TestMain(m *testing.M) { suite.Main(m) }

func env(t *testing.T) *servers {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Ory Hydra, livekit-server and lktoken (-short)")
	}
	s := suite.Get(t, setup)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(s.lktoken.Logs(), 30))
			t.Logf("hydra output (last lines, redacted):\n%s", harness.Tail(s.hydra.Logs(), 20))
			t.Logf("livekit-server output (last lines, redacted):\n%s", harness.Tail(s.livekit.Logs(), 20))
		}
	})
	return s
}

func setup(ctx context.Context, td *harness.Teardown) (*servers, error) {
	hydraBin, err := harness.HydraBinary(ctx)
	if err != nil {
		return nil, harness.ServersUnavailable(err)
	}
	lkBin, err := harness.LiveKitBinary(ctx)
	if err != nil {
		return nil, harness.ServersUnavailable(err)
	}
	binDir, err := td.TempDir("lktoken-e2e-oidc-bin-")
	if err != nil {
		return nil, err
	}
	ltBin, err := harness.BuildLKToken(ctx, binDir)
	if err != nil {
		return nil, err
	}
	s := &servers{creds: harness.NewCredentials(), bin: ltBin}
	if s.hydra, err = harness.StartHydra(ctx, hydraBin); err != nil {
		return nil, err
	}
	td.Add(s.hydra.Stop)
	if s.client, err = s.hydra.CreateClient(ctx, audience, otherAudience); err != nil {
		return nil, err
	}
	if s.livekit, err = harness.StartLiveKit(ctx, lkBin, s.creds); err != nil {
		return nil, err
	}
	td.Add(s.livekit.Stop)
	s.lktoken, err = harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		Credentials: s.creds,
		LiveKitURL:  s.livekit.WSURL,
		Env: []string{
			"LKTOKEN_OIDC_ISSUER=" + s.hydra.Issuer,
			"LKTOKEN_OIDC_AUDIENCE=" + audience,
			"LKTOKEN_OIDC_LEEWAY=" + leeway.String(),
			"LKTOKEN_POLICY=" + policy,
		},
	})
	if err != nil {
		return nil, err
	}
	td.Add(s.lktoken.Stop)
	if err := waitReadyz(ctx, s.lktoken.URL); err != nil {
		return nil, err
	}
	return s, nil
}
