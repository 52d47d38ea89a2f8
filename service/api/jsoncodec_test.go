package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// randJSONText draws strings with everything protojson escapes or refuses.
func randJSONText(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "-", "/", "<", "&", "\"", "\\", "\x00", "\x01", "\x08", "\x0c", "\n", "\r", "\t", "\x1f", "\x7f",
		"é", "日", "\u2028", "\ufffd", "🎙️", "\xff", "\xe6\x97"}
	var b strings.Builder
	for range r.IntN(8) {
		if r.IntN(2) == 0 {
			b.WriteString(pieces[r.IntN(len(pieces))])
		} else {
			b.WriteString("user-42")
		}
	}
	return b.String()
}

// The response shortcut writes exactly protojson's bytes (once protojson's
// deliberately random spacing is compacted away) and refuses what protojson
// refuses.
func TestJSONCodecResponseMatchesProtojson(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	codec := jsonCodec{name: "json"}
	fast := 0
	const n = 20000
	for range n {
		m := &lktokenv1.GenerateTokenResponse{Token: randJSONText(r), ServerUrl: randJSONText(r), RoomName: randJSONText(r), ParticipantIdentity: randJSONText(r)}
		switch r.IntN(6) {
		case 0: // none
		case 1:
			m.ExpiresAt = &timestamppb.Timestamp{Seconds: r.Int64N(1 << 40), Nanos: int32(r.IntN(1e9))}
		case 2:
			m.ExpiresAt = &timestamppb.Timestamp{Seconds: []int64{-62135596801, -62135596800, 0, 253402300799, 253402300800}[r.IntN(5)]}
		default:
			m.ExpiresAt = &timestamppb.Timestamp{Seconds: r.Int64N(4_000_000_000)}
		}
		want, wantErr := protojson.MarshalOptions{}.Marshal(m)
		got, gotErr := codec.MarshalAppend([]byte("prefix"), m)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%v: error %v, protojson %v", m, gotErr, wantErr)
		}
		if wantErr != nil {
			continue
		}
		if _, ok := appendResponseJSON(nil, m); !ok {
			if string(got) != "prefix"+string(want) {
				t.Fatalf("%v: not protojson's own output:\n got %s\nwant prefix%s", m, got, want)
			}
			continue
		}
		fast++
		var compact bytes.Buffer
		if err := json.Compact(&compact, want); err != nil {
			t.Fatal(err)
		}
		if string(got) != "prefix"+compact.String() {
			t.Fatalf("%v:\n got %s\nwant prefix%s", m, got, compact.String())
		}
	}
	if fast < n/3 {
		t.Errorf("only %d of %d responses took the shortcut", fast, n)
	}
}

// randRequestJSON writes a request body the way clients might, and the ways
// they should not: both spellings, odd spacing, escapes, numbers as strings
// or floats, null, unknown and repeated keys, trailing bytes, truncation.
func randRequestJSON(r *rand.Rand) []byte {
	ws := func() string { return []string{"", "", " ", "\n\t", "\r\n  "}[r.IntN(5)] }
	str := func() string {
		switch r.IntN(8) {
		case 0:
			b, _ := json.Marshal(randJSONText(r)) // with escapes, maybe invalid UTF-8 replaced
			return string(b)
		case 1:
			return `"` + randJSONText(r) + `"` // raw: control characters, invalid UTF-8, stray quotes
		case 2:
			return `"a\u00e9\"b"`
		default:
			return `"` + []string{"standup", "user-42", "Ada Lovelace", "日本語", "a b", ""}[r.IntN(6)] + `"`
		}
	}
	num := func() string {
		return []string{"60", "3600", "86400", "0", "4294967295", "4294967296", "-1", "01", "3600.0", "3.6e3", `"3600"`, "1e", "36 00", "null", `""`}[r.IntN(15)]
	}
	keys := [][2]string{{"roomName", "room_name"}, {"participantIdentity", "participant_identity"}, {"participantName", "participant_name"}, {"expirationSeconds", "expiration_seconds"}}
	var members []string
	for k, names := range keys {
		if r.IntN(5) == 0 {
			continue
		}
		name := names[r.IntN(2)]
		if r.IntN(40) == 0 {
			name = strings.ToUpper(name)
		}
		v := str()
		if k == 3 {
			v = num()
		} else if r.IntN(30) == 0 {
			v = []string{"null", "42", "true", "{}", "[]"}[r.IntN(5)]
		}
		members = append(members, fmt.Sprintf("%s%q%s:%s%s%s", ws(), name, ws(), ws(), v, ws()))
	}
	if r.IntN(15) == 0 {
		members = append(members, `"unknownField":{"a":[1,2]}`)
	}
	if r.IntN(15) == 0 { // agent dispatch: always protojson's
		members = append(members, []string{`"roomConfig":{"agents":[{"agentName":"helper","metadata":"m"}]}`,
			`"room_config":{"agents":[{"agent_name":"helper","deployment":"staging"}]}`, `"roomConfig":{}`, `"room_config":null`,
			`"roomConfig":{"agents":[{"agentName":1}]}`, `"roomConfig":{"egress":{}}`}[r.IntN(6)])
	}
	if r.IntN(15) == 0 && len(members) > 0 {
		members = append(members, members[0]) // a repeated key
	}
	r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	body := ws() + "{" + strings.Join(members, ",") + "}" + ws()
	switch r.IntN(25) {
	case 0:
		body += "x"
	case 1:
		body = body[:r.IntN(len(body))]
	case 2:
		body = strings.Replace(body, "}", ",}", 1)
	case 3:
		body = "[" + body + "]"
	}
	return []byte(body)
}

