// Package errs owns the one error type of libsecucard.
//
// Every failure that leaves the core is an *Error whose Kind tells the host what
// happened in the terms a payment engineer acts on: the request was malformed
// (InvalidArgument), the credentials or token were refused (Auth), the secucard
// API answered with its error envelope (API), a card or payment was declined
// (Declined), the network failed (Network), a deadline passed (Timeout), the
// caller canceled (Canceled), the client is closed (Closed), token storage failed
// (Storage), or the library itself failed (Internal).
//
// The C API maps Kind to a status code and the exported fields to the error JSON;
// the JSON tags below are that wire form. Messages are redacted when built, so an
// *Error can be logged or handed to a host without leaking secrets.
package errs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/redact"
)

// Kind classifies an error. The values are the "type" field of the error JSON.
type Kind string

// The kinds. Adding one is an ABI-compatible change; renaming one is not.
const (
	InvalidArgument Kind = "invalid_argument"
	Auth            Kind = "auth"
	API             Kind = "api"
	Declined        Kind = "declined"
	Network         Kind = "network"
	Timeout         Kind = "timeout"
	Canceled        Kind = "canceled"
	Closed          Kind = "closed"
	Storage         Kind = "storage"
	Internal        Kind = "internal"
)

// Reasons refine Kind Auth (and a few others). They are the "reason" field of the
// error JSON and let bindings raise AuthDenied / AuthCanceled / AuthTimeout.
const (
	ReasonDenied        = "denied"         // credentials or grant refused (invalid_client, access_denied, bad password)
	ReasonInvalidGrant  = "invalid_grant"  // refresh token or device code no longer valid
	ReasonExpired       = "expired"        // the device code expired before anyone approved it
	ReasonTimeout       = "timeout"        // the device flow ran past its overall deadline
	ReasonCanceled      = "canceled"       // the host canceled the device flow or declined to give credentials
	ReasonNoCredentials = "no_credentials" // no credentials configured and no provider gave any
	ReasonNotAuthorized = "not_authorized" // an interactive grant is needed: call Open first
	ReasonTokenRejected = "token_rejected" // the API refused a fresh token (401 after refresh and replay)
)

// Error is the error type of every core package.
type Error struct {
	Kind    Kind   `json:"type"`
	Op      string `json:"op,omitempty"`     // what was being done, e.g. "smart.transactions.create" or "oauth.token"
	Message string `json:"message"`          // human readable, already redacted
	Field   string `json:"field,omitempty"`  // InvalidArgument: the config key or request field at fault
	Reason  string `json:"reason,omitempty"` // refinement of Kind, see the Reason constants
	Status  int    `json:"http_status,omitempty"`

	// The secucard error envelope (spec §3.7) or the OAuth error body (spec §2.4).
	ErrorName   string `json:"error,omitempty"`         // "ProductNotFoundException", "invalid_grant", ...
	Details     string `json:"error_details,omitempty"` // error_details / error_description
	UserMessage string `json:"error_user,omitempty"`    // end-user message, localised by Accept-Language
	Code        string `json:"code,omitempty"`          // API error code (string or number on the wire)
	SupportID   string `json:"support_id,omitempty"`    // supportId on the wire

	// Retryable says whether repeating the same request may succeed. It never
	// claims a non-idempotent request is safe to repeat.
	Retryable  bool          `json:"retryable"`
	RetryAfter time.Duration `json:"-"`

	// Err is the underlying cause. It is not part of the wire form: causes can
	// carry unredacted text (URLs with query strings, server bodies).
	Err error `json:"-"`
}

// Error renders a one-line, redacted description.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Kind))
	if e.Reason != "" {
		b.WriteString(" (")
		b.WriteString(e.Reason)
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Field != "" && !strings.Contains(e.Message, e.Field) {
		b.WriteString(" [field ")
		b.WriteString(e.Field)
		b.WriteString("]")
	}
	return redact.String(b.String())
}

// Unwrap exposes the cause to errors.Is / errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &errs.Error{Kind: errs.Auth}) match by kind (and by
// reason, when the target sets one).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Kind != "" && t.Kind != e.Kind {
		return false
	}
	if t.Reason != "" && t.Reason != e.Reason {
		return false
	}
	return t.Kind != "" || t.Reason != ""
}

// New builds an error of the given kind with a redacted, formatted message.
func New(kind Kind, op, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Message: redact.String(fmt.Sprintf(format, args...)), Retryable: defaultRetryable(kind)}
}

// Wrap builds an error of the given kind around a cause.
func Wrap(kind Kind, op string, cause error, format string, args ...any) *Error {
	e := New(kind, op, format, args...)
	e.Err = cause
	return e
}

// Invalid reports bad input: field names the config key or request field, reason
// says what is wrong with it ("is required", "must be a string", ...). The
// field is host input too (an unknown key can be a card number) and is
// redacted like the message.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &Error{Kind: InvalidArgument, Field: redact.String(field), Message: redact.String(msg)}
}

// Redact returns err as an *Error whose every text field has passed r (a
// client's redactor, which knows that client's secrets). It copies: an
// *Error may be shared by callers of a single-flight operation. nil stays nil.
func Redact(err error, r *redact.Redactor) *Error {
	if err == nil {
		return nil
	}
	e := *As(err)
	for _, f := range []*string{&e.Op, &e.Message, &e.Field, &e.ErrorName, &e.Details, &e.UserMessage, &e.Code, &e.SupportID} {
		*f = r.String(*f)
	}
	return &e
}

// AuthError builds an auth error with a reason.
func AuthError(op, reason, format string, args ...any) *Error {
	e := New(Auth, op, format, args...)
	e.Reason = reason
	return e
}

// KindOf returns the kind of err, Internal for a foreign error and "" for nil.
func KindOf(err error) Kind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// As returns err as *Error, classifying foreign errors on the way: context
// errors become Canceled/Timeout, net errors Network, anything else Internal.
// It never returns nil for a non-nil err.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Classify("", err)
}

// Classify turns a transport-level or context error into an *Error. It is the
// single place where Go's error zoo is mapped onto Kinds.
func Classify(op string, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Wrap(Canceled, op, err, "the call was canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return Wrap(Timeout, op, err, "the deadline passed before an answer arrived")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Wrap(Timeout, op, err, "network timeout: %s", err.Error())
	}
	if errors.As(err, &ne) || isNetErr(err) {
		return Wrap(Network, op, err, "network error: %s", err.Error())
	}
	return Wrap(Internal, op, err, "%s", err.Error())
}

func isNetErr(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) || errors.As(err, &dns) ||
		strings.Contains(err.Error(), "connection reset") ||
		strings.Contains(err.Error(), "connection refused") ||
		strings.Contains(err.Error(), "broken pipe") ||
		strings.Contains(err.Error(), "EOF")
}

// defaultRetryable is whether an error of this kind may succeed on repetition
// when nothing more specific is known. Callers refine it (an API 503 is
// retryable, an API 400 is not).
func defaultRetryable(k Kind) bool {
	switch k {
	case Network, Timeout:
		return true
	}
	return false
}
