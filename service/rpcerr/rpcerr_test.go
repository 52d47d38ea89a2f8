package rpcerr

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
)

// HTTPStatus is connect-go's own mapping: checked against what its
// ErrorWriter writes for every code; CodeOfStatus inverts it for each code
// whose status is its own.
func TestHTTPStatusIsConnectGos(t *testing.T) {
	t.Parallel()
	ew := connect.NewErrorWriter()
	// Several codes share these; 404 is also connect-go's answer to an
	// unknown procedure, counted as unimplemented.
	shared := map[int]bool{400: true, 404: true, 409: true, 500: true}
	for code := connect.Code(1); code <= 16; code++ {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		r.Header.Set("Content-Type", "application/json")
		_ = ew.Write(w, r, connect.NewError(code, errors.New("x")))
		if got := HTTPStatus(code); got != w.Code {
			t.Errorf("%s: HTTPStatus %d, connect-go writes %d", code, got, w.Code)
		}
		if back := CodeOfStatus(HTTPStatus(code)); !shared[HTTPStatus(code)] && back != code.String() {
			t.Errorf("%s: CodeOfStatus(%d) = %s", code, HTTPStatus(code), back)
		}
	}
}

// Writer answers in the Connect protocol's unary JSON, with the violations
// as details, whatever the request's Content-Type, and WithStatus chooses
// another status.
func TestWriter(t *testing.T) {
	t.Parallel()
	cerr := connect.NewError(connect.CodeInvalidArgument, errors.New("room_name: value is required"))
	if d, err := connect.NewErrorDetail(Violation("required", "value is required", Field("room_name"))); err == nil {
		cerr.AddDetail(d)
	}
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{cerr, 400, "invalid_argument"},
		{WithStatus(http.StatusUnsupportedMediaType, connect.NewError(connect.CodeInvalidArgument, errors.New("json please"))), 415, "invalid_argument"},
		{errors.New("secret detail"), 500, "internal"},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/api/token", nil)
		r.Header.Set("Content-Type", "application/grpc") // a plain route answers JSON regardless
		if got := NewWriter().Write(w, r, c.err); got.String() != c.code {
			t.Errorf("code %s, want %s", got, c.code)
		}
		var body struct {
			Code, Message string
			Details       []json.RawMessage
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != c.status || body.Code != c.code ||
			w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%d %s %q: %s (%v)", w.Code, w.Header().Get("Content-Type"), body.Code, w.Body, err)
		}
		if c.status == 400 && len(body.Details) != 1 {
			t.Errorf("violations not attached: %s", w.Body)
		}
		if body.Message == "secret detail" {
			t.Error("a non-Connect error's text reached the caller")
		}
	}
}
