// Package oidc proves lktoken's caller authentication against a real
// OpenID Connect provider (Ory Hydra) and a real livekit-server: a Hydra
// access token gets a LiveKit token whose identity is the token's subject,
// which livekit-server admits; hostile tokens get 401 and nothing minted;
// Hydra's key rotation needs no restart; a Hydra outage keeps known keys
// working and shows in readiness.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
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
}

var (
	setupOnce sync.Once
	shared    *servers
	// unavailable is set when Hydra or livekit-server cannot be had: the only
	// case in which a test may skip (never under CI=true).
	unavailable error
	setupErr    error
	binDir      string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	os.Exit(code)
}

func env(t *testing.T) *servers {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Ory Hydra, livekit-server and lktoken (-short)")
	}
	setupOnce.Do(setup)
	if unavailable != nil {
		harness.Unavailable(t, unavailable)
	}
	if setupErr != nil {
		t.Fatalf("start servers: %v", setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(shared.lktoken.Logs(), 30))
			t.Logf("hydra output (last lines, redacted):\n%s", harness.Tail(shared.hydra.Logs(), 20))
			t.Logf("livekit-server output (last lines, redacted):\n%s", harness.Tail(shared.livekit.Logs(), 20))
		}
	})
	return shared
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	hydraBin, err := harness.HydraBinary(ctx)
	if err != nil {
		unavailable = err
		return
	}
	lkBin, err := harness.LiveKitBinary(ctx)
	if err != nil {
		unavailable = err
		return
	}
	if binDir, err = os.MkdirTemp("", "lktoken-e2e-oidc-bin-"); err != nil {
		setupErr = err
		return
	}
	ltBin, err := harness.BuildLKToken(ctx, binDir)
	if err != nil {
		setupErr = err
		return
	}
	s := &servers{creds: harness.NewCredentials()}
	shared = s
	if s.hydra, err = harness.StartHydra(ctx, hydraBin); err != nil {
		setupErr = err
		return
	}
	if s.client, err = s.hydra.CreateClient(ctx, audience, otherAudience); err != nil {
		setupErr = err
		return
	}
	if s.livekit, err = harness.StartLiveKit(ctx, lkBin, s.creds); err != nil {
		setupErr = err
		return
	}
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
		setupErr = err
		return
	}
	if err := waitReadyz(ctx, s.lktoken.URL); err != nil {
		setupErr = err
	}
}

func teardown() error {
	var errs []error
	if s := shared; s != nil {
		if s.lktoken != nil {
			errs = append(errs, s.lktoken.Stop())
		}
		if s.livekit != nil {
			errs = append(errs, s.livekit.Stop())
		}
		if s.hydra != nil {
			errs = append(errs, s.hydra.Stop())
		}
	}
	if binDir != "" {
		errs = append(errs, os.RemoveAll(binDir))
	}
	return errors.Join(errs...)
}
