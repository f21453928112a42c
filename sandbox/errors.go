package sandbox

import (
	"errors"
	"fmt"
	"log"
)

// Error is how the sandbox's Go API and admin API refuse: Field names the
// input at fault as the caller wrote it ("" when none), Message says what
// is wrong in words a test author can act on.
type Error struct {
	Field   string
	Message string
	Err     error // the cause, if any
}

func (e *Error) Error() string { return "sandbox: " + e.Message }

func (e *Error) Unwrap() error { return e.Err }

// ErrClosed is returned by Start and StartSTOMP after Close.
var ErrClosed = errors.New("sandbox: closed")

// invalid refuses a field: its message starts with the field's name.
func invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &Error{Field: field, Message: msg}
}

// failed wraps a cause.
func failed(err error, format string, args ...any) *Error {
	return &Error{Message: fmt.Sprintf(format, args...), Err: err}
}

// logger writes the optional request log. The sandbox logs what clients
// sent as they sent it: it is a test tool, and an oracle that masked its
// evidence would hide what the client under test leaked.
type logger struct{ l *log.Logger }

func (g logger) enabled() bool { return g.l != nil }

func (g logger) Infof(format string, args ...any) {
	if g.l != nil {
		g.l.Printf(format, args...)
	}
}

func (g logger) Warnf(format string, args ...any) { g.Infof("warning: "+format, args...) }

func (g logger) Errorf(format string, args ...any) { g.Infof("error: "+format, args...) }
