// Package hostile is the bad-input suite: malformed and hostile requests with
// the exact answer each must get. The same table runs in-process (service
// tests, which also watch goroutines) and against the real binary
// (cmd/lktoken tests). It is test support, not part of the server.
package hostile

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GeneratePath is the route under attack.
const GeneratePath = "/lktoken.v1.TokenService/GenerateToken"

// Protocols a case speaks; they decide the client and how the answer is read.
const (
	ConnectJSON  = "connect-json"
	ConnectProto = "connect-proto"
	GRPC         = "grpc"
	GRPCWeb      = "grpc-web"
	HTTP         = "http" // plain HTTP route (healthz, readyz, 404s)
	PlainJSON    = "plain-json"
)

// Case is one request and the answer it must get.
type Case struct {
	Name   string
	Proto  string
	Method string // default POST
	Path   string // default GeneratePath
	Header http.Header
	Body   []byte

	// Status is the exact HTTP status; Code the exact RPC code name ("ok" for
	// success, "" for plain HTTP routes); Message must appear in the message
	// (the RPC error message, or the body of a plain HTTP answer).
	Status  int
	Code    string
	Message []string
	// ReplyHeader must be in the answer, exactly (optional).
	ReplyHeader http.Header
}

// Result is what came back.
type Result struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
	Body    []byte
}

const valid = `{"roomName":"standup","participantIdentity":"user-42"}`

func j(s string) []byte { return []byte(s) }

