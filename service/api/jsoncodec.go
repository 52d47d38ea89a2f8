package api

import (
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// jsonCodec is connect-go's JSON codec (protojson, unknown fields discarded)
// with a shortcut for the two messages of the hot path: a plain
// GenerateTokenRequest body is decoded by hand, and a GenerateTokenResponse
// is written directly. Anything the shortcut does not handle exactly as
// protojson would (escapes, null, numbers in other forms, unknown or repeated
// keys, malformed input, timestamps with nanoseconds...) goes to protojson
// itself, so every accepted input decodes to the same message and every error
// is protojson's. TestJSONCodecRequestMatchesProtojson and
// TestJSONCodecResponseMatchesProtojson check both directions on randomized
// input.
//
// The shortcuts restate the two messages' fields, so they guard themselves:
// each is on only while its message has exactly the fields it was written
// for (fastResponse, fastRequest), and TestJSONCodecKnowsEveryField fails
// when proto/ adds, renames or retypes one, until the shortcut is taught it.
type jsonCodec struct{ name string }

// The fields each shortcut was written for, as "name kind cardinality".
// appendResponseJSON writes every field of the response; decodeRequestJSON
// reads the first four of the request and leaves bodies that set the others
// (metadata, attributes, room_config) to protojson.
var (
	responseFields = []string{
		"token string optional", "expires_at message optional", "server_url string optional",
		"room_name string optional", "participant_identity string optional",
	}
	requestFields = []string{
		"room_name string optional", "participant_identity string optional", "participant_name string optional",
		"expiration_seconds uint32 optional", "participant_metadata string optional", "participant_attributes message repeated",
		"room_config message optional",
	}
	fastResponse = fieldsAre((&lktokenv1.GenerateTokenResponse{}).ProtoReflect().Descriptor(), responseFields)
	fastRequest  = fieldsAre((&lktokenv1.GenerateTokenRequest{}).ProtoReflect().Descriptor(), requestFields)
)

// fieldsAre reports whether md's fields, in number order from 1, are want.
func fieldsAre(md protoreflect.MessageDescriptor, want []string) bool {
	return slices.Equal(fieldList(md), want)
}

// fieldList describes md's fields in number order, as responseFields does;
// a gap in the numbers shows as "(none)".
func fieldList(md protoreflect.MessageDescriptor) []string {
	var out []string
	fields := md.Fields()
	for n, seen := protoreflect.FieldNumber(1), 0; seen < fields.Len(); n++ {
		fd := fields.ByNumber(n)
		if fd == nil {
			out = append(out, "(none)")
			continue
		}
		seen++
		out = append(out, string(fd.Name())+" "+fd.Kind().String()+" "+fd.Cardinality().String())
	}
	return out
}

// CodecOptions are how lktoken's Connect handlers encode: jsonCodec in place
// of connect-go's JSON codecs (under the same names), and no compression of
// answers smaller than compressMinBytes. They are exported for
// bench/connectfloor's connect-go floor, which must encode as lktoken does.
func CodecOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
		// Browsers always accept gzip, and connect-go compresses every answer by
		// default; for a ~650-byte answer, mostly a JWT's incompressible base64,
		// that doubled the CPU time per request (docs/BENCHMARKS.md).
		connect.WithCompressMinBytes(compressMinBytes),
	}
}

// compressMinBytes is the smallest answer worth compressing.
const compressMinBytes = 1024

// Name implements connect.Codec.
func (c jsonCodec) Name() string { return c.name }

// IsBinary reports false: JSON is text (connect-go's Codec contract).
func (c jsonCodec) IsBinary() bool { return false }

// Marshal implements connect.Codec.
func (c jsonCodec) Marshal(message any) ([]byte, error) { return c.MarshalAppend(nil, message) }

