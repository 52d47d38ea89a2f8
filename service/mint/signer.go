package mint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"hash"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signHS256 returns the HS256 JWT of c signed with secret: byte for byte what
// jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
// returns, which is what livekit/protocol's auth.AccessToken.ToJWT produces
// for the same claims (TestSignHS256IsByteIdentical proves it over many
// randomized claims).
//
// It is the hot path's signer: it writes the claims' JSON directly instead of
// through encoding/json's reflection and reuses keyed HMAC states, which makes
// it several times faster with a single allocation. Claims it does not know
// how to write (grants other than video, room configuration, a changed
// jwt.TimePrecision, fields added by a newer livekit/protocol) go through
// golang-jwt unchanged.
func signHS256(c *claims, secret string) (string, error) {
	if secret == "" || !fastSignable(c) {
		return jwt.NewWithClaims(jwt.SigningMethodHS256, *c).SignedString([]byte(secret))
	}
	pool := macPoolFor(secret)
	s := pool.Get().(*macState)
	defer pool.Put(s)

	s.json = appendClaims(s.json[:0], c)
	out := append(s.out[:0], jwtHeaderHS256...)
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, s.json)
	s.mac.Reset()
	s.mac.Write(out)
	sum := s.mac.Sum(s.sum[:0])
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sum)
	s.out = out
	return string(out), nil
}

// jwtHeaderHS256 is golang-jwt's header {"alg":"HS256","typ":"JWT"}, encoded.
const jwtHeaderHS256 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

// macState is one signer's scratch: a keyed HMAC and reusable buffers.
type macState struct {
	mac  hash.Hash
	json []byte
	out  []byte
	sum  [sha256.Size]byte
}

// macPool holds the states keyed with one secret. Keying an HMAC costs two
// SHA-256 blocks and allocations; Reset keeps the key.
type macPool struct {
	secret string
	sync.Pool
}

var currentMACPool atomic.Pointer[macPool]

// macPoolFor returns the pool for secret, replacing the current one when the
// secret changed (a key rotation).
func macPoolFor(secret string) *macPool {
	if p := currentMACPool.Load(); p != nil && p.secret == secret {
		return p
	}
	p := &macPool{secret: secret}
	p.New = func() any {
		return &macState{mac: hmac.New(sha256.New, []byte(secret)), json: make([]byte, 0, 1024), out: make([]byte, 0, 2048)}
	}
	currentMACPool.Store(p)
	return p
}

// fastSignable reports whether appendClaims writes every field of c that is
// set: the grants it does not write (SIP, agent, inference, observability,
// room configuration) are nil, and so are the registered claims it does not
// write. TestSignerKnowsEveryClaimField fails when a newer livekit/protocol
// or golang-jwt adds a field, so that this list is brought up to date.
func fastSignable(c *claims) bool {
	return jwt.TimePrecision == time.Second &&
		c.ExpiresAt != nil && c.NotBefore != nil && c.IssuedAt != nil && c.Audience == nil && c.ID == "" &&
		c.SIP == nil && c.Agent == nil && c.Inference == nil && c.Observability == nil && c.RoomConfig == nil
}

// appendClaims writes c as encoding/json does: struct fields in declaration
// order (the embedded RegisteredClaims first), omitempty honoured, map keys
// sorted, strings escaped the same way.
func appendClaims(b []byte, c *claims) []byte {
	o := jsonObject{b: append(b, '{')}
	o.str("iss", c.Issuer)
	o.str("sub", c.Subject)
	o.date("exp", c.ExpiresAt)
	o.date("nbf", c.NotBefore)
	o.date("iat", c.IssuedAt)
	o.str("identity", c.Identity)
	o.str("name", c.Name)
	o.str("kind", c.Kind)
	o.strs("kindDetails", c.KindDetails)
	if v := c.Video; v != nil {
		o.key("video")
		g := jsonObject{b: append(o.b, '{')}
		g.flag("roomCreate", v.RoomCreate)
		g.flag("roomList", v.RoomList)
		g.flag("roomRecord", v.RoomRecord)
		g.flag("roomAdmin", v.RoomAdmin)
		g.flag("roomJoin", v.RoomJoin)
		g.str("room", v.Room)
		g.optBool("canPublish", v.CanPublish)
		g.optBool("canSubscribe", v.CanSubscribe)
		g.optBool("canPublishData", v.CanPublishData)
		g.strs("canPublishSources", v.CanPublishSources)
		g.optBool("canUpdateOwnMetadata", v.CanUpdateOwnMetadata)
		g.flag("ingressAdmin", v.IngressAdmin)
		g.flag("hidden", v.Hidden)
		g.flag("recorder", v.Recorder)
		g.flag("agent", v.Agent)
		g.optBool("canSubscribeMetrics", v.CanSubscribeMetrics)
		g.optBool("canManageAgentSession", v.CanManageAgentSession)
		g.str("destinationRoom", v.DestinationRoom)
		o.b = append(g.b, '}')
	}
	o.str("roomPreset", c.RoomPreset)
	o.str("sha256", c.Sha256)
	o.str("metadata", c.Metadata)
	if len(c.Attributes) > 0 {
		o.key("attributes")
		keys := make([]string, 0, len(c.Attributes))
		for k := range c.Attributes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		a := jsonObject{b: append(o.b, '{')}
		for _, k := range keys {
			a.key(k)
			a.b = appendJSONString(a.b, c.Attributes[k])
		}
		o.b = append(a.b, '}')
	}
	return append(o.b, '}')
}

// jsonObject appends the members of one JSON object.
type jsonObject struct {
	b    []byte
	more bool
}

func (o *jsonObject) key(k string) {
	if o.more {
		o.b = append(o.b, ',')
	}
	o.more = true
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *jsonObject) str(k, v string) {
	if v != "" {
		o.key(k)
		o.b = appendJSONString(o.b, v)
	}
}

func (o *jsonObject) strs(k string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, s)
	}
	o.b = append(o.b, ']')
}

func (o *jsonObject) flag(k string, v bool) {
	if v {
		o.key(k)
		o.b = append(o.b, "true"...)
	}
}

func (o *jsonObject) optBool(k string, v *bool) {
	if v != nil {
		o.key(k)
		o.b = strconv.AppendBool(o.b, *v)
	}
}

// date writes a NumericDate at jwt.TimePrecision == time.Second (checked by
// fastSignable): whole seconds since the epoch.
func (o *jsonObject) date(k string, d *jwt.NumericDate) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, d.Truncate(time.Second).Unix(), 10)
}

// appendJSONString quotes s as encoding/json does. Plain printable ASCII is
// copied; anything else (quotes, backslashes, HTML's <, > and &, control
// characters, non-ASCII, invalid UTF-8) is left to encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON marks the bytes encoding/json copies into a string as they are:
// printable ASCII but for the quote, the backslash and HTML's <, > and &. A
// table: this loop runs over every string of every token.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