// Envelope frames msg as gRPC and gRPC-Web do: flags, big-endian length, msg.
func Envelope(flags byte, msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

// pb builds protobuf wire bytes from (tag, bytes) pieces written raw.
func pb(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func str(field int, s string) []byte {
	b := binary.AppendUvarint(nil, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func varint(field int, v uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(field<<3))
	return binary.AppendUvarint(b, v)
}

var validPB = pb(str(1, "standup"), str(2, "user-42"))

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// Cases returns the suite. maxBody is the server's request cap
// (LKTOKEN_MAX_REQUEST_BYTES) and maxHeader its header cap.
func Cases(maxBody, maxHeader int) []Case {
	big := strings.Repeat("a", maxBody+1)
	oversizeJSON := j(`{"roomName":"` + big + `","participantIdentity":"u"}`)
	// A gzip bomb: a small body that expands far past the cap.
	bomb := Gzip(j(`{"roomName":"r","participantIdentity":"u","x":"` + strings.Repeat(" ", 64*maxBody) + `"}`))
	// Nesting as deep as fits under the cap.
	deepArr := strings.Repeat("[", maxBody/2-100) + strings.Repeat("]", maxBody/2-100)
	deepObj := strings.Repeat(`{"a":`, maxBody/6-50) + "1" + strings.Repeat("}", maxBody/6-50)
	// net/http allows 4 KiB over MaxHeaderBytes before it answers 431.
	bigHeader := hdr("X-Filler", strings.Repeat("h", 2*maxHeader+4096))
	manyHeaders := http.Header{}
	for i := 0; i < (maxHeader+4096)/8; i++ {
		manyHeaders.Add("X-H"+strconv.Itoa(i), "v")
	}
	unmarshal := "unmarshal into *lktokenv1.GenerateTokenRequest"
	wire := "cannot parse invalid wire-format data"
	capped := fmt.Sprintf("is larger than configured max %d", maxBody)
	required := []string{"room_name: value is required", "participant_identity: value is required"}
	ctrl := "must not contain control or bidirectional-override characters"

	cs := []Case{
		// --- Connect, JSON ---------------------------------------------------
		{Name: "control: valid request", Proto: ConnectJSON, Body: j(valid), Status: 200, Code: "ok"},
		{Name: "empty body", Proto: ConnectJSON, Body: nil, Status: 400, Code: "invalid_argument", Message: []string{"zero-length payload is not a valid JSON object"}},
		{Name: "empty object", Proto: ConnectJSON, Body: j(`{}`), Status: 400, Code: "invalid_argument", Message: required},
		{Name: "only whitespace", Proto: ConnectJSON, Body: j("  \n\t "), Status: 400, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "truncated object", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "unexpected EOF"}},
		{Name: "truncated string", Proto: ConnectJSON, Body: j(`{"roomName":"r`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "unexpected EOF"}},
		{Name: "single brace", Proto: ConnectJSON, Body: j(`{`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "unexpected EOF"}},
		{Name: "trailing garbage", Proto: ConnectJSON, Body: j(valid + `xyz`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "invalid value"}},
		{Name: "two objects", Proto: ConnectJSON, Body: j(valid + valid), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "unexpected token"}},
		{Name: "null", Proto: ConnectJSON, Body: j(`null`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "array", Proto: ConnectJSON, Body: j(`[]`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "unexpected token ["}},
		{Name: "bare string", Proto: ConnectJSON, Body: j(`"standup"`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "not JSON", Proto: ConnectJSON, Body: j(`roomName=standup&participantIdentity=u`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "invalid value"}},
		{Name: "single quotes", Proto: ConnectJSON, Body: j(`{'roomName':'r'}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "room as number", Proto: ConnectJSON, Body: j(`{"roomName":123,"participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "roomName", "invalid value for string field"}},
		{Name: "room as array", Proto: ConnectJSON, Body: j(`{"roomName":["a"],"participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "roomName"}},
		{Name: "room as object", Proto: ConnectJSON, Body: j(`{"roomName":{"a":1},"participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "roomName"}},
		{Name: "room as bool", Proto: ConnectJSON, Body: j(`{"roomName":true,"participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "roomName"}},
		{Name: "room null means absent", Proto: ConnectJSON, Body: j(`{"roomName":null,"participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: value is required"}},
		// proto3 JSON allows integers as strings and as floats with no fraction.
		{Name: "lifetime as string (proto3 JSON allows it)", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":"600"}`), Status: 200, Code: "ok"},
		{Name: "lifetime as exponent (proto3 JSON allows it)", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":6e2}`), Status: 200, Code: "ok"},
		{Name: "lifetime with fraction", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":600.5}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime as fractional string", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":"600.5"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime negative", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":-600}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime 2^32", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":4294967296}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime 10^30", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":1000000000000000000000000000000}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime 1e400", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":1e400}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime NaN", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":"NaN"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime as bool", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":true}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "expirationSeconds"}},
		{Name: "lifetime too short", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":59}`), Status: 400, Code: "invalid_argument", Message: []string{"expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"}},
		{Name: "lifetime too long", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","expirationSeconds":86401}`), Status: 400, Code: "invalid_argument", Message: []string{"expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"}},
		{Name: "duplicate key", Proto: ConnectJSON, Body: j(`{"roomName":"a","roomName":"b","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, `duplicate field "roomName"`}},
		{Name: "duplicate key in both spellings", Proto: ConnectJSON, Body: j(`{"roomName":"a","room_name":"b","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, `duplicate field "room_name"`}},
		{Name: "deeply nested arrays in an unknown field", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","x":` + deepArr + `}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "exceeded max recursion depth"}},
		{Name: "deeply nested objects in an unknown field", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","x":` + deepObj + `}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "exceeded max recursion depth"}},
		// Unknown fields are ignored, as protobuf's JSON mapping prescribes for
		// forward compatibility; they can grant nothing (the grant is fixed).
		{Name: "unknown fields ignored", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","admin":true,"video":{"roomAdmin":true}}`), Status: 200, Code: "ok"},
		{Name: "invalid UTF-8 in a string", Proto: ConnectJSON, Body: j("{\"roomName\":\"r\xff\xfe\",\"participantIdentity\":\"u\"}"), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "invalid UTF-8"}},
		{Name: "lone surrogate escape", Proto: ConnectJSON, Body: j(`{"roomName":"r\ud800","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "NUL in room", Proto: ConnectJSON, Body: j(`{"roomName":"a\u0000b","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: " + ctrl}},
		{Name: "newline in identity", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u\nINFO forged log line"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "ANSI escape in name", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","participantName":"\u001b[31mred"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_name: " + ctrl}},
		{Name: "DEL and C1 in room", Proto: ConnectJSON, Body: j(`{"roomName":"a\u007f\u0085","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: " + ctrl}},
		{Name: "raw tab inside a JSON string", Proto: ConnectJSON, Body: j("{\"roomName\":\"a\tb\",\"participantIdentity\":\"u\"}"), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "invalid character"}},
		{Name: "bidi override in name", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","participantName":"abc\u202egnp.exe"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_name: " + ctrl}},
		{Name: "bidi isolate in identity", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"\u2066admin\u2069"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "whitespace-only room", Proto: ConnectJSON, Body: j(`{"roomName":" \u3000\t","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: must not be only whitespace"}},
		{Name: "room over 256 bytes", Proto: ConnectJSON, Body: j(`{"roomName":"` + strings.Repeat("日", 86) + `","participantIdentity":"u"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: must be at most 256 bytes"}},
		{Name: "hash in identity", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u#1"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: must not contain '#'"}},
		{Name: "empty display name", Proto: ConnectJSON, Body: j(`{"roomName":"r","participantIdentity":"u","participantName":""}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_name: must be at least 1 bytes"}},
		{Name: "every field wrong at once", Proto: ConnectJSON, Body: j(`{"roomName":" ","participantIdentity":"a#\u0000","expirationSeconds":1}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: must not be only whitespace", "participant_identity: " + ctrl, "participant_identity: must not contain '#'", "expiration_seconds: must be greater than or equal to 60"}},
		{Name: "body over the cap", Proto: ConnectJSON, Body: oversizeJSON, Status: 429, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "gzip body", Proto: ConnectJSON, Header: hdr("Content-Encoding", "gzip"), Body: Gzip(j(valid)), Status: 200, Code: "ok"},
		{Name: "gzip bomb past the cap", Proto: ConnectJSON, Header: hdr("Content-Encoding", "gzip"), Body: bomb, Status: 429, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "gzip header on plain body", Proto: ConnectJSON, Header: hdr("Content-Encoding", "gzip"), Body: j(valid), Status: 400, Code: "invalid_argument", Message: []string{"gzip: invalid header"}},
		{Name: "truncated gzip", Proto: ConnectJSON, Header: hdr("Content-Encoding", "gzip"), Body: Gzip(j(valid))[:20], Status: 400, Code: "invalid_argument", Message: []string{"unexpected EOF"}},
		{Name: "unsupported compression", Proto: ConnectJSON, Header: hdr("Content-Encoding", "br"), Body: j(valid), Status: 501, Code: "unimplemented", Message: []string{`unknown compression "br"`, "supported encodings are gzip"}},
		{Name: "text/plain", Proto: ConnectJSON, Header: hdr("Content-Type", "text/plain"), Body: j(valid), Status: 415, Code: "", Message: []string{`unsupported content type "text/plain"`}},
		{Name: "no content type", Proto: ConnectJSON, Header: hdr("Content-Type", ""), Body: j(valid), Status: 415, Code: "", Message: []string{`unsupported content type ""`}},
		{Name: "form content type", Proto: ConnectJSON, Header: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: j("roomName=r"), Status: 415, Code: "", Message: []string{`unsupported content type "application/x-www-form-urlencoded"`}},
		{Name: "xml content type", Proto: ConnectJSON, Header: hdr("Content-Type", "application/xml"), Body: j("<r/>"), Status: 415, Code: "", Message: []string{`unsupported content type "application/xml"`}},
		{Name: "bad Connect-Protocol-Version", Proto: ConnectJSON, Header: hdr("Connect-Protocol-Version", "2"), Body: j(valid), Status: 400, Code: "invalid_argument", Message: []string{`Connect-Protocol-Version must be "1": got "2"`}},
		{Name: "bad Connect-Timeout-Ms", Proto: ConnectJSON, Header: hdr("Connect-Timeout-Ms", "soon"), Body: j(valid), Status: 400, Code: "invalid_argument", Message: []string{`parse timeout: strconv.ParseInt: parsing "soon"`}},
		{Name: "GET", Proto: ConnectJSON, Method: "GET", Body: nil, Status: 405, Code: "", Message: []string{"method GET not allowed: use POST"}},
		{Name: "PUT", Proto: ConnectJSON, Method: "PUT", Body: j(valid), Status: 405, Code: "", Message: []string{"method PUT not allowed: use POST"}},
		{Name: "DELETE", Proto: ConnectJSON, Method: "DELETE", Body: nil, Status: 405, Code: "", Message: []string{"method DELETE not allowed: use POST"}},
		{Name: "unknown procedure", Proto: ConnectJSON, Path: "/lktoken.v1.TokenService/DeleteRoom", Body: j(valid), Status: 404, Code: "", Message: []string{"404 page not found"}},
		{Name: "unknown service", Proto: ConnectJSON, Path: "/livekit.RoomService/CreateRoom", Body: j(valid), Status: 404, Code: "", Message: []string{"404 page not found"}},
		{Name: "header block over the cap", Proto: ConnectJSON, Header: bigHeader, Body: j(valid), Status: 431, Code: "", Message: []string{"431 Request Header Fields Too Large"}},
		{Name: "too many headers", Proto: ConnectJSON, Header: manyHeaders, Body: j(valid), Status: 431, Code: "", Message: []string{"431 Request Header Fields Too Large"}},

		// --- Connect, binary protobuf --------------------------------------
		{Name: "control: valid request", Proto: ConnectProto, Body: validPB, Status: 200, Code: "ok"},
		{Name: "empty message", Proto: ConnectProto, Body: nil, Status: 400, Code: "invalid_argument", Message: required},
		{Name: "garbage bytes", Proto: ConnectProto, Body: []byte{0xff, 0xff, 0xff, 0xff, 0xff}, Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "JSON sent as binary", Proto: ConnectProto, Body: j(valid), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "truncated varint", Proto: ConnectProto, Body: []byte{0x0a, 0x80}, Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "length past the end", Proto: ConnectProto, Body: []byte{0x0a, 0x10, 'a'}, Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "varint over 10 bytes", Proto: ConnectProto, Body: append([]byte{0x20}, bytes.Repeat([]byte{0xff}, 11)...), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "invalid UTF-8 in a string field", Proto: ConnectProto, Body: pb(str(1, "r\xff"), str(2, "u")), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, "invalid UTF-8"}},
		{Name: "NUL in identity", Proto: ConnectProto, Body: pb(str(1, "r"), str(2, "u\x00")), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "wrong wire type is an unknown field", Proto: ConnectProto, Body: pb(varint(1, 7), str(2, "u")), Status: 400, Code: "invalid_argument", Message: []string{"room_name: value is required"}},
		{Name: "field number 0", Proto: ConnectProto, Body: []byte{0x02, 0x01, 'a'}, Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "end-group without start", Proto: ConnectProto, Body: []byte{0x0c}, Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "deeply nested groups", Proto: ConnectProto, Body: bytes.Repeat([]byte{0x2b}, 20000), Status: 400, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "lifetime out of range", Proto: ConnectProto, Body: pb(validPB, varint(4, 100000)), Status: 400, Code: "invalid_argument", Message: []string{"expiration_seconds: must be greater than or equal to 60 and less than or equal to 86400"}},
		{Name: "body over the cap", Proto: ConnectProto, Body: pb(str(1, big), str(2, "u")), Status: 429, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "gzip bomb past the cap", Proto: ConnectProto, Header: hdr("Content-Encoding", "gzip"), Body: Gzip(pb(validPB, str(15, strings.Repeat("z", 64*maxBody)))), Status: 429, Code: "resource_exhausted", Message: []string{capped}},

		// --- gRPC over cleartext HTTP/2 ----------------------------------------
		{Name: "control: valid request", Proto: GRPC, Body: Envelope(0, validPB), Status: 200, Code: "ok"},
		{Name: "empty message", Proto: GRPC, Body: Envelope(0, nil), Status: 200, Code: "invalid_argument", Message: required},
		{Name: "no message at all", Proto: GRPC, Body: nil, Status: 200, Code: "unimplemented", Message: []string{"unary request has zero messages"}},
		{Name: "two messages", Proto: GRPC, Body: append(Envelope(0, validPB), Envelope(0, validPB)...), Status: 200, Code: "unimplemented", Message: []string{"unary request has multiple messages"}},
		// Broken framing is internal in gRPC's own convention (grpc-go does the same).
		{Name: "truncated envelope prefix", Proto: GRPC, Body: []byte{0, 0, 0}, Status: 200, Code: "internal", Message: []string{"protocol error: incomplete envelope"}},
		{Name: "envelope shorter than it claims", Proto: GRPC, Body: Envelope(0, validPB)[:8], Status: 200, Code: "internal", Message: []string{"protocol error: promised"}},
		{Name: "envelope claims 4 GiB", Proto: GRPC, Body: []byte{0, 0xff, 0xff, 0xff, 0xff, 1, 2, 3}, Status: 200, Code: "resource_exhausted", Message: []string{"message size 4294967295 is larger than configured max"}},
		{Name: "garbage message", Proto: GRPC, Body: Envelope(0, []byte{0xff, 0xff, 0xff}), Status: 200, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "compressed flag without encoding", Proto: GRPC, Body: Envelope(1, validPB), Status: 200, Code: "internal", Message: []string{"protocol error: sent compressed message without compression support"}},
		{Name: "gzip bomb past the cap", Proto: GRPC, Header: hdr("Grpc-Encoding", "gzip"), Body: Envelope(1, Gzip(pb(validPB, str(15, strings.Repeat("z", 64*maxBody))))), Status: 200, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "invalid UTF-8", Proto: GRPC, Body: Envelope(0, pb(str(1, "\xc0\xaf"), str(2, "u"))), Status: 200, Code: "invalid_argument", Message: []string{unmarshal, "invalid UTF-8"}},
		{Name: "bidi override", Proto: GRPC, Body: Envelope(0, pb(str(1, "r\u202e"), str(2, "u"))), Status: 200, Code: "invalid_argument", Message: []string{"room_name: " + ctrl}},
		{Name: "grpc+json with broken JSON", Proto: GRPC, Header: hdr("Content-Type", "application/grpc+json"), Body: Envelope(0, j(`{"roomName":`)), Status: 200, Code: "invalid_argument", Message: []string{unmarshal}},
		{Name: "bad grpc-timeout", Proto: GRPC, Header: hdr("Grpc-Timeout", "forever"), Body: Envelope(0, validPB), Status: 200, Code: "invalid_argument", Message: []string{"protocol error: timeout"}},
		{Name: "body over the cap", Proto: GRPC, Body: Envelope(0, pb(str(1, big), str(2, "u"))), Status: 200, Code: "resource_exhausted", Message: []string{capped}},

		{Name: "reflection request over the cap", Proto: GRPC, Path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Body: Envelope(0, str(3, big)), Status: 200, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "reflection garbage", Proto: GRPC, Path: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Body: Envelope(0, []byte{0xff, 0xff}), Status: 200, Code: "invalid_argument", Message: []string{wire}},

		// --- gRPC-Web over HTTP/1.1 ----------------------------------------------
		{Name: "control: valid request", Proto: GRPCWeb, Body: Envelope(0, validPB), Status: 200, Code: "ok"},
		{Name: "empty message", Proto: GRPCWeb, Body: Envelope(0, nil), Status: 200, Code: "invalid_argument", Message: required},
		{Name: "unknown envelope flags and a stray byte (found by fuzzing)", Proto: GRPCWeb, Body: []byte("0\x00\x00\x00\x000"), Status: 200, Code: "internal", Message: []string{"1 extra bytes after end of stream"}},
		{Name: "a trailers frame from the client (found by fuzzing)", Proto: GRPCWeb, Body: []byte("\x80\x00\x00\x00\a0000000"), Status: 200, Code: "internal", Message: []string{"gRPC-Web protocol error: trailers invalid"}},
		{Name: "garbage message", Proto: GRPCWeb, Body: Envelope(0, []byte{0x0a, 0xff}), Status: 200, Code: "invalid_argument", Message: []string{unmarshal, wire}},
		{Name: "truncated envelope prefix", Proto: GRPCWeb, Body: []byte{0, 0}, Status: 200, Code: "internal", Message: []string{"protocol error: incomplete envelope"}},
		{Name: "body over the cap", Proto: GRPCWeb, Body: Envelope(0, pb(str(1, big), str(2, "u"))), Status: 200, Code: "resource_exhausted", Message: []string{capped}},
		{Name: "control character", Proto: GRPCWeb, Body: Envelope(0, pb(str(1, "r"), str(2, "a\x07"))), Status: 200, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "grpc-web-text (base64) is not supported", Proto: GRPCWeb, Header: hdr("Content-Type", "application/grpc-web-text"), Body: j(base64.StdEncoding.EncodeToString(Envelope(0, validPB))), Status: 415, Code: "", Message: []string{`unsupported content type "application/grpc-web-text"`}},

		// --- plain HTTP routes -----------------------------------------------------
		{Name: "POST /healthz", Proto: HTTP, Method: "POST", Path: "/healthz", Body: j("x"), Status: 405, Message: []string{"Method Not Allowed"}},
		{Name: "unknown path", Proto: HTTP, Method: "GET", Path: "/admin", Status: 404, Message: []string{"404 page not found"}},
		{Name: "path with encoded traversal", Proto: HTTP, Method: "GET", Path: "/%2e%2e/etc/passwd", Status: 404, Message: []string{"404 page not found"}},
		{Name: "huge header on /healthz", Proto: HTTP, Method: "GET", Path: "/healthz", Header: bigHeader, Status: 431, Message: []string{"431 Request Header Fields Too Large"}},
	}
	return append(cs, PlainJSONCases(maxBody, maxHeader)...)
}

// TokenPath is LiveKit's standard token endpoint at its default path.
const TokenPath = "/api/token"

// PlainJSONCases attack the plain JSON endpoint (POST /api/token, LiveKit's
// TokenSourceRequest). Its answers are 201 with a token, or an HTTP status
// and {"code", "message"}. Unknown fields are ignored, as Connect JSON
// ignores them; compressed bodies are refused, and no body at all is an
// empty request (every field is optional: names are generated).
func PlainJSONCases(maxBody, maxHeader int) []Case {
	big := strings.Repeat("a", maxBody+1)
	notJSON := "request body is not a TokenSourceRequest JSON object: "
	ctrl := "must not contain control or bidirectional-override characters"
	ct := func(v string) []string {
		return []string{fmt.Sprintf("Content-Type must be application/json, not %q", v)}
	}
	gz := []string{`Content-Encoding "gzip" is not supported on /api/token: send the JSON uncompressed`}
	method := func(m string) []string {
		return []string{"method " + m + " is not allowed on /api/token: use POST with a JSON body"}
	}
	onlyAgents := " is not allowed (this server honours only room_config.agents)"
	allowPOST := hdr("Allow", "POST")
	deepArr := strings.Repeat("[", maxBody/2-100) + strings.Repeat("]", maxBody/2-100)
	deepObj := strings.Repeat(`{"a":`, maxBody/6-50) + "1" + strings.Repeat("}", maxBody/6-50)
	// protojson names a field in its JSON (lowerCamelCase) spelling, whichever
	// spelling the request used.
	cs := []Case{
		{Name: "control: valid request", Body: j(`{"room_name":"standup","participant_identity":"user-42","participant_name":"Ada"}`), Status: 201, Code: "ok"},
		// Every field is optional, so these are requests for generated names.
		{Name: "empty body generates names", Body: nil, Status: 201, Code: "ok"},
		{Name: "only whitespace is an empty body", Body: j(" \n\t "), Status: 201, Code: "ok"},
		{Name: "empty object generates names", Body: j(`{}`), Status: 201, Code: "ok"},
		{Name: "null room means absent", Body: j(`{"room_name":null,"participant_identity":"u"}`), Status: 201, Code: "ok"},
		{Name: "empty name means absent", Body: j(`{"room_name":"r","participant_identity":"u","participant_name":""}`), Status: 201, Code: "ok"},
		{Name: "lowerCamelCase names are read too", Body: j(`{"roomName":"r","participantIdentity":"u"}`), Status: 201, Code: "ok"},
		{Name: "charset parameter", Header: hdr("Content-Type", "application/json; charset=utf-8"), Body: j(`{}`), Status: 201, Code: "ok"},

		// --- media type and encoding
		{Name: "text/plain", Header: hdr("Content-Type", "text/plain"), Body: j(`{}`), Status: 415, Code: "invalid_argument", Message: ct("text/plain")},
		{Name: "no content type", Header: hdr("Content-Type", ""), Body: j(`{}`), Status: 415, Code: "invalid_argument", Message: ct("")},
		{Name: "form content type", Header: hdr("Content-Type", "application/x-www-form-urlencoded"), Body: j("room_name=r"), Status: 415, Code: "invalid_argument", Message: ct("application/x-www-form-urlencoded")},
		{Name: "protobuf content type", Header: hdr("Content-Type", "application/proto"), Body: validPB, Status: 415, Code: "invalid_argument", Message: ct("application/proto")},
		{Name: "malformed content type", Header: hdr("Content-Type", "application/json; charset"), Body: j(`{}`), Status: 415, Code: "invalid_argument", Message: ct("application/json; charset")},
		{Name: "gzip body", Header: hdr("Content-Encoding", "gzip"), Body: Gzip(j(`{}`)), Status: 415, Code: "invalid_argument", Message: gz},
		{Name: "gzip bomb", Header: hdr("Content-Encoding", "gzip"), Body: Gzip(j(`{"participant_metadata":"` + strings.Repeat(" ", 64*maxBody) + `"}`)), Status: 415, Code: "invalid_argument", Message: gz},
		{Name: "unsupported compression", Header: hdr("Content-Encoding", "br"), Body: j(`{}`), Status: 415, Code: "invalid_argument", Message: []string{`Content-Encoding "br" is not supported on /api/token`}},

		// --- size
		{Name: "body over the cap", Body: j(`{"room_name":"` + big + `"}`), Status: 413, Code: "resource_exhausted", Message: []string{fmt.Sprintf("request body is larger than %d bytes (server limit)", maxBody)}},
		{Name: "metadata over its cap", Body: j(`{"participant_metadata":"` + strings.Repeat("m", 4097) + `"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_metadata: must be at most 4096 bytes (server limit)"}},
		{Name: "attributes over their cap", Body: j(`{"participant_attributes":{"k":"` + strings.Repeat("v", 4096) + `"}}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_attributes: keys and values must total at most 4096 bytes (server limit); these total 4097"}},

		// --- broken JSON
		{Name: "truncated object", Body: j(`{"room_name":"r","participant_identity":`), Status: 400, Code: "invalid_argument", Message: []string{notJSON + "unexpected EOF"}},
		{Name: "truncated string", Body: j(`{"room_name":"r`), Status: 400, Code: "invalid_argument", Message: []string{notJSON + "unexpected EOF"}},
		{Name: "single brace", Body: j(`{`), Status: 400, Code: "invalid_argument", Message: []string{notJSON + "unexpected EOF"}},
		{Name: "trailing garbage", Body: j(`{}xyz`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value xyz"}},
		{Name: "two objects", Body: j(`{}{}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "unexpected token {"}},
		{Name: "null", Body: j(`null`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "unexpected token null"}},
		{Name: "array", Body: j(`[]`), Status: 400, Code: "invalid_argument", Message: []string{notJSON + "syntax error (line 1:1): unexpected token ["}},
		{Name: "bare string", Body: j(`"standup"`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `unexpected token "standup"`}},
		{Name: "form-encoded body", Body: j(`room_name=standup`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "syntax error (line 1:1): invalid value room_name"}},
		{Name: "single quotes", Body: j(`{'room_name':'r'}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value"}},
		{Name: "comment", Body: j(`{/* hi */}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value"}},
		{Name: "byte order mark", Body: j("\ufeff{}"), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value"}},
		{Name: "raw tab inside a string", Body: j("{\"room_name\":\"a\tb\"}"), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid character"}},

		// --- wrong types and numbers
		{Name: "room as number", Body: j(`{"room_name":123}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field roomName: 123"}},
		{Name: "identity as bool", Body: j(`{"participant_identity":true}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field participantIdentity: true"}},
		{Name: "room as array", Body: j(`{"room_name":["a"]}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field roomName: ["}},
		{Name: "name as object", Body: j(`{"participant_name":{"a":1}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field participantName: {"}},
		{Name: "metadata as object (must be a string)", Body: j(`{"participant_metadata":{"role":"host"}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field participantMetadata: {"}},
		{Name: "attribute value as number", Body: j(`{"participant_attributes":{"a":1}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field value: 1"}},
		{Name: "attributes as array", Body: j(`{"participant_attributes":["a"]}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "unexpected token ["}},
		{Name: "room_config as string", Body: j(`{"room_config":"agents"}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `unexpected token "agents"`}},
		{Name: "agents as object", Body: j(`{"room_config":{"agents":{"agent_name":"x"}}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "unexpected token {"}},
		// A number as a string is valid proto3 JSON; the field is then refused by policy.
		{Name: "number as string, then refused", Body: j(`{"room_config":{"max_participants":"100"}}`), Status: 403, Code: "permission_denied", Message: []string{"room_config.max_participants" + onlyAgents}},
		{Name: "number with fraction", Body: j(`{"room_config":{"max_participants":1.5}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for uint32 field maxParticipants: 1.5"}},
		{Name: "negative number", Body: j(`{"room_config":{"max_participants":-1}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for uint32 field maxParticipants: -1"}},
		{Name: "number 2^32", Body: j(`{"room_config":{"empty_timeout":4294967296}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for uint32 field emptyTimeout: 4294967296"}},
		{Name: "number 1e400", Body: j(`{"room_config":{"empty_timeout":1e400}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for uint32 field emptyTimeout: 1e400"}},
		{Name: "number as NaN string", Body: j(`{"room_config":{"empty_timeout":"NaN"}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `invalid value for uint32 field emptyTimeout: "NaN"`}},

		// --- keys
		{Name: "duplicate key", Body: j(`{"room_name":"a","room_name":"b"}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `duplicate field "room_name"`}},
		{Name: "duplicate key in both spellings", Body: j(`{"room_name":"a","roomName":"b"}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `duplicate field "roomName"`}},
		{Name: "duplicate attribute key", Body: j(`{"participant_attributes":{"a":"1","a":"2"}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, `duplicate map key "a"`}},
		// Unknown fields are ignored, as Connect JSON ignores them, so that a newer
		// SDK's new field does not break every app; they grant nothing (the grant
		// is fixed), and a malformed one is still refused.
		{Name: "unknown field", Body: j(`{"room_name":"r","admin":true}`), Status: 201, Code: "ok"},
		{Name: "grant smuggled as a field", Body: j(`{"room_name":"r","video":{"roomAdmin":true}}`), Status: 201, Code: "ok"},
		{Name: "unknown field inside room_config", Body: j(`{"room_config":{"future_setting":{"a":[1]}}}`), Status: 201, Code: "ok"},
		{Name: "malformed unknown field", Body: j(`{"room_name":"r","admin":tru}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value tru"}},
		// protojson checks duplicates of the fields it knows only (Connect JSON alike).
		{Name: "duplicate unknown field", Body: j(`{"admin":1,"admin":2}`), Status: 201, Code: "ok"},
		{Name: "deeply nested arrays as the body", Body: j(deepArr), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "unexpected token ["}},
		{Name: "deeply nested objects in an unknown field", Body: j(`{"x":` + deepObj + `}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "exceeded max recursion depth"}},
		{Name: "deeply nested arrays in an attribute", Body: j(`{"participant_attributes":{"a":` + deepArr + `}}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid value for string field value: ["}},

		// --- text: the same rules as GenerateToken
		{Name: "invalid UTF-8 in room", Body: j("{\"room_name\":\"r\xff\xfe\"}"), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid UTF-8"}},
		{Name: "invalid UTF-8 in an attribute key", Body: j("{\"participant_attributes\":{\"k\xc0\":\"v\"}}"), Status: 400, Code: "invalid_argument", Message: []string{notJSON, "invalid UTF-8"}},
		{Name: "lone surrogate escape", Body: j(`{"participant_identity":"u\ud800"}`), Status: 400, Code: "invalid_argument", Message: []string{notJSON}},
		{Name: "NUL in room", Body: j(`{"room_name":"a\u0000b"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: " + ctrl}},
		{Name: "newline in identity", Body: j(`{"participant_identity":"u\nINFO forged log line"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "ANSI escape in name", Body: j(`{"participant_name":"\u001b[31mred"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_name: " + ctrl}},
		{Name: "bidi override in name", Body: j(`{"participant_name":"abc\u202egnp.exe"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_name: " + ctrl}},
		{Name: "bidi isolate in identity", Body: j(`{"participant_identity":"\u2066admin\u2069"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: " + ctrl}},
		{Name: "control character in an attribute key", Body: j(`{"participant_attributes":{"te\u0007am":"blue"}}`), Status: 400, Code: "invalid_argument", Message: []string{`participant_attributes["te\aam"]: ` + ctrl}},
		{Name: "bidi override in an attribute key", Body: j(`{"participant_attributes":{"\u202eteam":"blue"}}`), Status: 400, Code: "invalid_argument", Message: []string{`participant_attributes["\u202eteam"]: ` + ctrl}},
		{Name: "reserved attribute key", Body: j(`{"participant_attributes":{"lk.agent.state":"x"}}`), Status: 400, Code: "invalid_argument", Message: []string{`participant_attributes["lk.agent.state"]: must not start with 'lk.'`}},
		// Metadata and attribute values are application data: any text, as in LiveKit.
		{Name: "NUL and bidi in metadata are data", Body: j(`{"participant_metadata":"a\u0000\u202eb\n"}`), Status: 201, Code: "ok"},
		{Name: "control characters in an attribute value are data", Body: j(`{"participant_attributes":{"k":"a\u0000\u001b"}}`), Status: 201, Code: "ok"},
		{Name: "whitespace-only room", Body: j(`{"room_name":" \u3000\t"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: must not be only whitespace"}},
		{Name: "room over 256 bytes", Body: j(`{"room_name":"` + strings.Repeat("日", 86) + `"}`), Status: 400, Code: "invalid_argument", Message: []string{"room_name: must be at most 256 bytes"}},
		{Name: "hash in identity", Body: j(`{"participant_identity":"u#1"}`), Status: 400, Code: "invalid_argument", Message: []string{"participant_identity: must not contain '#'"}},

		// --- room_config: only agent dispatch, only for allowed agents (none by default)
		{Name: "room_config name", Body: j(`{"room_config":{"name":"other-room"}}`), Status: 403, Code: "permission_denied", Message: []string{"room_config.name" + onlyAgents}},
		{Name: "room_config egress", Body: j(`{"room_config":{"egress":{"room":{"room_name":"x"}}}}`), Status: 403, Code: "permission_denied", Message: []string{"room_config.egress" + onlyAgents}},
		{Name: "room_config timeouts", Body: j(`{"room_config":{"empty_timeout":1,"departure_timeout":1}}`), Status: 403, Code: "permission_denied", Message: []string{"room_config.empty_timeout" + onlyAgents, "room_config.departure_timeout" + onlyAgents}},
		{Name: "agent not in the allowlist", Body: j(`{"room_config":{"agents":[{"agent_name":"root-shell"}]}}`), Status: 403, Code: "permission_denied", Message: []string{`room_config.agents[0].agent_name: agent "root-shell" is not in the agent allowlist of this server`}},
		{Name: "empty room_config is nothing", Body: j(`{"room_config":{}}`), Status: 201, Code: "ok"},

		// --- methods and paths
		{Name: "GET", Method: "GET", Status: 405, Code: "unimplemented", Message: method("GET"), ReplyHeader: allowPOST},
		{Name: "PUT", Method: "PUT", Body: j(`{}`), Status: 405, Code: "unimplemented", Message: method("PUT"), ReplyHeader: allowPOST},
		{Name: "DELETE", Method: "DELETE", Status: 405, Code: "unimplemented", Message: method("DELETE"), ReplyHeader: allowPOST},
		{Name: "PATCH", Method: "PATCH", Body: j(`{}`), Status: 405, Code: "unimplemented", Message: method("PATCH"), ReplyHeader: allowPOST},
		{Name: "OPTIONS without a preflight", Method: "OPTIONS", Status: 405, Code: "unimplemented", Message: method("OPTIONS"), ReplyHeader: allowPOST},
		{Name: "trailing slash", Path: TokenPath + "/", Body: j(`{}`), Status: 404, Message: []string{"404 page not found"}},
		{Name: "header block over the cap", Header: hdr("X-Filler", strings.Repeat("h", 2*maxHeader+4096)), Body: j(`{}`), Status: 431, Message: []string{"431 Request Header Fields Too Large"}},
	}
	for i := range cs {
		cs[i].Proto = PlainJSON
		if cs[i].Path == "" {
			cs[i].Path = TokenPath
		}
	}
	return cs
}

// Clients are what Do sends with: HTTP/1.1 for Connect, gRPC-Web and plain
// HTTP; cleartext HTTP/2 for gRPC.
type Clients struct {
	H1, H2C *http.Client
}

// NewClients returns fresh clients with generous timeouts.
func NewClients() Clients {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return Clients{
		H1:  &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}},
		H2C: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}},
	}
}

// Close drops idle connections, so that server goroutines can end.
func (c Clients) Close() {
	c.H1.CloseIdleConnections()
	c.H2C.CloseIdleConnections()
}

// Do sends c to base and reads the answer in c's protocol.
func (cl Clients) Do(base string, c Case) (Result, error) {
	method, path := c.Method, c.Path
	if method == "" {
		method = "POST"
	}
	if path == "" {
		path = GeneratePath
	}
	req, err := http.NewRequest(method, base+path, bytes.NewReader(c.Body))
	if err != nil {
		return Result{}, err
	}
	client := cl.H1
	switch c.Proto {
	case ConnectJSON, PlainJSON:
		req.Header.Set("Content-Type", "application/json")
	case ConnectProto:
		req.Header.Set("Content-Type", "application/proto")
	case GRPC:
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Te", "trailers")
		client = cl.H2C
	case GRPCWeb:
		req.Header.Set("Content-Type", "application/grpc-web+proto")
	}
	for k, vs := range c.Header {
		req.Header.Del(k)
		for _, v := range vs {
			if v != "" {
				req.Header.Add(k, v)
			}
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Result{}, err
	}
	r := Result{Status: resp.StatusCode, Header: resp.Header, Body: body}
	switch {
	case c.Proto == HTTP:
		r.Message = string(body)
	case c.Proto == GRPC || c.Proto == GRPCWeb:
		if resp.StatusCode != 200 {
			r.Message = string(body)
			break
		}
		st, msg := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
		if st == "" {
			st, msg = resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
		}
		if st == "" && c.Proto == GRPCWeb {
			st, msg = webTrailer(body)
		}
		r.Code, r.Message = grpcCode(st), decodeGRPCMessage(msg)
	default:
		if resp.StatusCode == 200 || (c.Proto == PlainJSON && resp.StatusCode == 201) {
			r.Code = "ok"
			break
		}
		var e struct{ Code, Message string }
		if json.Unmarshal(body, &e) == nil && e.Code != "" {
			r.Code, r.Message = e.Code, e.Message
		} else {
			r.Message = string(body)
		}
	}
	return r, nil
}

// webTrailer finds the trailer frame (flag 0x80) of a gRPC-Web body.
func webTrailer(body []byte) (status, message string) {
	for len(body) >= 5 {
		n := int(binary.BigEndian.Uint32(body[1:5]))
		if len(body) < 5+n {
			return "", ""
		}
		if body[0]&0x80 != 0 {
			for _, line := range strings.Split(string(body[5:5+n]), "\r\n") {
				k, v, _ := strings.Cut(line, ":")
				switch strings.ToLower(strings.TrimSpace(k)) {
				case "grpc-status":
					status = strings.TrimSpace(v)
				case "grpc-message":
					message = strings.TrimSpace(v)
				}
			}
			return status, message
		}
		body = body[5+n:]
	}
	return "", ""
}

var grpcCodes = []string{"ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
	"already_exists", "permission_denied", "resource_exhausted", "failed_precondition", "aborted",
	"out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated"}

func grpcCode(s string) string {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= len(grpcCodes) {
		return "missing grpc-status " + strconv.Quote(s)
	}
	return grpcCodes[n]
}

func decodeGRPCMessage(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// Check compares r with what c expects and describes every difference.
func Check(c Case, r Result) []string {
	var bad []string
	if r.Status != c.Status {
		bad = append(bad, fmt.Sprintf("HTTP status %d, want %d", r.Status, c.Status))
	}
	if c.Proto != HTTP && r.Code != c.Code {
		bad = append(bad, fmt.Sprintf("code %q, want %q", r.Code, c.Code))
	}
	for _, m := range c.Message {
		if !strings.Contains(r.Message, m) {
			bad = append(bad, fmt.Sprintf("message %q does not contain %q", clip(r.Message), m))
		}
	}
	for k := range c.ReplyHeader {
		if got, want := r.Header.Values(k), c.ReplyHeader.Values(k); strings.Join(got, "\n") != strings.Join(want, "\n") {
			bad = append(bad, fmt.Sprintf("header %s %q, want %q", k, got, want))
		}
	}
	if c.Code == "ok" && c.Proto != HTTP && !bytes.Contains(r.Body, []byte("eyJ")) {
		bad = append(bad, "success without a token")
	}
	return bad
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
