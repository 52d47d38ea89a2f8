package contract

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/internal/cases"
)

func TestFastValidationMatchesContract(t *testing.T) {
	t.Parallel()
	if got := generateTokenRulesFingerprint(); got != contractRulesFingerprint {
		t.Fatalf("GenerateTokenRequest or its rules changed (fingerprint %s): re-read proto/, bring acceptsGenerateToken "+
			"in line with the new rules and TestFastValidationAgreesWithProtovalidate's inputs, then set contractRulesFingerprint to it", got)
	}
}

// randLabel draws strings around every edge of the rules: each end of the
// whitespace and control classes, '#', the 256-byte limit, invalid UTF-8.
func randLabel(r *rand.Rand) string {
	edges := []rune{0x00, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x1f, 0x20, 0x21, '#', 0x7e, 0x7f, 0x80, 0x84, 0x85, 0x86, 0x9f, 0xa0, 0xa1,
		0x167f, 0x1680, 0x1681, 0x1fff, 0x2000, 0x2005, 0x200a, 0x200b, 0x2027, 0x2028, 0x2029, 0x202a, 0x202c, 0x202e, 0x202f, 0x2030,
		0x205e, 0x205f, 0x2060, 0x2065, 0x2066, 0x2068, 0x2069, 0x206a, 0x2fff, 0x3000, 0x3001, 'a', 'Z', '日', 0xfeff, 0xfffd, 0x10ffff, 0x1f399}
	common := []rune{'a', 'Z', '0', '-', '.', ' ', '日', 'é', 0x1f399}
	var b strings.Builder
	switch r.IntN(4) {
	case 0: // near the byte limit
		b.WriteString(strings.Repeat("a", 250+r.IntN(6)))
	case 1:
		b.WriteString(strings.Repeat(" ", r.IntN(4)))
	}
	for range r.IntN(6) {
		if r.IntN(25) == 0 {
			b.WriteByte(0xff) // invalid UTF-8
			continue
		}
		if r.IntN(2) == 0 {
			b.WriteRune(common[r.IntN(len(common))])
		} else {
			b.WriteRune(edges[r.IntN(len(edges))])
		}
	}
	return b.String()
}

