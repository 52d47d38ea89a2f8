// Package tokens proves, against a real livekit-server, that the tokens the
// real lktoken binary hands out authenticate, with exactly the permissions
// lktoken means to grant.
package tokens

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

// servers is what every test here talks to, started once for the package.
type servers struct {
	// livekit is the real LiveKit server, accepting only creds.
	livekit *harness.LiveKit
	// lktoken signs with the same credentials as livekit.
	lktoken *harness.LKToken
	// rogue is an lktoken with livekit's API key but another secret: its
	// tokens must be refused.
	rogue *harness.LKToken
	creds harness.Credentials
}

var (
	setupOnce sync.Once
	shared    *servers
	// liveKitErr is set when the livekit-server binary cannot be had: the
	// only case in which a test may skip (and never under CI=true).
	liveKitErr error
	setupErr   error
	binDir     string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e teardown:", err)
		code = 1
	}
	os.Exit(code)
}

// env returns the shared servers, starting them on first use.
func env(t *testing.T) *servers {
	t.Helper()
	setupOnce.Do(setup)
	if liveKitErr != nil {
		harness.Unavailable(t, liveKitErr)
	}
	if setupErr != nil {
		t.Fatalf("start servers: %v", setupErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("livekit-server output (last lines, redacted):\n%s", harness.Tail(shared.livekit.Logs(), 40))
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(shared.lktoken.Logs(), 20))
		}
	})
	return shared
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 14*time.Minute)
	defer cancel()
	lkBin, err := harness.LiveKitBinary(ctx)
	if err != nil {
		liveKitErr = err
		return
	}
	binDir, err = os.MkdirTemp("", "lktoken-e2e-bin-")
	if err != nil {
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
	if s.livekit, err = harness.StartLiveKit(ctx, lkBin, s.creds); err != nil {
		setupErr = err
		return
	}
	if s.lktoken, err = harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		Credentials: s.creds, LiveKitURL: s.livekit.WSURL,
	}); err != nil {
		setupErr = err
		return
	}
	wrong := harness.Credentials{APIKey: s.creds.APIKey, APISecret: harness.NewCredentials().APISecret}
	if s.rogue, err = harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		Credentials: wrong, LiveKitURL: s.livekit.WSURL,
	}); err != nil {
		setupErr = err
	}
}

// teardown stops whatever setup started, by PID.
func teardown() error {
	var errs []error
	if s := shared; s != nil {
		for _, lt := range []*harness.LKToken{s.lktoken, s.rogue} {
			if lt != nil {
				errs = append(errs, lt.Stop())
			}
		}
		if s.livekit != nil {
			errs = append(errs, s.livekit.Stop())
		}
	}
	if binDir != "" {
		errs = append(errs, os.RemoveAll(binDir))
	}
	return errors.Join(errs...)
}
