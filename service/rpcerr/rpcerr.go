// Package rpcerr is lktoken's one error mapping. Every refusal is a
// *connect.Error; this package builds the structured ones (protovalidate
// violations), and maps codes to HTTP statuses exactly as connect-go does for
// the Connect protocol, so that plain HTTP routes (LiveKit's /api/token) and
// the metrics agree with what Connect clients see.
package rpcerr

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// Violations renders violations as "field: rule message; ..." in an
// invalid_argument error and attaches them as a detail, so typed clients can
// map them onto form fields.
func Violations(violations *validate.Violations) *connect.Error {
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

// Violation is one broken rule that protovalidate cannot express, such as a
// bound this server's configuration narrows. path names the field:
// Field("participant_metadata") or Field("room_config", Index("agents", 0), "metadata").
func Violation(ruleID, message string, path ...Element) *validate.Violation {
	elems := make([]*validate.FieldPathElement, len(path))
	for i, e := range path {
		b := validate.FieldPathElement_builder{FieldName: proto.String(e.Name)}
		if e.Index >= 0 {
			b.Index = proto.Uint64(uint64(e.Index))
		}
		elems[i] = b.Build()
	}
	return validate.Violation_builder{
		Field:   validate.FieldPath_builder{Elements: elems}.Build(),
		RuleId:  proto.String(ruleID),
		Message: proto.String(message),
	}.Build()
}

// Element is one step of a field path.
type Element struct {
	Name  string
	Index int // -1: not a list element
}

// Field is the path element of a plain field.
func Field(name string) Element { return Element{Name: name, Index: -1} }

// Index is the path element of one element of a repeated field.
func Index(name string, i int) Element { return Element{Name: name, Index: i} }

// HTTPStatus is the HTTP status of a Connect unary error with code, as
// connect-go writes it (connectCodeToHTTP in its protocol_connect.go; the
// table of the Connect protocol specification).
func HTTPStatus(code connect.Code) int {
	switch code {
	case connect.CodeCanceled:
		return 499
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition, connect.CodeOutOfRange:
		return http.StatusBadRequest
	case connect.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	case connect.CodeUnimplemented:
		return http.StatusNotImplemented
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	default: // unknown, internal, data_loss
		return http.StatusInternalServerError
	}
}

// CodeOfStatus names the code of an answer from its HTTP status alone, for
// the metrics of answers written before any RPC exists (a body too large,
// bad JSON, a wrong method or media type). It inverts HTTPStatus for the codes
// lktoken emits, and knows the statuses HTTP routes use where Connect has
// none (201, 405, 413, 415). Anything else is "http_<status>".
func CodeOfStatus(status int) string {
	switch status {
	case http.StatusOK, http.StatusCreated:
		return "ok"
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return connect.CodeInvalidArgument.String()
	case http.StatusUnauthorized:
		return connect.CodeUnauthenticated.String()
	case http.StatusForbidden:
		return connect.CodePermissionDenied.String()
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return connect.CodeUnimplemented.String()
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return connect.CodeDeadlineExceeded.String()
	case http.StatusConflict:
		return connect.CodeAborted.String()
	case http.StatusPreconditionFailed:
		return connect.CodeFailedPrecondition.String()
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return connect.CodeResourceExhausted.String()
	case 499:
		return connect.CodeCanceled.String()
	case http.StatusInternalServerError:
		return connect.CodeInternal.String()
	case http.StatusServiceUnavailable:
		return connect.CodeUnavailable.String()
	}
	return "http_" + strconv.Itoa(status)
}

// WithStatus marks err to be answered with an HTTP status other than its
// code's, where a plain HTTP route's format asks for one (405 for a wrong
// method, 413 for a body too large, 415 for a wrong media type). Connect
// routes ignore it: their statuses are the protocol's.
func WithStatus(status int, err *connect.Error) error {
	return &statusError{status: status, err: err}
}

type statusError struct {
	status int
	err    *connect.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// Writer writes errors on plain HTTP routes: the Connect protocol's unary
// error JSON ({"code", "message", "details"}) through connect-go's own
// ErrorWriter, with the status of HTTPStatus unless WithStatus chose another.
// Anything that is not a *connect.Error is answered as internal, without its
// text.
type Writer struct{ ew *connect.ErrorWriter }

// NewWriter returns a Writer.
func NewWriter() Writer { return Writer{ew: connect.NewErrorWriter()} }

// Write answers err and returns its code.
func (w Writer) Write(rw http.ResponseWriter, r *http.Request, err error) connect.Code {
	var cerr *connect.Error
	if !errors.As(err, &cerr) {
		cerr = connect.NewError(connect.CodeInternal, errors.New("internal error"))
	}
	if se := (*statusError)(nil); errors.As(err, &se) {
		rw = &statusOverride{ResponseWriter: rw, status: se.status}
	}
	// Only the Connect unary format: a plain route answers JSON whatever the
	// caller's Content-Type claimed.
	plain := r.Clone(r.Context())
	plain.Header = http.Header{"Content-Type": {"application/json"}}
	_ = w.ew.Write(rw, plain, cerr)
	return cerr.Code()
}

// statusOverride replaces the status connect-go's ErrorWriter chose.
type statusOverride struct {
	http.ResponseWriter
	status int
}

func (w *statusOverride) WriteHeader(int) { w.ResponseWriter.WriteHeader(w.status) }
