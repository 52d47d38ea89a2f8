// Package contract applies the rules of proto/ (protovalidate) to every
// request, with a fast path for the common valid GenerateTokenRequest that a
// fingerprint of the rules keeps honest.
package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	lktokenv1 "github.com/lktoken/lktoken/gen/go/lktoken/v1"
	"github.com/lktoken/lktoken/service/rpcerr"
)

// Validator is the validator every route runs: a GenerateTokenRequest that
// certainly satisfies the contract's rules passes without evaluating CEL;
// every other message, and every request that might break a rule, is judged
// by protovalidate itself, so what is refused and every error message stay
// exactly protovalidate's. The rules still live in one place, proto/:
// acceptsGenerateToken restates them only to skip work, and only while the
// contract is the one it was written for (contractRulesFingerprint).
//
// protovalidate is built on first need, not at start-up: its CEL environment
// takes tens of milliseconds to build and holds megabytes (it registers every
// linked protobuf file, LiveKit's included), and valid requests never need
// it. The rules' compilation is tested (TestFastValidationAgreesWithProtovalidate);
// should it ever fail at run time, the refused request gets internal.
type Validator struct {
	fast bool

	once sync.Once
	full protovalidate.Validator
	err  error
}

// NewValidator returns the contract's validator.
func NewValidator() *Validator {
	return &Validator{fast: generateTokenRulesFingerprint() == contractRulesFingerprint}
}

// Check applies the contract's rules to msg, and the server's one rule the
// contract leaves to it: a GenerateTokenRequest must name a participant
// identity once the caller's verified identity (if any) has been bound to
// it. It returns nil, or a *connect.Error ready to send: invalid_argument
// naming each field and rule in words, with the structured
// buf.validate.Violations attached as a detail.
func (v *Validator) Check(msg proto.Message) error {
	err := v.validate(msg)
	if m, ok := msg.(*lktokenv1.GenerateTokenRequest); ok && m.ParticipantIdentity == "" {
		return asConnectError(withIdentityRequired(err))
	}
	return asConnectError(err)
}

// identityRequired is the violation of a request without an identity on a
// server that has no verified one to fill in: exactly what protovalidate
// reported while the contract marked the field required (the test compares
// them), so clients see no difference.
func identityRequired() *validate.Violation {
	return validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{validate.FieldPathElement_builder{
			FieldNumber: proto.Int32(2), FieldName: proto.String("participant_identity"),
			FieldType: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
		}.Build()}}.Build(),
		Rule: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{validate.FieldPathElement_builder{
			FieldNumber: proto.Int32(25), FieldName: proto.String("required"),
			FieldType: descriptorpb.FieldDescriptorProto_TYPE_BOOL.Enum(),
		}.Build()}}.Build(),
		RuleId:  proto.String("required"),
		Message: proto.String("value is required"),
	}.Build()
}

// withIdentityRequired adds identityRequired to protovalidate's answer,
// after the violations of room_name (field 1), before the others, as
// protovalidate orders them by field.
func withIdentityRequired(err error) error {
	if err != nil && !isValidationError(err) {
		return err // a misconfigured validator stays internal
	}
	var before, after []*validate.Violation
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		for _, vi := range verr.ToProto().GetViolations() {
			if first := vi.GetField().GetElements(); len(first) > 0 && first[0].GetFieldNumber() <= 1 {
				before = append(before, vi)
			} else {
				after = append(after, vi)
			}
		}
	}
	all := append(append(before, identityRequired()), after...)
	return violationsError{validate.Violations_builder{Violations: all}.Build()}
}

func isValidationError(err error) bool {
	var verr *protovalidate.ValidationError
	return errors.As(err, &verr)
}

// violationsError carries violations built here to asConnectError.
type violationsError struct{ v *validate.Violations }

func (e violationsError) Error() string { return "invalid request" }

// validate is protovalidate.Validator's Validate for the contract's messages.
func (v *Validator) validate(msg proto.Message) error {
	if v.fast {
		if m, ok := msg.(*lktokenv1.GenerateTokenRequest); ok && acceptsGenerateToken(m) {
			return nil
		}
	}
	v.once.Do(func() {
		v.full, v.err = protovalidate.New(protovalidate.WithMessages(&lktokenv1.GenerateTokenRequest{}))
	})
	if v.err != nil {
		return v.err
	}
	return v.full.Validate(msg)
}

