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
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/libsecucard/libsecucard/core/redact"
)

// Kind classifies an error. The values are the "type" field of the error JSON.
type Kind string

// The kinds. Adding one is an ABI-compatible change; renaming one is not.
const (
	InvalidArgument Kind = "invalid_argument"
	InvalidHandle   Kind = "invalid_handle" // a NULL, freed or foreign handle (C API)
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
	ReasonCertificate   = "certificate"    // Network: the server's TLS certificate (or handshake) was refused; a repeat cannot succeed
	ReasonTemporary     = "temporary"      // Declined: declined for now (CardPointe respstat B); a new attempt may be approved
)

// Outcomes say what a failed call may have done on the server. They are the
// "outcome" field of the error JSON of every failed call.
const (
	// OutcomeNotSent: the request provably never reached the server (it
	// never left this machine, or a lookup proved it never arrived).
	OutcomeNotSent = "not_sent"
	// OutcomeRejected: the server answered that it did not carry it out
	// (an error envelope, a 4xx, a 429).
	OutcomeRejected = "rejected"
	// OutcomeUnknown: the server may have acted (the answer was lost, timed
	// out, was a 5xx or unreadable). Look the object up before repeating,
	// unless retryable says a repeat with the same idempotency_key is safe.
	OutcomeUnknown = "unknown"
	// OutcomeVoided: the answer was lost, and the payment gateway then
	// confirmed that it reversed whatever the request did (CardPointe:
	// voidByOrderId after an unanswered inquiry). Nothing stands, so a new
	// attempt charges at most once.
	OutcomeVoided = "voided"
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

	// Retryable says that repeating this exact request (with IdempotencyKey,
	// when there is one) may succeed and cannot execute it twice. It is
	// computed by the call pipeline's one decision function (core/call),
	// never set anywhere else.
	Retryable bool `json:"retryable"`
	// Outcome is one of the Outcome constants for a failed call, "" for
	// errors that are not about a request (config, handles).
	Outcome string `json:"outcome,omitempty"`
	// IdempotencyKey is the idempotency key (X-Action) the failed mutating
	// call was sent with: repeat with it, never with a new one.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// RetryAfterMS is the server's Retry-After in milliseconds whenever it
	// sent one, also when it was longer than the library waits by itself.
	RetryAfterMS *int64 `json:"retry_after_ms,omitempty"`
	// ObjectID names the object to look up before anything is repeated when
	// the outcome is unknown and the object is known (a payment start).
	ObjectID string `json:"object_id,omitempty"`
	// Transaction is, for Declined, the transaction as the payment left it
	// (status, error, receipt lines to print): the answer the call would
	// have returned had the payment been made.
	Transaction json.RawMessage `json:"transaction,omitempty"`

	// Gateway is the payment gateway's own answer, on errors of CardPointe
	// calls; its fields appear at the top level of the error JSON.
	Gateway

	// Err is the underlying cause. It is not part of the wire form: causes can
	// carry unredacted text (URLs with query strings, server bodies).
	Err error `json:"-"`
}

// Gateway is what the CardPointe Gateway answered (spec cardpointe.md §2.2,
// §3), as the error JSON of a CardPointe call carries it: the codes a till
// shows and logs, and the keys to look the transaction up by.
type Gateway struct {
	RespStat string `json:"respstat,omitempty"` // "A" approved, "B" retry, "C" declined
	RespCode string `json:"respcode,omitempty"` // the processor's or the gateway's code ("05", "116", "NU", "29")
	RespText string `json:"resptext,omitempty"` // its text ("Do not honor")
	RespProc string `json:"respproc,omitempty"` // who answered: "PPS" (the gateway), "FNOR", "RPCT", ...
	Retref   string `json:"retref,omitempty"`   // the transaction's retrieval reference
	AVSResp  string `json:"avsresp,omitempty"`  // address verification result
	CVVResp  string `json:"cvvresp,omitempty"`  // CVV check result
	OrderID  string `json:"orderid,omitempty"`  // the auth's orderid: look it up by it (inquireByOrderid)
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
	return &Error{Kind: kind, Op: op, Message: redact.String(fmt.Sprintf(format, args...))}
}

// Wrap builds an error of the given kind around a cause.
func Wrap(kind Kind, op string, cause error, format string, args ...any) *Error {
	e := New(kind, op, format, args...)
	e.Err = cause
	return e
}

// Invalid reports bad input: field names the config key or request field, reason
// says what is wrong with it ("is required", "must be a string", ...).
//
// Both repeat host input, so both are redacted and bounded (a 10 MB key must
// not make a 20 MB error JSON).
func Invalid(field, format string, args ...any) *Error {
	field = redact.Clip(field, maxFieldEcho) // a key the host wrote may be a card number
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &Error{Kind: InvalidArgument, Field: field, Message: redact.Clip(msg, maxMessageEcho)}
}

// Bounds of the host input an InvalidArgument repeats, in bytes.
const (
	maxFieldEcho   = 256
	maxMessageEcho = 1024
)

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
	if len(e.Transaction) > 0 {
		e.Transaction = r.JSON(e.Transaction)
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

// RetryAfter returns the server's Retry-After and whether it sent one.
func (e *Error) RetryAfter() (time.Duration, bool) {
	if e == nil || e.RetryAfterMS == nil {
		return 0, false
	}
	return time.Duration(*e.RetryAfterMS) * time.Millisecond, true
}

// Classify turns a transport-level or context error into an *Error. It is the
// single place where Go's error zoo is mapped onto Kinds, by the errors'
// types, never by their text.
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
	case IsCertificate(err):
		e := Wrap(Network, op, err, "the TLS handshake failed (the server's certificate or TLS setup was refused): %s", err.Error())
		e.Reason = ReasonCertificate
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Wrap(Timeout, op, err, "network timeout: %s", err.Error())
	}
	if isNetErr(err) {
		return Wrap(Network, op, err, "network error: %s", err.Error())
	}
	return Wrap(Internal, op, err, "%s", err.Error())
}

// IsCertificate reports a TLS verification or handshake failure: the peer's
// certificate was refused, or the handshake itself failed. Repeating cannot
// help, so no transport ever retries it.
func IsCertificate(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var ch x509.ConstraintViolationError
	var alert tls.AlertError
	var rh tls.RecordHeaderError
	var e *Error
	if errors.As(err, &e) {
		return e.Reason == ReasonCertificate
	}
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci) ||
		errors.As(err, &ch) || errors.As(err, &alert) || errors.As(err, &rh)
}

// isNetErr reports an error of the network stack: anything implementing
// net.Error (*net.OpError, *net.DNSError, *url.Error, ...), a connection that
// ended mid-answer, or a socket errno that reached us unwrapped.
func isNetErr(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED, syscall.EPIPE,
			syscall.ENETUNREACH, syscall.EHOSTUNREACH, syscall.ETIMEDOUT, syscall.ENETDOWN:
			return true
		}
	}
	return false
}
