package mint

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/lktoken/lktoken/service/internal/cases"
)

// randText draws strings that exercise every escaping rule of encoding/json:
// plain ASCII, quotes and backslashes, HTML's <>&, control characters, DEL,
// multi-byte UTF-8, U+2028/U+2029, emoji and invalid UTF-8.
func randText(r *rand.Rand, maxLen int) string {
	pieces := []string{"a", "Z", "0", "-", "_", ".", " ", "@", "#", "/", "\"", "\\", "<", ">", "&", "'", "\x00", "\n", "\t", "\b", "\f", "\r", "\x1b", "\x7f",
		"é", "日", "\u2028", "\u2029", "\u202e", "🎙️", "\xff", "\xc3", "\ufffd", "\u0085"}
	n := r.IntN(maxLen + 1)
	var b strings.Builder
	for b.Len() < n {
		if r.IntN(3) == 0 {
			b.WriteString(pieces[r.IntN(len(pieces))])
		} else {
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return b.String()
}

func randBoolPtr(r *rand.Rand) *bool {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return new(bool)
	default:
		v := true
		return &v
	}
}

// randClaims draws claims over every field appendClaims writes, most of them
// often empty, sometimes with a grant appendClaims does not write (SIP).
func randClaims(r *rand.Rand) claims {
	now := time.Unix(r.Int64N(4_000_000_000), r.Int64N(1_000_000_000))
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    randText(r, 20),
			Subject:   randText(r, 40),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Duration(r.IntN(86400)) * time.Second)),
		},
		ClaimGrants: auth.ClaimGrants{
			Identity: randText(r, 40),
			Name:     randText(r, 40),
		},
	}
	if r.IntN(4) == 0 {
		c.Kind = randText(r, 10)
		c.KindDetails = []string{randText(r, 5), randText(r, 5)}[:r.IntN(3)]
	}
	if r.IntN(4) == 0 {
		c.Metadata, c.RoomPreset, c.Sha256 = randText(r, 60), randText(r, 5), randText(r, 5)
	}
	if r.IntN(4) == 0 {
		c.Attributes = map[string]string{}
		for range r.IntN(5) {
			c.Attributes[randText(r, 10)] = randText(r, 20)
		}
	}
	if r.IntN(10) != 0 {
		v := &auth.VideoGrant{
			RoomCreate: r.IntN(5) == 0, RoomList: r.IntN(5) == 0, RoomRecord: r.IntN(5) == 0, RoomAdmin: r.IntN(5) == 0,
			RoomJoin: r.IntN(2) == 0, Room: randText(r, 30),
			CanPublish: randBoolPtr(r), CanSubscribe: randBoolPtr(r), CanPublishData: randBoolPtr(r),
			CanUpdateOwnMetadata: randBoolPtr(r), IngressAdmin: r.IntN(5) == 0, Hidden: r.IntN(5) == 0,
			Recorder: r.IntN(5) == 0, Agent: r.IntN(5) == 0, CanSubscribeMetrics: randBoolPtr(r),
			CanManageAgentSession: randBoolPtr(r), DestinationRoom: randText(r, 5),
		}
		if r.IntN(2) == 0 {
			v.CanPublishSources = []string{"microphone", randText(r, 8)}[:1+r.IntN(2)]
		}
		c.Video = v
	}
	if r.IntN(20) == 0 {
		c.SIP = &auth.SIPGrant{Admin: true}
	}
	if r.IntN(20) == 0 {
		c.RoomConfig = &auth.RoomConfiguration{Name: "room-" + strings.Repeat("x", r.IntN(5)), Agents: []*livekit.RoomAgentDispatch{{AgentName: "a"}}}
	}
	return c
}