// asConnectError turns protovalidate's answer into what a caller gets.
func asConnectError(err error) error {
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		return rpcerr.Violations(verr.ToProto())
	}
	var own violationsError
	if errors.As(err, &own) {
		return rpcerr.Violations(own.v)
	}
	// A rule that fails to compile or evaluate is our fault, not the caller's.
	return connect.NewError(connect.CodeInternal, errors.New("request validation is misconfigured on the server"))
}

// contractRulesFingerprint is generateTokenRulesFingerprint() of the contract
// acceptsGenerateToken was written for. When proto/ changes the request or its
// rules the fingerprint changes, the fast path switches itself off (correct,
// only slower), and TestFastValidationMatchesContract fails until someone
// re-reads the rules, updates acceptsGenerateToken and this value.
const contractRulesFingerprint = "d7657506ef451efc00b8f8b30c0593f59417b868bb64404e832890ea57c1754e"

// generateTokenRulesFingerprint hashes what decides validity: the
// descriptors, with all their options, of the request message and of every
// message of the contract it holds (room_config and its agents), and the
// predefined label rule.
func generateTokenRulesFingerprint() string {
	det := proto.MarshalOptions{Deterministic: true}
	var all []byte
	for _, md := range requestMessages() {
		b, err := det.Marshal(protodesc.ToDescriptorProto(md))
		if err != nil {
			return ""
		}
		all = append(all, b...)
	}
	label, err := det.Marshal(protodesc.ToFieldDescriptorProto(lktokenv1.E_Label.TypeDescriptor()))
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(append(all, label...))
	return hex.EncodeToString(sum[:])
}

// requestMessages lists GenerateTokenRequest and every message of its own
// package reachable through its fields, each once, in the order first met.
func requestMessages() []protoreflect.MessageDescriptor {
	root := (&lktokenv1.GenerateTokenRequest{}).ProtoReflect().Descriptor()
	var out []protoreflect.MessageDescriptor
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if md.ParentFile().Package() != root.ParentFile().Package() || slices.Contains(out, md) {
			return
		}
		out = append(out, md)
		for i := range md.Fields().Len() {
			if m := md.Fields().Get(i).Message(); m != nil {
				walk(m)
			}
		}
	}
	walk(root)
	return out
}

// acceptsGenerateToken reports true only when m satisfies every rule of
// proto/lktoken/v1/token_service.proto; false means "ask protovalidate".
func acceptsGenerateToken(m *lktokenv1.GenerateTokenRequest) bool {
	// room_name: required, max_bytes 256, label.
	if !isLabel(m.RoomName) {
		return false
	}
	// participant_identity: optional in the contract (a server with verified
	// callers fills it in); when set max_bytes 256, label, no '#'. Check
	// requires it of what is left after binding (identityRequired).
	if id := m.ParticipantIdentity; id != "" && (!isLabel(id) || strings.IndexByte(id, '#') >= 0) {
		return false
	}
	// participant_name: optional; when set min_bytes 1, max_bytes 256, label.
	if m.ParticipantName != nil && !isLabel(*m.ParticipantName) {
		return false
	}
	// expiration_seconds: optional; when set 60..86400.
	if e := m.ExpirationSeconds; e != nil && (*e < 60 || *e > 86400) {
		return false
	}
	// participant_metadata: optional; when set max_bytes 524288.
	if md := m.ParticipantMetadata; md != nil && len(*md) > 524288 {
		return false
	}
	// participant_attributes: keys min_bytes 1, max_bytes 256, label, no "lk." prefix.
	for k := range m.ParticipantAttributes {
		if !isLabel(k) || strings.HasPrefix(k, "lk.") {
			return false
		}
	}
	// room_config.agents[]: agent_name when set max_bytes 256, label;
	// metadata max_bytes 524288; deployment has no rule in the contract.
	for _, a := range m.GetRoomConfig().GetAgents() {
		if a == nil || a.AgentName != "" && !isLabel(a.AgentName) || len(a.Metadata) > 524288 {
			return false
		}
	}
	return true
}

// isLabel: 1..256 bytes of valid UTF-8, at least one character outside the
// rule's whitespace class, none inside its control/bidi-override class
// (rules.proto, lktoken.v1.label).
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > 256 {
		return false
	}
	visible := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			visible = visible || c != ' '
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return false // invalid UTF-8: protovalidate decides
		}
		if (r >= 0x80 && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return false
		}
		visible = visible || !labelSpace(r)
		i += size
	}
	return visible
}

// labelSpace is the label rule's whitespace class beyond ASCII.
func labelSpace(r rune) bool {
	switch {
	case r == 0x85, r == 0xa0, r == 0x1680, r >= 0x2000 && r <= 0x200a,
		r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}