// MarshalAppend implements connect-go's appending marshaler.
func (c jsonCodec) MarshalAppend(dst []byte, message any) ([]byte, error) {
	if r, ok := message.(*lktokenv1.GenerateTokenResponse); ok && fastResponse {
		if out, ok := appendResponseJSON(dst, r); ok {
			return out, nil
		}
	}
	m, ok := message.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T doesn't implement proto.Message", message)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal implements connect.Codec exactly as connect-go's JSON codec does.
func (c jsonCodec) Unmarshal(data []byte, message any) error {
	if r, ok := message.(*lktokenv1.GenerateTokenRequest); ok && fastRequest && decodeRequestJSON(data, r) {
		return nil
	}
	m, ok := message.(proto.Message)
	if !ok {
		return fmt.Errorf("%T doesn't implement proto.Message", message)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	// Discard unknown fields so clients and servers aren't forced to always use
	// exactly the same version of the schema.
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", message, err)
	}
	return nil
}

// appendResponseJSON writes r as protojson does (fields in number order,
// lowerCamelCase names, empty ones left out), or reports false when r holds
// something it leaves to protojson: invalid UTF-8, a timestamp with
// nanoseconds or outside years 1..9999.
func appendResponseJSON(dst []byte, r *lktokenv1.GenerateTokenResponse) ([]byte, bool) {
	out := append(dst, '{')
	more := false
	var ok bool
	field := func(name, v string) {
		if v == "" || !ok {
			return
		}
		if more {
			out = append(out, ',')
		}
		more = true
		out = append(out, name...)
		out, ok = appendProtoJSONString(out, v)
	}
	ok = true
	field(`"token":`, r.Token)
	if ts := r.ExpiresAt; ts != nil {
		const minSec, maxSec = -62135596800, 253402300799 // 0001-01-01, 9999-12-31T23:59:59
		if ts.Nanos != 0 || ts.Seconds < minSec || ts.Seconds > maxSec || len(ts.ProtoReflect().GetUnknown()) > 0 {
			return dst, false
		}
		if more {
			out = append(out, ',')
		}
		more = true
		out = append(out, `"expiresAt":"`...)
		out = time.Unix(ts.Seconds, 0).UTC().AppendFormat(out, "2006-01-02T15:04:05Z")
		out = append(out, '"')
	}
	field(`"serverUrl":`, r.ServerUrl)
	field(`"roomName":`, r.RoomName)
	field(`"participantIdentity":`, r.ParticipantIdentity)
	if !ok || len(r.ProtoReflect().GetUnknown()) > 0 {
		return dst, false
	}
	return append(out, '}'), true
}

// appendProtoJSONString quotes s as protojson does: '"', '\\' and control
// characters escaped, everything else (non-ASCII included) as is. It reports
// false for invalid UTF-8, which protojson refuses.
func appendProtoJSONString(out []byte, s string) ([]byte, bool) {
	out = append(out, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return out, false
			}
			out = append(out, s[i:i+n]...)
			i += n
			continue
		}
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c >= ' ':
			out = append(out, c)
		case c == '\b':
			out = append(out, '\\', 'b')
		case c == '\f':
			out = append(out, '\\', 'f')
		case c == '\n':
			out = append(out, '\\', 'n')
		case c == '\r':
			out = append(out, '\\', 'r')
		case c == '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u')
			out = append(out, "0000"[1+(bits.Len32(uint32(c))-1)/4:]...)
			out = strconv.AppendUint(out, uint64(c), 16)
		}
		i++
	}
	return append(out, '"'), true
}

// decodeRequestJSON decodes the common shape of a request body: one object
// whose members are the request's fields (either spelling), each at most
// once, with strings free of escapes and control characters and a lifetime
// written as plain digits. It reports false, leaving r to protojson, for
// anything else.
func decodeRequestJSON(data []byte, r *lktokenv1.GenerateTokenRequest) bool {
	r.Reset()
	// One copy of the body; the fields are substrings of it.
	body := string(data)
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return skipSpace(body, i+1) == len(body)
	}
	var seen [5]bool
	for {
		key, next, ok := rawString(body, i)
		if !ok {
			return false
		}
		i = skipSpace(body, next)
		if i >= len(body) || body[i] != ':' {
			return false
		}
		i = skipSpace(body, i+1)
		var num int
		switch key {
		case "roomName", "room_name":
			num = 1
		case "participantIdentity", "participant_identity":
			num = 2
		case "participantName", "participant_name":
			num = 3
		case "expirationSeconds", "expiration_seconds":
			num = 4
		default:
			return false // unknown (protojson discards it) or misspelt
		}
		if seen[num] {
			return false // protojson refuses duplicates
		}
		seen[num] = true
		if num == 4 {
			v, next, ok := rawUint32(body, i)
			if !ok {
				return false
			}
			r.ExpirationSeconds = &v
			i = next
		} else {
			v, next, ok := rawString(body, i)
			if !ok {
				return false
			}
			switch num {
			case 1:
				r.RoomName = v
			case 2:
				r.ParticipantIdentity = v
			case 3:
				name := v // only this one escapes to the heap
				r.ParticipantName = &name
			}
			i = next
		}
		// A comma and another member, or the end of the object and of the input.
		i = skipSpace(body, i)
		if i >= len(body) {
			return false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return skipSpace(body, i+1) == len(body)
		default:
			return false
		}
	}
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// rawString reads a JSON string at s[i] that needs no unescaping: valid
// UTF-8, no backslash, no control character.
func rawString(s string, i int) (v string, next int, ok bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	ascii := true
	for j := start; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v = s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", 0, false
			}
			return v, j + 1, true
		case c == '\\' || c < ' ':
			return "", 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", 0, false
}

// rawUint32 reads a JSON number at s[i] written as plain digits, without a
// leading zero, that fits in a uint32.
func rawUint32(s string, i int) (uint32, int, bool) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i || j-i > 10 || (s[i] == '0' && j-i > 1) {
		return 0, 0, false
	}
	if j < len(s) && (s[j] == '.' || s[j] == 'e' || s[j] == 'E') {
		return 0, 0, false
	}
	v, err := strconv.ParseUint(s[i:j], 10, 32)
	if err != nil {
		return 0, 0, false
	}
	return uint32(v), j, true
}
