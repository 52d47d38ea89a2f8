// Package setting lets a domain package say which of its inputs is wrong
// without knowing how the user spelled it. A package names its inputs with
// [Field] values (keys.FieldSecretFile, mint.FieldMaxLifetime) and reports a
// problem with [Errorf], passing the fields as arguments; package config,
// which alone knows whether the user typed a flag (--max-lifetime) or a
// variable, renders the message with [Render].
//
// It is a leaf: it imports nothing of lktoken's, so every package may use it.
package setting

import (
	"errors"
	"fmt"
	"strings"
)

// Field identifies one input of a domain package, e.g. "keys.SecretFile".
// Its text is only an id: unrendered errors show it, users see the name
// config gives it. Ids are package-qualified, so they never collide.
type Field string

// Error is a problem with one or more settings. Its message is a format
// whose [Field] arguments are replaced by the names the user knows and whose
// error arguments are rendered the same way, recursively.
type Error struct {
	format string
	args   []any
}

// Errorf returns an [Error]: format and args as for fmt.Sprintf, where a
// [Field] argument (for a %s verb) becomes the setting's name and an error
// argument (for %s, %v or %w) is rendered with the same names. Wrap a
// setting error with Errorf, never with fmt.Errorf, or its fields stay ids.
func Errorf(format string, args ...any) *Error {
	return &Error{format: format, args: args}
}

// Error renders the message with each field's id: what a caller sees that
// did not go through [Render] (a test of the domain package, say).
func (e *Error) Error() string { return e.render(func(f Field) string { return string(f) }) }

// Fields returns the fields the message names, in order.
func (e *Error) Fields() []Field {
	var fs []Field
	for _, a := range e.args {
		if f, ok := a.(Field); ok {
			fs = append(fs, f)
		}
	}
	return fs
}

// Unwrap returns the error arguments, so that errors.Is and errors.As see
// through an Error.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, a := range e.args {
		if err, ok := a.(error); ok {
			errs = append(errs, err)
		}
	}
	return errs
}

func (e *Error) render(name func(Field) string) string {
	args := make([]any, len(e.args))
	for i, a := range e.args {
		switch a := a.(type) {
		case Field:
			args[i] = name(a)
		case error:
			args[i] = rendered{Render(a, name).Error(), a}
		default:
			args[i] = a
		}
	}
	// %w is fmt.Errorf's; Unwrap already exposes the error arguments.
	return fmt.Sprintf(strings.ReplaceAll(e.format, "%w", "%v"), args...)
}

// rendered is an error after [Render]: the message with the names, the
// original below it for errors.Is and errors.As.
type rendered struct {
	msg  string
	orig error
}

func (r rendered) Error() string { return r.msg }
func (r rendered) Unwrap() error { return r.orig }

// Render returns err with every field named by name: an [Error] is
// formatted with the names, errors.Join's errors are rendered one by one, and
// any other error is returned as it is (its text cannot name a field).
// errors.Is and errors.As still reach the original errors.
func Render(err error, name func(Field) string) error {
	if err == nil {
		return nil
	}
	if se, ok := err.(*Error); ok {
		return rendered{se.render(name), err}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs := j.Unwrap()
		out := make([]error, len(errs))
		for i, e := range errs {
			out[i] = Render(e, name)
		}
		return rendered{errors.Join(out...).Error(), err}
	}
	return err
}
