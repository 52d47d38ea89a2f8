package pipeline_test

import (
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/internal/testserver"
	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/identity"
	"github.com/lktoken/lktoken/service/internal/cases"
	"github.com/lktoken/lktoken/service/keys"
	"github.com/lktoken/lktoken/service/mint"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/ratelimit"
)

const pseudonymKey = "pipeline-pseudonym-key-0123456789abcdef"

// newModeOp is newOp's operation under an identity mode.
func newModeOp(t *testing.T, mode string) (*pipeline.Operation, *steps, *testserver.Log) {
	t.Helper()
	m, err := identity.ParseMode(mode)
	if err != nil {
		t.Fatal(err)
	}
	key := ""
	if m.Pseudonymous {
		key = pseudonymKey
	}
	b, err := identity.NewBinder(m, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, logs := &steps{}, &testserver.Log{}
	op := pipeline.New(pipeline.Options{
		Issuer:        mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), mint.DefaultPolicy("wss://lk.example.test"), time.Now),
		Authenticator: fakeAuthn{s: s, p: &authn.Principal{Issuer: "https://idp.example", Subject: "sub-1", Identity: "ada", Name: "Ada L."}},
		RoomPolicy:    fakePolicy{s: s},
		Identity:      b,
		Log:           slog.New(slog.NewJSONHandler(logs, nil)),
		Now:           time.Now,
	})
	return op, s, logs
}

var suffix = regexp.MustCompile(`^~[0-9A-Za-z]{8}$`)

// Per-session: every token its own identity, the claim in lktoken.subject;
// the policy and the audit line see the token's identity.
func TestPerSessionIdentity(t *testing.T) {
	t.Parallel()
	op, s, logs := newModeOp(t, "per-session")
	seen := map[string]bool{}
	for _, asked := range []string{"", "ada"} {
		res, err := mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby", ParticipantIdentity: asked,
			ParticipantAttributes: map[string]string{"team": "blue"}})
		if err != nil {
			t.Fatal(err)
		}
		id := res.Token.Identity
		if !strings.HasPrefix(id, "ada") || !suffix.MatchString(id[3:]) || seen[id] {
			t.Fatalf("identity %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
		g := cases.JWTPayload(t, res.Token.JWT)
		if g["sub"] != id || g["name"] != "Ada L." || cases.JSON(t, g["attributes"]) != `{"lktoken.subject":"ada","team":"blue"}` {
			t.Errorf("claims %v", g)
		}
		if line := lastLine(t, logs); line["identity"] != id || line["principal_subject"] != "sub-1" {
			t.Errorf("audit line %v", line)
		}
		if last := s.seen[len(s.seen)-1]; last != "policy lobby "+id+" sub-1" {
			t.Errorf("policy saw %q", last)
		}
	}
}

// Pseudonymous: neither the subject, the identity claim nor the name claim
// reaches the token, the answer or the log.
func TestPseudonymousIdentity(t *testing.T) {
	t.Parallel()
	p := identity.Pseudonym([]byte(pseudonymKey), "https://idp.example", "ada")
	psub := identity.Pseudonym([]byte(pseudonymKey), "https://idp.example", "sub-1")
	for mode, attrs := range map[string]string{
		"pseudonymous":             "null",
		"per-session,pseudonymous": `{"lktoken.subject":"` + p + `"}`,
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			op, s, logs := newModeOp(t, mode)
			// A request may still name the verified claim: it gets the pseudonym.
			res, err := mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby", ParticipantIdentity: "ada"})
			if err != nil {
				t.Fatal(err)
			}
			id := res.Token.Identity
			if rest, ok := strings.CutPrefix(id, p); !ok || (mode == "pseudonymous" && rest != "") || (mode != "pseudonymous" && !suffix.MatchString(rest)) {
				t.Errorf("identity %q, want the pseudonym %q", id, p)
			}
			g := cases.JWTPayload(t, res.Token.JWT)
			if g["sub"] != id || g["identity"] != id || g["name"] != nil || cases.JSON(t, g["attributes"]) != attrs {
				t.Errorf("claims %v", g)
			}
			line := lastLine(t, logs)
			if line["identity"] != id || line["principal_subject"] != psub || line["principal_issuer"] != "https://idp.example" {
				t.Errorf("audit line %v", line)
			}
			if res.Principal.Subject != psub || res.Principal.Name != "" {
				t.Errorf("the route's principal %+v", *res.Principal)
			}
			for _, raw := range []string{"ada", "sub-1", "Ada L."} {
				if strings.Contains(cases.JSON(t, g), raw) || strings.Contains(logs.String(), raw) || strings.Contains(strings.Join(s.seen, "|"), raw) {
					t.Errorf("%q shows in the token %v, the log %s or the policy's view %v", raw, g, logs.String(), s.seen)
				}
			}
		})
	}
}

