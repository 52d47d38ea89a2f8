// Package identity derives the LiveKit identity of a verified caller
// (LKTOKEN_IDENTITY_MODE): the configured claim as it is ("exclusive"), the
// claim plus a random suffix per token ("per-session"), and either of them
// with the claim replaced by a keyed hash ("pseudonymous").
//
// [Derive] is the rule, a pure function of (mode, key, issuer, claim, random
// source); a [Binder] applies it to each request's principal with the key it
// holds, which a SIGHUP may replace ([Binder.SetKey]).
package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/lktoken/lktoken/service/authn"
	"github.com/lktoken/lktoken/service/keys"
)

// Mode is how a verified caller's claim becomes its LiveKit identity. The
// zero value is "exclusive": the identity is the claim.
type Mode struct {
	// PerSession gives every token an identity of its own (the claim and a
	// random suffix), so that one person's sessions do not replace each
	// other; the claim travels in the SubjectAttribute attribute.
	PerSession bool
	// Pseudonymous replaces the claim by its keyed hash ([Pseudonym]),
	// everywhere lktoken writes it: identity, attribute and audit log.
	Pseudonymous bool
}

// The words of LKTOKEN_IDENTITY_MODE.
const (
	Exclusive    = "exclusive"
	PerSession   = "per-session"
	Pseudonymous = "pseudonymous"
)

// ParseMode reads a comma-separated list of at most one of "exclusive" and
// "per-session" and, optionally, "pseudonymous", in any order and case:
// "per-session,pseudonymous". Without a session word the sessions are
// exclusive; "" is "exclusive".
func ParseMode(s string) (Mode, error) {
	var m Mode
	var session string
	for _, w := range strings.Split(s, ",") {
		w = strings.ToLower(strings.TrimSpace(w))
		switch w {
		case "":
			continue
		case Exclusive, PerSession:
			if session != "" && session != w {
				return Mode{}, errors.New(`"exclusive" and "per-session" exclude each other: choose one`)
			}
			session, m.PerSession = w, w == PerSession
		case Pseudonymous:
			m.Pseudonymous = true
		default:
			return Mode{}, fmt.Errorf("%q is not a mode; want exclusive or per-session, optionally with pseudonymous (e.g. per-session,pseudonymous)", w)
		}
	}
	return m, nil
}

// String is the mode as ParseMode reads it, e.g. "per-session,pseudonymous".
func (m Mode) String() string {
	s := Exclusive
	if m.PerSession {
		s = PerSession
	}
	if m.Pseudonymous {
		s += "," + Pseudonymous
	}
	return s
}

// SubjectAttribute is the participant attribute that carries the caller's
// claim (its pseudonym when pseudonymous) in per-session mode, so that other
// participants and the app's backend can group one person's sessions.
const SubjectAttribute = "lktoken.subject"

// ReservedAttributePrefix starts the attribute names lktoken sets itself: a
// request may not set any of them (see [CheckAttributes]).
const ReservedAttributePrefix = "lktoken."

// CheckAttributes returns an attribute name of attrs that only lktoken may
// set (any one of them, when there are several), or "" when there is none.
func CheckAttributes(attrs map[string]string) string {
	for k := range attrs {
		if strings.HasPrefix(k, ReservedAttributePrefix) {
			return k
		}
	}
	return ""
}

// MaxIdentityBytes is the longest identity LiveKit accepts by default
// (limit.max_participant_identity_length), and the contract's.
const MaxIdentityBytes = 256

// SessionSeparator joins the claim and the random suffix of a per-session
// identity: "ada~3fG7kQ9z". It is not '#', which LiveKit reserves.
const SessionSeparator = "~"

// SuffixLen is the number of random base62 characters of a per-session
// suffix (about 47 bits: one person's sessions never collide).
const SuffixLen = 8

// MinKeyLength is the shortest pseudonym key accepted, as for LiveKit's
// secrets.
const MinKeyLength = keys.MinSecretLength

// PseudonymLen is the length of a pseudonym: 128 bits of HMAC-SHA256 in
// lower-case base32 without padding.
const PseudonymLen = 26

var pseudonymEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Pseudonym is the keyed hash that replaces claim in pseudonymous mode:
// HMAC-SHA256 under key of issuer, a zero byte and claim, its first 16 bytes
// in lower-case base32 (26 characters). It is the same for one person on
// every replica that shares the key, and says nothing about claim to anyone
// without the key. A new key gives everyone a new pseudonym.
func Pseudonym(key []byte, issuer, claim string) string {
	return newMAC(key).pseudonym(issuer, claim)
}

// mac is an HMAC-SHA256 and its scratch buffer, reused through a pool: a
// pseudonym then allocates only its string.
type mac struct {
	h   hash.Hash
	buf []byte
}

func newMAC(key []byte) *mac { return &mac{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 256)} }

func (m *mac) pseudonym(issuer, claim string) string {
	m.buf = append(append(append(m.buf[:0], issuer...), 0), claim...)
	m.h.Reset()
	m.h.Write(m.buf)
	m.buf = m.h.Sum(m.buf[:0])
	var out [PseudonymLen]byte
	pseudonymEncoding.Encode(out[:], m.buf[:16])
	return string(out[:])
}

