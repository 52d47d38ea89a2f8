package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/pipeline"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// TokenEndpoint serves LiveKit's standard token endpoint at path, the format
// every LiveKit client SDK's TokenSource.endpoint speaks: POST a JSON
// livekit.TokenSourceRequest (all fields optional, snake_case; unknown fields
// are ignored, as the Connect route and connect-go do, so that an SDK release
// adding one keeps working), get 201 and {"server_url", "participant_token",
// "room_name", "participant_name"} (the last two are what newer SDKs read
// besides livekit.TokenSourceResponse's; participant_name only when the token
// carries one). A body may hold at most maxBytes.
//
// It holds no rule of its own: the request becomes a GenerateTokenRequest
// for the same mint operation as GenerateToken (a missing room or identity is
// generated, as LiveKit's own servers do), room_config included. Only what
// the contract cannot express is refused here, as a decoding failure: room
// settings other than agent dispatch. Errors are the same Connect errors,
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
	if err == nil {
		call.Request, err = generateRequestFrom(src)
	}
	call.Err = err
	res, err := h.op.Mint(r.Context(), call)
	if err != nil {
		h.errs.Write(w, r, err)
		return
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body) // one line, ending in a newline
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tokenSourceResponse{
		ServerURL: res.ServerURL, ParticipantToken: res.Token.JWT, RoomName: res.Token.Room, ParticipantName: res.Token.Name,
	}); err != nil {
		h.errs.Write(w, r, connect.NewError(connect.CodeInternal, errors.New("the server could not encode its answer")))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(body.Bytes())
}

// tokenSourceResponse is the answer, in snake_case (Swift's and Flutter's
// SDKs read only that spelling): livekit.TokenSourceResponse's two fields,
// then the room and display name the token was minted for, which the Swift,
// Android, Flutter and C++ SDKs read too (docs/token-endpoint.md).
type tokenSourceResponse struct {
	ServerURL        string `json:"server_url"`
	ParticipantToken string `json:"participant_token"`
	RoomName         string `json:"room_name"`
	ParticipantName  string `json:"participant_name,omitempty"`
}

func refuse(status int, code connect.Code, format string, args ...any) error {
	return rpcerr.WithStatus(status, connect.NewError(code, fmt.Errorf(format, args...)))
}

// read checks the media type and size of the body and decodes it. protojson
// reads both snake_case (what LiveKit's SDKs send) and lowerCamelCase names,
// and skips fields it does not know (after checking they are well-formed
// JSON), as connect-go's JSON codec does.
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
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, src); err != nil {
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
// strings mean "not given", as in LiveKit's own servers. Of room_config the
// contract has agent dispatch only; any other room setting, or agent field,
// is refused with permission_denied naming each, rather than silently
// dropped from a token the caller expected to carry it.
func generateRequestFrom(src *livekit.TokenSourceRequest) (*lktokenv1.GenerateTokenRequest, error) {
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
	rc, err := roomConfigFrom(src.GetRoomConfig())
	req.RoomConfig = rc
	return req, err
}

// honouredAgentFields are the RoomAgentDispatch fields the contract has.
var honouredAgentFields = []protoreflect.Name{"agent_name", "metadata", "deployment"}

// roomConfigFrom translates LiveKit's room_config (nil or empty: none) into
// the contract's, refusing what the contract does not have.
func roomConfigFrom(rc *livekit.RoomConfiguration) (*lktokenv1.RoomConfig, error) {
	if rc == nil {
		return nil, nil
	}
	var refused []string
	for _, fd := range setFields(rc) {
		if fd.Name() != "agents" {
			refused = append(refused, "room_config."+string(fd.Name())+" is not allowed (this server honours only room_config.agents)")
		}
	}
	var out *lktokenv1.RoomConfig
	for i, a := range rc.GetAgents() {
		for _, fd := range setFields(a) {
			if !slices.Contains(honouredAgentFields, fd.Name()) {
				refused = append(refused, fmt.Sprintf("room_config.agents[%d].%s is not allowed (only agent_name, metadata and deployment are)", i, fd.Name()))
			}
		}
		if out == nil {
			out = &lktokenv1.RoomConfig{}
		}
		out.Agents = append(out.Agents, &lktokenv1.RoomAgentDispatch{AgentName: a.GetAgentName(), Metadata: a.GetMetadata(), Deployment: a.GetDeployment()})
	}
	if len(refused) > 0 {
		return nil, connect.NewError(connect.CodePermissionDenied, errors.New(strings.Join(refused, "; ")))
	}
	return out, nil
}

// setFields lists the populated fields of m in field-number order, so that
// messages naming them are stable.
func setFields(m proto.Message) []protoreflect.FieldDescriptor {
	var fields []protoreflect.FieldDescriptor
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		fields = append(fields, fd)
		return true
	})
	slices.SortFunc(fields, func(a, b protoreflect.FieldDescriptor) int { return int(a.Number() - b.Number()) })
	return fields
}
