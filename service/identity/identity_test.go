package identity_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/identity"
)

const key = "pseudonym-key-0123456789abcdefghijklmnop"

// zeros is a random source of zero bytes: every suffix is "00000000".
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestParseMode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]identity.Mode{
		"":                          {},
		"exclusive":                 {},
		"per-session":               {PerSession: true},
		" Per-Session ":             {PerSession: true},
		"pseudonymous":              {Pseudonymous: true},
		"exclusive,pseudonymous":    {Pseudonymous: true},
		"pseudonymous, per-session": {PerSession: true, Pseudonymous: true},
		"per-session,per-session":   {PerSession: true},
	} {
		got, err := identity.ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if again, _ := identity.ParseMode(got.String()); again != got {
			t.Errorf("ParseMode(%q.String() = %q) = %+v", in, got.String(), again)
		}
	}
	for in, want := range map[string]string{
		"exclusive,per-session": `"exclusive" and "per-session" exclude each other: choose one`,
		"per-device":            `"per-device" is not a mode; want exclusive or per-session, optionally with pseudonymous (e.g. per-session,pseudonymous)`,
		"exclusive, Hashed":     `"hashed" is not a mode; want exclusive or per-session, optionally with pseudonymous (e.g. per-session,pseudonymous)`,
	} {
		if _, err := identity.ParseMode(in); err == nil || err.Error() != want {
			t.Errorf("ParseMode(%q) error = %v; want %s", in, err, want)
		}
	}
	if s := (identity.Mode{PerSession: true, Pseudonymous: true}).String(); s != "per-session,pseudonymous" {
		t.Errorf("String() = %q", s)
	}
}

// wantPseudonym computes the documented pseudonym independently.
func wantPseudonym(key, issuer, claim string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(issuer + "\x00" + claim))
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:16]))
}

func TestDerive(t *testing.T) {
	t.Parallel()
	const iss, claim = "https://idp.example/", "auth0|ada@example.com"
	p := wantPseudonym(key, iss, claim)
	if len(p) != identity.PseudonymLen {
		t.Fatalf("pseudonym %q: %d characters", p, len(p))
	}
	for _, c := range []struct {
		mode        identity.Mode
		id, subject string
	}{
		{identity.Mode{}, claim, ""},
		{identity.Mode{PerSession: true}, claim + "~00000000", claim},
		{identity.Mode{Pseudonymous: true}, p, ""},
		{identity.Mode{PerSession: true, Pseudonymous: true}, p + "~00000000", p},
	} {
		id, subject := identity.Derive(c.mode, []byte(key), iss, claim, zeros{})
		if id != c.id || subject != c.subject {
			t.Errorf("%s: Derive = %q, %q; want %q, %q", c.mode, id, subject, c.id, c.subject)
		}
	}
	// Stable for one person, different for another issuer, claim or key.
	if identity.Pseudonym([]byte(key), iss, claim) != p {
		t.Error("the pseudonym is not stable")
	}
	for _, other := range []string{
		identity.Pseudonym([]byte(key), "https://other.example/", claim),
		identity.Pseudonym([]byte(key), iss, claim+"x"),
		identity.Pseudonym([]byte(key+"x"), iss, claim),
		identity.Pseudonym([]byte(key), iss+"\x00"+claim, ""), // the zero byte separates
	} {
		if other == p {
			t.Errorf("pseudonym collision: %q", other)
		}
	}
}

func TestPerSessionSuffix(t *testing.T) {
	t.Parallel()
	m := identity.Mode{PerSession: true}
	a, _ := identity.Derive(m, nil, "", "ada", nil)
	b, _ := identity.Derive(m, nil, "", "ada", nil)
	if a == b || !strings.HasPrefix(a, "ada~") || len(a) != len("ada~")+identity.SuffixLen {
		t.Errorf("two sessions: %q and %q", a, b)
	}
	for _, id := range []string{a, b} {
		for _, r := range id[len("ada~"):] {
			if !strings.ContainsRune("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", r) {
				t.Errorf("%q: suffix character %q", id, r)
			}
		}
	}
	// A claim that fills the 256 bytes is cut at a character boundary.
	for _, claim := range []string{strings.Repeat("a", 256), strings.Repeat("é", 128), "x" + strings.Repeat("€", 85)} {
		id, subject := identity.Derive(m, nil, "", claim, zeros{})
		if len(id) > identity.MaxIdentityBytes || !utf8.ValidString(id) || !strings.HasSuffix(id, "~00000000") || subject != claim {
			t.Errorf("claim of %d bytes: identity %q (%d bytes), subject of %d bytes", len(claim), id, len(id), len(subject))
		}
		if !strings.HasPrefix(claim, strings.TrimSuffix(id, "~00000000")) {
			t.Errorf("identity %q is not a prefix of the claim and the suffix", id)
		}
	}
}

func TestRandomBase62Uniform(t *testing.T) {
	t.Parallel()
	// Bytes 248..255 are skipped, 62 and 124 wrap to '0'.
	src := bytes.NewReader(append([]byte{255, 248, 0, 61, 62, 124, 185, 247}, make([]byte, 24)...))
	if got := identity.RandomBase62(src, 6); got != "0z00zz" {
		t.Errorf("RandomBase62 = %q, want 0z00zz", got)
	}
}