// Derive is the identity rule: the LiveKit identity of a caller whose
// identity claim (issued by issuer) is claim, under mode m, and the value of
// SubjectAttribute ("" when the mode sets none). key is the pseudonym key
// (only read when pseudonymous); random supplies the per-session suffix
// (crypto/rand.Reader in production).
//
// A per-session identity is the claim (or pseudonym), SessionSeparator and
// SuffixLen random base62 characters. A claim too long to fit in
// MaxIdentityBytes with its suffix is cut at a character boundary: the
// suffix keeps identities apart, the attribute keeps the whole claim.
func Derive(m Mode, key []byte, issuer, claim string, random io.Reader) (id, subject string) {
	var h *mac
	if m.Pseudonymous {
		h = newMAC(key)
	}
	return derive(m, h, issuer, claim, random)
}

// derive is Derive with the HMAC keyed already (nil unless pseudonymous).
func derive(m Mode, h *mac, issuer, claim string, random io.Reader) (id, subject string) {
	base := claim
	if m.Pseudonymous {
		base = h.pseudonym(issuer, claim)
	}
	if !m.PerSession {
		return base, ""
	}
	return sessionIdentity(base, random), base
}

func sessionIdentity(base string, random io.Reader) string {
	if n := MaxIdentityBytes - len(SessionSeparator) - SuffixLen; len(base) > n {
		for n > 0 && !utf8.RuneStart(base[n]) {
			n--
		}
		base = base[:n]
	}
	return base + SessionSeparator + RandomBase62(random, SuffixLen)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomBase62 returns n characters drawn uniformly from [0-9A-Za-z] with
// bytes of random (crypto/rand.Reader when nil).
func RandomBase62(random io.Reader, n int) string {
	if random == nil {
		random = rand.Reader
	}
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := io.ReadFull(random, buf[:]); err != nil {
			// crypto/rand never fails (Go 1.24+ crashes instead); a test
			// reader that runs dry is a broken test.
			panic("identity: random source failed: " + err.Error())
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps the draw uniform.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// Binder applies a Mode to each request's principal. It is safe for
// concurrent use.
type Binder struct {
	mode   Mode
	random io.Reader
	key    atomic.Pointer[keyState]
}

// keyState is one pseudonym key and a pool of HMACs keyed with it (hmac.New
// costs more than the hash itself).
type keyState struct {
	key  []byte
	macs sync.Pool
}

// NewBinder returns a Binder for mode. key is required exactly when mode is
// pseudonymous (see [CheckKey]); random supplies per-session suffixes
// (nil: crypto/rand).
func NewBinder(mode Mode, key string, random io.Reader) (*Binder, error) {
	b := &Binder{mode: mode, random: random}
	if mode.Pseudonymous {
		if err := b.SetKey(key); err != nil {
			return nil, err
		}
	} else if key != "" {
		return nil, errors.New("a pseudonym key is set, but the mode is not pseudonymous")
	}
	return b, nil
}

// Mode is the binder's mode.
func (b *Binder) Mode() Mode { return b.mode }

// ErrKeyMissing is CheckKey's refusal of an empty key.
var ErrKeyMissing = errors.New("missing")

// CheckKey says why key cannot be a pseudonym key: empty (ErrKeyMissing),
// shorter than MinKeyLength, or with too few distinct characters.
func CheckKey(key string) error {
	if key == "" {
		return ErrKeyMissing
	}
	if why := keys.WeakSecret(key); why != "" {
		return fmt.Errorf("too weak: %s (generate one with `openssl rand -base64 48`)", why)
	}
	return nil
}

// SetKey replaces the pseudonym key (a SIGHUP reload): requests in flight
// finish with either key. A key CheckKey refuses changes nothing. Every
// pseudonym changes with the key.
func (b *Binder) SetKey(key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	k := &keyState{key: []byte(key)}
	k.macs.New = func() any { return newMAC(k.key) }
	b.key.Store(k)
	return nil
}

// Bound is a principal bound to one request.
type Bound struct {
	// Principal is the caller as the rest of the request sees it (room
	// policy, audit log, the route's answer): the principal itself in
	// exclusive mode; otherwise a copy whose Identity is the token's
	// identity and, when pseudonymous, whose Subject is the subject's
	// pseudonym (the audit's fingerprint) and whose Name is empty (a name
	// claim is personal data too). Claims stay the verified ones, for the
	// room policy only.
	Principal *authn.Principal
	// Identity is the token's participant identity.
	Identity string
	// Subject is the value of SubjectAttribute, "" for none.
	Subject string
	// claim is the verified claim, which a request may name as its identity.
	claim string
}

// Accepts reports whether a request that names id as its participant
// identity may have this identity: id is empty (to be filled in) or the
// verified claim itself.
func (bd Bound) Accepts(id string) bool { return id == "" || id == bd.claim }

// Bind derives the identity of p for one request. p must have an Identity.
func (b *Binder) Bind(p *authn.Principal) Bound {
	if b == nil || b.mode == (Mode{}) {
		return Bound{Principal: p, Identity: p.Identity, claim: p.Identity}
	}
	var h *mac
	if b.mode.Pseudonymous {
		k := b.key.Load()
		h = k.macs.Get().(*mac)
		defer k.macs.Put(h)
	}
	id, subject := derive(b.mode, h, p.Issuer, p.Identity, b.random)
	out := *p // p is shared between the requests of one token
	out.Identity = id
	if b.mode.Pseudonymous {
		out.Name = ""
		switch {
		case p.Subject != p.Identity:
			out.Subject = h.pseudonym(p.Issuer, p.Subject)
		case b.mode.PerSession:
			out.Subject = subject // the pseudonym of the claim, which is sub
		default:
			out.Subject = id
		}
	}
	return Bound{Principal: &out, Identity: id, Subject: subject, claim: p.Identity}
}
