package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// TokenEndpoint serves LiveKit's standard token endpoint at path, the format
// every LiveKit client SDK's TokenSource.endpoint speaks: POST a JSON
// livekit.TokenSourceRequest (all fields optional, snake_case), get 201 and a
// livekit.TokenSourceResponse {"server_url", "participant_token"}. A body may
// hold at most maxBytes.
//
// It holds no rule of its own: the request becomes a GenerateTokenRequest
// for the same mint operation as GenerateToken (a missing room or identity is
// generated, as LiveKit's own servers do). Errors are the same Connect errors,
// written as Connect writes them ({"code", "message", "details"}, the
// violations included) with the Connect protocol's HTTP status, except where
// this format needs its own: 405, 413 and 415.
func TokenEndpoint(op *pipeline.Operation, path string, maxBytes int) Route {
	return &tokenEndpoint{op: op, route: path, maxBytes: maxBytes, errs: rpcerr.NewWriter()}
}

type tokenEndpoint struct {
	op       *pipeline.Operation
	route    string
	maxBytes int
	errs     rpcerr.Writer
}

func (h *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.Serve(w, r, pipeline.Verified{})
}

// Serve answers r for caller. Every refusal, the wrong method included, goes
// through the mint operation, so each leaves its one audit line.
func (h *tokenEndpoint) Serve(w http.ResponseWriter, r *http.Request, caller pipeline.Verified) {
	w.Header()["Cache-Control"] = []string{"no-store"}
	call := pipeline.Call{Route: h.route, Peer: r.RemoteAddr, Header: r.Header, Caller: caller, GenerateMissing: true}
	var src *livekit.TokenSourceRequest
	var err error
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		err = refuse(http.StatusMethodNotAllowed, connect.CodeUnimplemented,
			"method %s is not allowed on %s: use POST with a JSON body", r.Method, h.route)
	} else {
		src, err = h.read(w, r)
	}
	if err != nil {
		call.Err = err
	} else {
		call.Request, call.RoomConfig = generateRequestFrom(src), src.GetRoomConfig()
	}
	res, err := h.op.Mint(r.Context(), call)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(&livekit.TokenSourceResponse{
		ServerUrl: res.ServerURL, ParticipantToken: res.Token.JWT})
	var compact bytes.Buffer
	if err == nil {
		// protojson varies its whitespace on purpose; answer with stable bytes.
		err = json.Compact(&compact, body)
	}
	if err != nil {
		h.errs.Write(w, r, connect.NewError(connect.CodeInternal, errors.New("the server could not encode its answer")))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(append(compact.Bytes(), '\n'))
}

func refuse(status int, code connect.Code, format string, args ...any) error {
	return rpcerr.WithStatus(status, connect.NewError(code, fmt.Errorf(format, args...)))
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
// strings mean "not given", as in LiveKit's own servers. room_config is not
// part of the contract message: the Issuer judges it.
func generateRequestFrom(src *livekit.TokenSourceRequest) *lktokenv1.GenerateTokenRequest {
	req := &lktokenv1.GenerateTokenRequest{
		RoomName:            src.GetRoomName(),
		ParticipantIdentity: src.GetParticipantIdentity(),
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
