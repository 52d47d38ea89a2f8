package service

import (
	"context"
	"errors"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// NewValidationInterceptor checks every request message against the rules
// annotated in proto/ before any handler sees it. A request that breaks them
// gets invalid_argument whose message names each field and rule in words, with
// the structured buf.validate.Violations attached as an error detail.
func NewValidationInterceptor(v protovalidate.Validator) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if msg, ok := req.Any().(proto.Message); ok {
				if err := validateMessage(v, msg); err != nil {
					return nil, err
				}
			}
			return next(ctx, req)
		}
	}
}

// validateMessage applies the contract's rules to msg and returns nil or a
// *connect.Error ready to send.
func validateMessage(v protovalidate.Validator, msg proto.Message) error {
	err := v.Validate(msg)
	if err == nil {
		return nil
	}
	var verr *protovalidate.ValidationError
	if errors.As(err, &verr) {
		return violationsError(verr.ToProto())
	}
	// A rule that fails to compile or evaluate is our fault, not the caller's.
	return connect.NewError(connect.CodeInternal, errors.New("request validation is misconfigured on the server"))
}

// violationsError renders violations as "field: rule message; ..." and attaches
// them as a detail so typed clients can map them onto form fields.
func violationsError(violations *validate.Violations) *connect.Error {
	parts := make([]string, 0, len(violations.GetViolations()))
	for _, v := range violations.GetViolations() {
		parts = append(parts, protovalidate.FieldPathString(v.GetField())+": "+v.GetMessage())
	}
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New(strings.Join(parts, "; ")))
	if detail, err := connect.NewErrorDetail(violations); err == nil {
		cerr.AddDetail(detail)
	}
	return cerr
}

// fieldViolation builds one violation for a rule that protovalidate cannot
// express, such as a bound this server's configuration narrows.
func fieldViolation(field, ruleID, message string) *validate.Violation {
	return validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{FieldName: proto.String(field)}.Build(),
		}}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}.Build()
}

// agentViolation is fieldViolation for room_config.agents[index].field.
func agentViolation(index int, field, ruleID, message string) *validate.Violation {
	return validate.Violation_builder{
		Field: validate.FieldPath_builder{Elements: []*validate.FieldPathElement{
			validate.FieldPathElement_builder{FieldName: proto.String("room_config")}.Build(),
			validate.FieldPathElement_builder{FieldName: proto.String("agents"), Index: proto.Uint64(uint64(index))}.Build(),
			validate.FieldPathElement_builder{FieldName: proto.String(field)}.Build(),
		}}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}.Build()
}