// lktoken.* attributes are the server's, with or without a verified caller.
func TestReservedAttributesRefused(t *testing.T) {
	t.Parallel()
	const want = `participant_attributes: "lktoken.subject" is set by this server, a request may not set it (attribute names starting with "lktoken." are lktoken's)`
	unauthenticated := pipeline.New(pipeline.Options{
		Issuer: mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), mint.DefaultPolicy("wss://lk.example.test"), time.Now),
		Log:    slog.New(slog.DiscardHandler), Now: time.Now,
	})
	perSession, _, _ := newModeOp(t, "per-session")
	for name, op := range map[string]*pipeline.Operation{"no authentication": unauthenticated, "per-session": perSession} {
		_, err := mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby", ParticipantIdentity: "ada",
			ParticipantAttributes: map[string]string{"lktoken.subject": "someone-else"}})
		var cerr *connect.Error
		if !errors.As(err, &cerr) || cerr.Code() != connect.CodePermissionDenied || cerr.Message() != want {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A pseudonymous caller's rate-limit refusal is audited under the pseudonym,
// like its mints: the refusal comes before Mint, so the identity mode must
// already have bound the caller when Authenticate let it in.
func TestPseudonymousRateLimitRefusal(t *testing.T) {
	t.Parallel()
	m, err := identity.ParseMode("pseudonymous")
	if err != nil {
		t.Fatal(err)
	}
	b, err := identity.NewBinder(m, pseudonymKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testserver.Log{}
	op := pipeline.New(pipeline.Options{
		Issuer:        mint.NewIssuer(keys.NewRing(keys.Set{Signing: creds}), mint.DefaultPolicy("wss://lk.example.test"), time.Now),
		Authenticator: fakeAuthn{s: &steps{}, p: &authn.Principal{Issuer: "https://idp.example", Subject: "sub-1", Identity: "ada", Name: "Ada L."}},
		Identity:      b,
		Limiter:       ratelimit.New(ratelimit.Options{Policy: ratelimit.Policy{Count: 1, Per: time.Hour, Burst: 1}, Store: ratelimit.NewMemory()}),
		Log:           slog.New(slog.NewJSONHandler(logs, nil)),
		Now:           time.Now,
	})
	if _, err := mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby"}); err != nil {
		t.Fatal(err)
	}
	minted := lastLine(t, logs)
	_, err = mintAs(op, "Bearer ok", &lktokenv1.GenerateTokenRequest{RoomName: "lobby"})
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("second mint: %v, want resource_exhausted", err)
	}
	refused := lastLine(t, logs)
	if refused["outcome"] != "rate_limited" || refused["principal_subject"] != minted["principal_subject"] {
		t.Errorf("refusal %v, want outcome rate_limited under the mint's subject %v", refused, minted["principal_subject"])
	}
	if strings.Contains(logs.String(), "sub-1") || strings.Contains(logs.String(), "ada") || strings.Contains(logs.String(), "Ada") {
		t.Errorf("the raw subject, identity or name reached the log:\n%s", logs)
	}
}
