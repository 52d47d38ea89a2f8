package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
)

// Prefixes of the identity and room generated when a token endpoint request
// names none: the prefix and 12 random base62 characters (about 71 bits), for
// example "identity-3fG7kQ9zLm2X" and "room-Vb81TqYc0aZe".
const (
	GeneratedIdentityPrefix = "identity-"
	GeneratedRoomPrefix     = "room-"
	generatedSuffixLen      = 12
)

// tokenEndpoint serves LiveKit's standard token endpoint format, the one every
// LiveKit client SDK's TokenSource.endpoint speaks: POST a JSON
// livekit.TokenSourceRequest (all fields optional, snake_case), get 201 and a
// livekit.TokenSourceResponse {"server_url", "participant_token"}.
//
// It holds no rule of its own: the request becomes a GenerateTokenRequest that
// passes the same protovalidate rules, the same Issuer (policy, caps, agent
// allowlist, minting) and the same audit log as GenerateToken. Errors are the
// same Connect errors, written as {"code": ..., "message": ...}.
type tokenEndpoint struct {
	route     string
	issuer    *Issuer
	validator protovalidate.Validator
	auditor   *Auditor
	maxBytes  int
	now       func() time.Time
	metrics   *Metrics // nil: no metrics
}

// endpointError is a refusal with an HTTP status chosen for it, for failures
// that happen before there is a request to validate.
type endpointError struct {
	status int
	err    *connect.Error
}

func (e *endpointError) Error() string { return e.err.Error() }

// Unwrap lets connect.CodeOf (the audit log) see the Connect code.
func (e *endpointError) Unwrap() error { return e.err }

func refuse(status int, code connect.Code, format string, args ...any) *endpointError {
	return &endpointError{status: status, err: connect.NewError(code, fmt.Errorf(format, args...))}
}

func (h *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, refuse(http.StatusMethodNotAllowed, connect.CodeUnimplemented,
			"method %s is not allowed on %s: use POST with a JSON body", r.Method, h.route))
		return
	}
	started := h.now()
	ctx, g := withGrantedNote(r.Context())
	entry := AuditEntry{RequestID: RequestID(ctx), Peer: r.RemoteAddr, Route: h.route, Started: started}

	resp, err := h.serve(ctx, w, r, &entry)
	entry.Lifetime, entry.Err = g.lifetime, err
	h.auditor.Record(ctx, entry)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(resp)
	var compact bytes.Buffer
	if err == nil {
		// protojson varies its whitespace on purpose; answer with stable bytes.
		err = json.Compact(&compact, body)
	}
	if err != nil {
		h.fail(w, r, connect.NewError(connect.CodeInternal, errors.New("the server could not encode its answer")))
		return
	}
	noteOutcome(r.Context(), "ok")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(append(compact.Bytes(), '\n'))
}

// serve reads, converts, validates and issues; entry learns room, identity
// and agents as soon as they are known so that refusals are audited too.
func (h *tokenEndpoint) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, entry *AuditEntry) (*livekit.TokenSourceResponse, error) {
	src, err := h.read(w, r)
	if err != nil {
		return nil, err
	}
	req := generateRequestFrom(src)
	entry.Room, entry.Identity = req.GetRoomName(), req.GetParticipantIdentity()
	for _, a := range src.GetRoomConfig().GetAgents() {
		entry.Agents = append(entry.Agents, a.GetAgentName())
	}
	if err := validateMessage(h.validator, req); err != nil {
		return nil, err
	}
	// Timed like GenerateToken's mint: from a valid request to a signed token.
	start := time.Now()
	minted, err := h.issuer.IssueWithRoomConfig(ctx, req, src.GetRoomConfig())
	h.metrics.observeMint(start, err)
	if err != nil {
		return nil, err
	}
	return &livekit.TokenSourceResponse{ServerUrl: h.issuer.ServerURL(), ParticipantToken: minted.JWT}, nil
}