// Every body the request shortcut accepts decodes to exactly what protojson
// decodes; every other body gets protojson's own result and error.
func TestJSONCodecRequestMatchesProtojson(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	codec := jsonCodec{name: "json"}
	fast := 0
	const n = 50000
	for range n {
		body := randRequestJSON(r)
		if len(body) == 0 {
			continue // connect-go's own error, checked below
		}
		want := &lktokenv1.GenerateTokenRequest{}
		wantErr := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, want)
		direct := &lktokenv1.GenerateTokenRequest{}
		if decodeRequestJSON(body, direct) {
			fast++
			if wantErr != nil || !proto.Equal(direct, want) {
				t.Fatalf("body %q: shortcut decoded %v, protojson %v (%v)", body, direct, want, wantErr)
			}
		}
		got := &lktokenv1.GenerateTokenRequest{}
		gotErr := codec.Unmarshal(body, got)
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != "unmarshal into *lktokenv1.GenerateTokenRequest: "+wantErr.Error() {
			t.Fatalf("body %q: error %v, protojson %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !proto.Equal(got, want) {
			t.Fatalf("body %q: decoded %v, protojson %v", body, got, want)
		}
	}
	t.Logf("%d of %d bodies took the shortcut", fast, n)
	if fast < n/10 {
		t.Errorf("only %d of %d bodies took the shortcut", fast, n)
	}
	if err := codec.Unmarshal(nil, &lktokenv1.GenerateTokenRequest{}); err == nil || err.Error() != "zero-length payload is not a valid JSON object" {
		t.Errorf("empty body: %v", err)
	}
}

// The shortcuts are on, and were written for the messages of proto/ as they
// are: a field added, renamed or retyped in GenerateTokenRequest or
// GenerateTokenResponse switches its shortcut off (correct, only slower) and
// fails here until jsoncodec.go handles it.
func TestJSONCodecKnowsEveryField(t *testing.T) {
	t.Parallel()
	for _, m := range []struct {
		msg   proto.Message
		known []string
		on    bool
		what  string
	}{
		{&lktokenv1.GenerateTokenResponse{}, responseFields, fastResponse, "appendResponseJSON writes every field: teach it the new one, then update responseFields"},
		{&lktokenv1.GenerateTokenRequest{}, requestFields, fastRequest, "decodeRequestJSON must leave a body that sets an unknown field to protojson: check it does, teach it the field if it is common, then update requestFields"},
	} {
		got := fieldList(m.msg.ProtoReflect().Descriptor())
		if !m.on || !slices.Equal(got, m.known) {
			t.Errorf("%s changed:\n got  %q\n knew %q\n%s", m.msg.ProtoReflect().Descriptor().FullName(), got, m.known, m.what)
		}
	}
}

// The contract's room_config is a wire-compatible subset of LiveKit's
// RoomConfiguration: the same bytes decode to the same agents either way.
func TestRoomConfigIsLiveKitsOnTheWire(t *testing.T) {
	t.Parallel()
	ours := &lktokenv1.RoomConfig{Agents: []*lktokenv1.RoomAgentDispatch{{AgentName: "helper", Metadata: "m", Deployment: "staging"}, {AgentName: "b"}}}
	b, err := proto.Marshal(ours)
	if err != nil {
		t.Fatal(err)
	}
	var theirs livekit.RoomConfiguration
	if err := proto.Unmarshal(b, &theirs); err != nil {
		t.Fatal(err)
	}
	want := &livekit.RoomConfiguration{Agents: []*livekit.RoomAgentDispatch{{AgentName: "helper", Metadata: "m", Deployment: "staging"}, {AgentName: "b"}}}
	if !proto.Equal(&theirs, want) {
		t.Errorf("decoded as LiveKit's: %v", &theirs)
	}
}
