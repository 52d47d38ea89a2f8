// Package cases is the table of GenerateToken requests that the tests of
// several packages share: what the contract accepts (with the lifetime a
// default server grants) and what it refuses (with protovalidate's message).
package cases

import (
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// U32 returns a pointer to v.
func U32(v uint32) *uint32 { return &v }

// Token is one case.
type Token struct {
	Name string
	Req  *lktokenv1.GenerateTokenRequest
	// WantErr is the exact message of an invalid_argument error; "" means success.
	WantErr string
	// WantLifetime applies to successes.
	WantLifetime time.Duration
}

// Req is a request for room and identity, nothing else.
func Req(room, identity string) *lktokenv1.GenerateTokenRequest {
	return &lktokenv1.GenerateTokenRequest{RoomName: room, ParticipantIdentity: identity}
}

// With returns r after f changed it.
func With(r *lktokenv1.GenerateTokenRequest, f func(*lktokenv1.GenerateTokenRequest)) *lktokenv1.GenerateTokenRequest {
	f(r)
	return r
}

// Tokens returns a fresh copy of the table.
func Tokens() []Token {
	b256 := strings.Repeat("b", 256)
	jp := strings.Repeat("日", 85) + "x" // 85*3+1 = 256 bytes
	return []Token{
		{Name: "minimal", Req: Req("standup", "user-42"), WantLifetime: time.Hour},
		{Name: "with name", Req: With(Req("standup", "user-42"), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String("Ada Lovelace") }), WantLifetime: time.Hour},
		{Name: "custom lifetime", Req: With(Req("r", "i"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(900) }), WantLifetime: 15 * time.Minute},
		{Name: "lifetime 60", Req: With(Req("r", "i"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(60) }), WantLifetime: time.Minute},
		{Name: "lifetime 86400", Req: With(Req("r", "i"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(86400) }), WantLifetime: 24 * time.Hour},
		{Name: "256 bytes", Req: With(Req(b256, b256), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String(b256) }), WantLifetime: time.Hour},
		{Name: "256 bytes multi-byte", Req: Req(jp, jp), WantLifetime: time.Hour},
		{Name: "punctuation and emoji", Req: Req(`a/b?c&d=e%f 'q' "dq" <x> 🎙️`, "user@example.com+1"), WantLifetime: time.Hour},
		{Name: "inner spaces", Req: Req(" lead and trail ", " u "), WantLifetime: time.Hour},

		{Name: "empty request", Req: Req("", ""), WantErr: "room_name: value is required; participant_identity: value is required"},
		{Name: "blank room", Req: Req(" \t ", "u"), WantErr: "room_name: must not be only whitespace; room_name: must not contain control or bidirectional-override characters"},
		{Name: "blank room (ideographic space)", Req: Req("\u3000", "u"), WantErr: "room_name: must not be only whitespace"},
		{Name: "room too long", Req: Req(b256+"b", "u"), WantErr: "room_name: must be at most 256 bytes"},
		{Name: "room too long multi-byte", Req: Req(jp+"é", "u"), WantErr: "room_name: must be at most 256 bytes"},
		{Name: "room with NUL", Req: Req("a\x00b", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "room with newline", Req: Req("a\nb", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "room with DEL", Req: Req("a\x7fb", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "room with C1 control", Req: Req("a\u0085b", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "room with bidi override", Req: Req("evil\u202Egnp.exe", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "room with bidi isolate", Req: Req("a\u2066b", "u"), WantErr: "room_name: must not contain control or bidirectional-override characters"},
		{Name: "no identity", Req: Req("r", ""), WantErr: "participant_identity: value is required"},
		{Name: "blank identity", Req: Req("r", "   "), WantErr: "participant_identity: must not be only whitespace"},
		{Name: "identity with hash", Req: Req("r", "user#1"), WantErr: "participant_identity: must not contain '#' (LiveKit reserves it in identities)"},
		{Name: "identity too long", Req: Req("r", b256+"b"), WantErr: "participant_identity: must be at most 256 bytes"},
		{Name: "identity with tab", Req: Req("r", "a\tb"), WantErr: "participant_identity: must not contain control or bidirectional-override characters"},
		{Name: "empty name", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String("") }), WantErr: "participant_name: must be at least 1 bytes"},
		{Name: "blank name", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String("  ") }), WantErr: "participant_name: must not be only whitespace"},
		{Name: "name too long", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String(b256 + "b") }), WantErr: "participant_name: must be at most 256 bytes"},
		{Name: "name with control", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ParticipantName = proto.String("Ada\x1b[31m") }), WantErr: "participant_name: must not contain control or bidirectional-override characters"},
		{Name: "lifetime 59", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(59) }), WantErr: "expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"},
		{Name: "lifetime 86401", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(86401) }), WantErr: "expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"},
		{Name: "lifetime 0", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.ExpirationSeconds = U32(0) }), WantErr: "expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"},
		{Name: "agent name with control", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.RoomConfig = agents("help\ner") }), WantErr: "room_config.agents[0].agent_name: must not contain control or bidirectional-override characters"},
		{Name: "agent name over 256 bytes", Req: With(Req("r", "u"), func(r *lktokenv1.GenerateTokenRequest) { r.RoomConfig = agents("ok", strings.Repeat("a", 257)) }), WantErr: "room_config.agents[1].agent_name: must be at most 256 bytes"},
		{Name: "every field bad", Req: With(Req(" ", "a#b"), func(r *lktokenv1.GenerateTokenRequest) {
			r.ParticipantName = proto.String("\u202E")
			r.ExpirationSeconds = U32(1)
		}), WantErr: "room_name: must not be only whitespace; participant_identity: must not contain '#' (LiveKit reserves it in identities); participant_name: must not contain control or bidirectional-override characters; expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"},
	}
}

// agents is a room_config dispatching the named agents.
func agents(names ...string) *lktokenv1.RoomConfig {
	rc := &lktokenv1.RoomConfig{}
	for _, n := range names {
		rc.Agents = append(rc.Agents, &lktokenv1.RoomAgentDispatch{AgentName: n})
	}
	return rc
}