// The fast path accepts exactly what protovalidate accepts: tested on the
// server's own table and on randomized requests around every rule's edges.
func TestFastValidationAgreesWithProtovalidate(t *testing.T) {
	t.Parallel()
	full, err := protovalidate.New(protovalidate.WithMessages(&lktokenv1.GenerateTokenRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	check := func(m *lktokenv1.GenerateTokenRequest) {
		t.Helper()
		fast, slow := acceptsGenerateToken(m), full.Validate(m) == nil
		valid := utf8.ValidString(m.RoomName) && utf8.ValidString(m.ParticipantIdentity) && utf8.ValidString(m.GetParticipantName()) &&
			utf8.ValidString(m.GetParticipantMetadata())
		for k, v := range m.ParticipantAttributes {
			valid = valid && utf8.ValidString(k) && utf8.ValidString(v)
		}
		for _, a := range m.GetRoomConfig().GetAgents() {
			valid = valid && utf8.ValidString(a.AgentName) && utf8.ValidString(a.Metadata) && utf8.ValidString(a.Deployment)
		}
		if fast && !slow || valid && fast != slow {
			t.Fatalf("request %q: fast path %v, protovalidate %v (%v)", m, fast, slow, full.Validate(m))
		}
	}
	big := strings.Repeat("m", 524288)
	for _, m := range []*lktokenv1.GenerateTokenRequest{
		{RoomName: "r", ParticipantIdentity: "u", ParticipantMetadata: proto.String(big)},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantMetadata: proto.String(big + "m")},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantMetadata: proto.String("")},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{"team": ""}},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{"lk.agent": "x"}},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{"": "x"}},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{" ": "x"}},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{strings.Repeat("k", 257): "x"}},
		{RoomName: "r", ParticipantIdentity: "u", ParticipantAttributes: map[string]string{"a\u202eb": "x"}},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: &lktokenv1.RoomConfig{}},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{})},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{AgentName: "helper", Metadata: big, Deployment: "my_env"})},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{AgentName: "helper", Metadata: big + "m"})},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{AgentName: strings.Repeat("a", 256)})},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{AgentName: "ok"}, &lktokenv1.RoomAgentDispatch{AgentName: strings.Repeat("a", 257)})},
		{RoomName: "r", ParticipantIdentity: "u", RoomConfig: agents(&lktokenv1.RoomAgentDispatch{AgentName: " "})},
	} {
		check(m)
	}
	for _, c := range cases.Tokens() {
		check(c.Req)
		// The fast path restates the contract; the identity a request
		// still lacks after binding is the server's rule (Check).
		if (acceptsGenerateToken(c.Req) && c.Req.ParticipantIdentity != "") != (c.WantErr == "") {
			t.Errorf("%s: fast path %v", c.Name, acceptsGenerateToken(c.Req))
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	lifetimes := []uint32{0, 1, 59, 60, 61, 3600, 86399, 86400, 86401, 1<<32 - 1}
	accepted := 0
	const n = 50000
	for range n {
		m := &lktokenv1.GenerateTokenRequest{RoomName: randLabel(r), ParticipantIdentity: randLabel(r)}
		if r.IntN(2) == 0 {
			m.ParticipantName = proto.String(randLabel(r))
		}
		if r.IntN(2) == 0 {
			m.ExpirationSeconds = proto.Uint32(lifetimes[r.IntN(len(lifetimes))])
		}
		if r.IntN(4) == 0 {
			m.ParticipantMetadata = proto.String(randLabel(r))
		}
		if r.IntN(4) == 0 {
			m.ParticipantAttributes = map[string]string{}
			for range r.IntN(3) + 1 {
				k := randLabel(r)
				if r.IntN(8) == 0 {
					k = "lk." + k
				}
				m.ParticipantAttributes[k] = randLabel(r)
			}
		}
		if r.IntN(4) == 0 {
			m.RoomConfig = &lktokenv1.RoomConfig{}
			for range r.IntN(3) {
				m.RoomConfig.Agents = append(m.RoomConfig.Agents, &lktokenv1.RoomAgentDispatch{
					AgentName: randLabel(r), Metadata: randLabel(r), Deployment: randLabel(r)})
			}
		}
		check(m)
		if acceptsGenerateToken(m) {
			accepted++
		}
	}
	t.Logf("%d of %d random requests accepted", accepted, n)
	// Both outcomes must be common, or the comparison proves little.
	if accepted < n/20 || accepted > n*19/20 {
		t.Errorf("%d of %d random requests accepted", accepted, n)
	}
}

// Through the validator the API uses: valid requests pass, invalid ones get
// protovalidate's own error.
func TestContractValidatorFallsBackToProtovalidate(t *testing.T) {
	t.Parallel()
	full, err := protovalidate.New(protovalidate.WithMessages(&lktokenv1.GenerateTokenRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	v := NewValidator()
	cv := v
	if !cv.fast {
		t.Fatal("fast path is off")
	}
	if err := v.Check(cases.Req("standup", "user-42")); err != nil || cv.full != nil {
		t.Fatalf("a valid request: %v, protovalidate built: %v", err, cv.full != nil)
	}
	for _, c := range cases.Tokens() {
		got, want := v.Check(c.Req), asConnectError(full.Validate(c.Req))
		if c.Req.ParticipantIdentity == "" { // the server's rule, not the contract's
			want = asConnectError(withIdentityRequired(full.Validate(c.Req)))
		}
		if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
			t.Errorf("%s: got %v, want %v", c.Name, got, want)
		}
	}
	if cv.full == nil {
		t.Error("protovalidate was never built")
	}
}

// TestIdentityRequiredIsProtovalidatesOwn: the server's "participant_identity
// is required" is, field for field, the violation protovalidate reported
// while the contract marked the field required (captured from protovalidate
// v1.4 before the rule moved), in the same place among the others.
func TestIdentityRequiredIsProtovalidatesOwn(t *testing.T) {
	const want = `{"field":{"elements":[{"fieldNumber":2,"fieldName":"participant_identity","fieldType":"TYPE_STRING"}]},` +
		`"rule":{"elements":[{"fieldNumber":25,"fieldName":"required","fieldType":"TYPE_BOOL"}]},"ruleId":"required","message":"value is required"}`
	got, err := protojson.Marshal(identityRequired())
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal([]byte(want), &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("identityRequired()\n got  %s\n want %s", got, want)
	}
	v := NewValidator()
	for _, c := range []struct {
		req  *lktokenv1.GenerateTokenRequest
		want string
	}{
		{cases.Req("", ""), "room_name: value is required; participant_identity: value is required"},
		{cases.Req("r", ""), "participant_identity: value is required"},
		{&lktokenv1.GenerateTokenRequest{RoomName: "r", ExpirationSeconds: proto.Uint32(1)}, "participant_identity: value is required; expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"},
		{cases.Req("r", "u"), ""},
	} {
		err := v.Check(c.req)
		if (err == nil) != (c.want == "") || err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("%v: %v", c.req, err)
			continue
		}
		var cerr *connect.Error
		if errors.As(err, &cerr) && cerr.Message() != c.want {
			t.Errorf("%v:\n got  %q\n want %q", c.req, cerr.Message(), c.want)
		}
		if cerr != nil && len(cerr.Details()) != 1 {
			t.Errorf("%v: %d details", c.req, len(cerr.Details()))
		}
	}
}

// agents is a room_config dispatching a.
func agents(a ...*lktokenv1.RoomAgentDispatch) *lktokenv1.RoomConfig {
	return &lktokenv1.RoomConfig{Agents: a}
}
