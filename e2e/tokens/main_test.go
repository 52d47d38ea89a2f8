// Package tokens proves, against a real livekit-server, that the tokens the
// real lktoken binary hands out authenticate, with exactly the permissions
// lktoken means to grant.
package tokens

import (
	"context"
	"testing"

	"github.com/lktoken/lktoken/e2e/harness"
)

// allowedAgent is the one agent name lktoken here may dispatch.
const allowedAgent = "e2e-helper"

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

// suite starts the servers once for the package; TestMain stops them.
var suite harness.Suite[*servers]

func TestMain(m *testing.M) { suite.Main(m) }

// env returns the shared servers, starting them on first use.
func env(t *testing.T) *servers {
	t.Helper()
	s := suite.Get(t, setup)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("livekit-server output (last lines, redacted):\n%s", harness.Tail(s.livekit.Logs(), 40))
			t.Logf("lktoken output (last lines, redacted):\n%s", harness.Tail(s.lktoken.Logs(), 20))
		}
	})
	return s
}

func setup(ctx context.Context, td *harness.Teardown) (*servers, error) {
	lkBin, err := harness.LiveKitBinary(ctx)
	if err != nil {
		return nil, harness.ServersUnavailable(err)
	}
	binDir, err := td.TempDir("lktoken-e2e-bin-")
	if err != nil {
		return nil, err
	}
	ltBin, err := harness.BuildLKToken(ctx, binDir)
	if err != nil {
		return nil, err
	}
	s := &servers{creds: harness.NewCredentials()}
	if s.livekit, err = harness.StartLiveKit(ctx, lkBin, s.creds); err != nil {
		return nil, err
	}
	td.Add(s.livekit.Stop)
	if s.lktoken, err = harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		Credentials: s.creds, LiveKitURL: s.livekit.WSURL, Env: []string{"LKTOKEN_ALLOWED_AGENTS=" + allowedAgent},
	}); err != nil {
		return nil, err
	}
	td.Add(s.lktoken.Stop)
	wrong := harness.Credentials{APIKey: s.creds.APIKey, APISecret: harness.NewCredentials().APISecret}
	if s.rogue, err = harness.StartLKToken(ctx, ltBin, harness.LKTokenOptions{
		Credentials: wrong, LiveKitURL: s.livekit.WSURL,
	}); err != nil {
		return nil, err
	}
	td.Add(s.rogue.Stop)
	return s, nil
}