func TestCheckAttributes(t *testing.T) {
	t.Parallel()
	if k := identity.CheckAttributes(map[string]string{"team": "a", "lk.x": "b"}); k != "" {
		t.Errorf("CheckAttributes = %q", k)
	}
	if k := identity.CheckAttributes(map[string]string{"team": "a", "lktoken.subject": "eve"}); k != "lktoken.subject" {
		t.Errorf("CheckAttributes = %q", k)
	}
}

func TestBinderKeys(t *testing.T) {
	t.Parallel()
	pseudo := identity.Mode{Pseudonymous: true}
	if _, err := identity.NewBinder(pseudo, "", nil); !errors.Is(err, identity.ErrKeyMissing) {
		t.Errorf("no key: %v", err)
	}
	if _, err := identity.NewBinder(pseudo, "short", nil); err == nil || err.Error() != "too weak: 5 characters, it must be at least 32 (generate one with `openssl rand -base64 48`)" {
		t.Errorf("short key: %v", err)
	}
	if _, err := identity.NewBinder(identity.Mode{}, key, nil); err == nil {
		t.Error("a key without the pseudonymous mode was accepted")
	}
	b, err := identity.NewBinder(pseudo, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &authn.Principal{Issuer: "iss", Subject: "ada", Identity: "ada"}
	before := b.Bind(p).Identity
	if err := b.SetKey(strings.Repeat("a", 40)); err == nil {
		t.Error("a weak key was accepted on reload")
	}
	if got := b.Bind(p).Identity; got != before {
		t.Errorf("a refused key changed the pseudonym: %q, then %q", before, got)
	}
	if err := b.SetKey(key + "-rotated"); err != nil {
		t.Fatal(err)
	}
	if got, want := b.Bind(p).Identity, wantPseudonym(key+"-rotated", "iss", "ada"); got != want {
		t.Errorf("after the reload: %q, want %q", got, want)
	}
}

func TestBind(t *testing.T) {
	t.Parallel()
	p := &authn.Principal{Issuer: "https://idp/", Subject: "sub-123", Identity: "ada@example.com", Name: "Ada Lovelace",
		Claims: map[string]any{"sub": "sub-123", "email": "ada@example.com"}}
	orig := *p

	var nilBinder *identity.Binder
	if bd := nilBinder.Bind(p); bd.Principal != p || bd.Identity != "ada@example.com" || bd.Subject != "" {
		t.Errorf("nil binder: %+v", bd)
	}
	excl, _ := identity.NewBinder(identity.Mode{}, "", nil)
	if bd := excl.Bind(p); bd.Principal != p || bd.Identity != "ada@example.com" || !bd.Accepts("ada@example.com") || !bd.Accepts("") || bd.Accepts("eve") {
		t.Errorf("exclusive: %+v", bd)
	}

	per, _ := identity.NewBinder(identity.Mode{PerSession: true}, "", zeros{})
	bd := per.Bind(p)
	if bd.Identity != "ada@example.com~00000000" || bd.Subject != "ada@example.com" || bd.Principal.Identity != bd.Identity ||
		bd.Principal.Subject != "sub-123" || bd.Principal.Name != "Ada Lovelace" {
		t.Errorf("per-session: %+v, principal %+v", bd, *bd.Principal)
	}

	both, _ := identity.NewBinder(identity.Mode{PerSession: true, Pseudonymous: true}, key, zeros{})
	bd = both.Bind(p)
	pid, psub := wantPseudonym(key, "https://idp/", "ada@example.com"), wantPseudonym(key, "https://idp/", "sub-123")
	if bd.Identity != pid+"~00000000" || bd.Subject != pid || bd.Principal.Identity != bd.Identity || bd.Principal.Subject != psub ||
		bd.Principal.Name != "" || bd.Principal.Issuer != "https://idp/" {
		t.Errorf("per-session, pseudonymous: %+v, principal %+v", bd, *bd.Principal)
	}
	if !bd.Accepts("ada@example.com") || bd.Accepts(pid) {
		t.Error("a request may name the verified claim, and nothing else")
	}
	for _, s := range []string{bd.Identity, bd.Subject, bd.Principal.Identity, bd.Principal.Subject, bd.Principal.Name} {
		if strings.Contains(s, "ada") || strings.Contains(s, "sub-123") {
			t.Errorf("%q shows the claim", s)
		}
	}
	if p.Identity != orig.Identity || p.Subject != orig.Subject || p.Name != orig.Name {
		t.Errorf("Bind changed the shared principal: %+v", *p)
	}
}

// The cost of each mode per request, beside exclusive's (which is nothing:
// the principal as it is).
func BenchmarkBind(b *testing.B) {
	p := &authn.Principal{Issuer: "http://127.0.0.1:4444/", Subject: "e2e-user-ada", Identity: "e2e-user-ada"}
	for _, m := range []identity.Mode{{}, {PerSession: true}, {Pseudonymous: true}, {PerSession: true, Pseudonymous: true}} {
		k := ""
		if m.Pseudonymous {
			k = key
		}
		bd, err := identity.NewBinder(m, k, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(m.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = bd.Bind(p)
				}
			})
		})
	}
}