// read checks the media type and size of the body and decodes it. protojson
// reads both snake_case (what LiveKit's SDKs send) and lowerCamelCase names.
func (h *tokenEndpoint) read(w http.ResponseWriter, r *http.Request) (*livekit.TokenSourceRequest, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument,
			"Content-Type must be application/json, not %q", r.Header.Get("Content-Type"))
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return nil, refuse(http.StatusUnsupportedMediaType, connect.CodeInvalidArgument,
			"Content-Encoding %q is not supported on %s: send the JSON uncompressed", ce, h.route)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.maxBytes)))
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return nil, refuse(http.StatusRequestEntityTooLarge, connect.CodeResourceExhausted,
				"request body is larger than %d bytes (server limit)", h.maxBytes)
		}
		return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument, "could not read the request body")
	}
	src := &livekit.TokenSourceRequest{}
	if len(strings.TrimSpace(string(body))) == 0 {
		return src, nil // every field is optional, so no body is an empty request
	}
	if err := protojson.Unmarshal(body, src); err != nil {
		return nil, refuse(http.StatusBadRequest, connect.CodeInvalidArgument,
			"request body is not a TokenSourceRequest JSON object: %s", protojsonReason(err))
	}
	return src, nil
}

// protojsonReason strips protojson's "proto:" prefix, whose following space
// is deliberately randomised between a space and a no-break space.
func protojsonReason(err error) string {
	s := strings.TrimPrefix(err.Error(), "proto:")
	return strings.TrimLeft(s, " \u00a0")
}

// generateRequestFrom maps LiveKit's request onto our contract's. Empty
// strings mean "not given", as in LiveKit's own servers; a missing room or
// identity is generated. room_config is not part of the contract message: the
// Issuer judges it.
func generateRequestFrom(src *livekit.TokenSourceRequest) *lktokenv1.GenerateTokenRequest {
	req := &lktokenv1.GenerateTokenRequest{
		RoomName:            src.GetRoomName(),
		ParticipantIdentity: src.GetParticipantIdentity(),
	}
	if req.RoomName == "" {
		req.RoomName = GeneratedRoomPrefix + randomBase62(generatedSuffixLen)
	}
	if req.ParticipantIdentity == "" {
		req.ParticipantIdentity = GeneratedIdentityPrefix + randomBase62(generatedSuffixLen)
	}
	if v := src.GetParticipantName(); v != "" {
		req.ParticipantName = proto.String(v)
	}
	if v := src.GetParticipantMetadata(); v != "" {
		req.ParticipantMetadata = proto.String(v)
	}
	if len(src.GetParticipantAttributes()) > 0 {
		req.ParticipantAttributes = src.GetParticipantAttributes()
	}
	return req
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters drawn uniformly from base62.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		_, _ = rand.Read(buf[:]) // crypto/rand.Read never fails on Linux (Go 1.24+ panics instead)
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps the draw uniform.
			if b < 248 && len(out) < n {
				out = append(out, base62[b%62])
			}
		}
	}
	return string(out)
}

// fail answers err and tells the metrics its code.
func (h *tokenEndpoint) fail(w http.ResponseWriter, r *http.Request, err error) {
	noteOutcome(r.Context(), writeEndpointError(w, err))
}

// writeEndpointError writes err as {"code": "...", "message": "..."}: the same
// code and message GenerateToken would give, with an HTTP status to match.
// It returns the code's name.
func writeEndpointError(w http.ResponseWriter, err error) string {
	status := 0
	var cerr *connect.Error
	if ee := (*endpointError)(nil); errors.As(err, &ee) {
		status, cerr = ee.status, ee.err
	} else if !errors.As(err, &cerr) {
		cerr = connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	if status == 0 {
		status = endpointStatus(cerr.Code())
	}
	body, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{cerr.Code().String(), cerr.Message()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
	return cerr.Code().String()
}

// endpointStatus is the HTTP status of a Connect code, as the Connect protocol
// maps it for unary calls.
func endpointStatus(code connect.Code) int {
	switch code {
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