// The fast signer's tokens are byte-identical to golang-jwt's for the same
// claims, over randomized claims covering every field it writes and the
// fallback for those it does not; and they verify with LiveKit's own parser.
func TestSignHS256IsByteIdentical(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	fast := 0
	for i := range n {
		c := randClaims(r)
		if i%50 == 0 { // verifiable now, below
			now := time.Now()
			c.IssuedAt, c.NotBefore, c.ExpiresAt = jwt.NewNumericDate(now), jwt.NewNumericDate(now), jwt.NewNumericDate(now.Add(time.Hour))
		}
		secret := "secret-" + randText(r, 40)
		if i%7 == 0 {
			secret = testCreds.APISecret // the same pooled key many times over
		}
		want, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		got, err := signHS256(&c, secret)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("case %d: claims %+v\n got %s\nwant %s", i, c, got, want)
		}
		if fastSignable(&c) {
			fast++
		}
		if i%50 == 0 {
			v, err := auth.ParseAPIToken(got)
			if err != nil {
				t.Fatalf("case %d: ParseAPIToken: %v", i, err)
			}
			if _, _, err := v.Verify(secret); err != nil {
				t.Fatalf("case %d: Verify: %v", i, err)
			}
		}
	}
	// Most cases must take the fast path, or the test proves little.
	if fast < n*8/10 {
		t.Errorf("only %d of %d cases took the fast path", fast, n)
	}
}

// Sign's tokens decode to exactly the claims auth.AccessToken produces
// for the same request (its own clock aside) and verify with
// auth.ParseAPIToken, over randomized requests.
func TestMintTokenMatchesAccessToken(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		req := Request{Room: randText(r, 60) + "r", Identity: randText(r, 60) + "i", Name: randText(r, 60), Lifetime: time.Duration(60+r.IntN(86341)) * time.Second}
		minted, err := Sign(testCreds, req, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		at := auth.NewAccessToken(testCreds.APIKey, testCreds.APISecret).
			SetIdentity(req.Identity).SetName(req.Name).SetVideoGrant(JoinGrant(req.Room)).SetValidFor(req.Lifetime)
		ref, err := at.ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		got, want := cases.JWTPayload(t, minted.JWT), cases.JWTPayload(t, ref)
		for _, m := range []map[string]any{got, want} {
			if m["exp"].(float64)-m["iat"].(float64) != req.Lifetime.Seconds() || m["nbf"] != m["iat"] {
				t.Fatalf("case %d: times %v %v %v", i, m["iat"], m["nbf"], m["exp"])
			}
			delete(m, "iat")
			delete(m, "nbf")
			delete(m, "exp")
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("case %d: claims\n got %s\nwant %s", i, g, w)
		}
		var verified []string
		for _, token := range []string{minted.JWT, ref} {
			v, err := auth.ParseAPIToken(token)
			if err != nil {
				t.Fatal(err)
			}
			_, grants, err := v.Verify(testCreds.APISecret)
			if err != nil {
				t.Fatalf("case %d: verify: %v", i, err)
			}
			b, _ := json.Marshal(grants)
			verified = append(verified, string(b))
		}
		if verified[0] != verified[1] {
			t.Fatalf("case %d: verified grants\n got %s\nwant %s", i, verified[0], verified[1])
		}
	}
}

// appendClaims writes the fields listed here; fastSignable checks that the
// others are unset. A field added by a newer livekit/protocol or golang-jwt
// must be added to one or the other, and here.
func TestSignerKnowsEveryClaimField(t *testing.T) {
	t.Parallel()
	fields := func(v any) string {
		var names []string
		for f := range reflect.TypeOf(v).Fields() {
			names = append(names, f.Name)
		}
		return strings.Join(names, " ")
	}
	for _, c := range []struct {
		v    any
		want string
	}{
		{jwt.RegisteredClaims{}, "Issuer Subject Audience ExpiresAt NotBefore IssuedAt ID"},
		{auth.ClaimGrants{}, "Identity Name Kind KindDetails Video SIP Agent Inference Observability RoomConfig RoomPreset Sha256 Metadata Attributes"},
		{auth.VideoGrant{}, "RoomCreate RoomList RoomRecord RoomAdmin RoomJoin Room CanPublish CanSubscribe CanPublishData CanPublishSources " +
			"CanUpdateOwnMetadata IngressAdmin Hidden Recorder Agent CanSubscribeMetrics CanManageAgentSession DestinationRoom"},
		{claims{}, "RegisteredClaims ClaimGrants"},
	} {
		if got := fields(c.v); got != c.want {
			t.Errorf("%T has fields\n %s\nthe signer knows\n %s\nupdate appendClaims, fastSignable and this test", c.v, got, c.want)
		}
	}
}
