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
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Errors are classified by their types, never by their text: a JSON or
// template error that mentions "EOF" is not a network failure.
func TestClassifyByType(t *testing.T) {
	jsonErr := json.Unmarshal([]byte(`{"a":`), &struct{}{})
	cases := []struct {
		name   string
		err    error
		kind   Kind
		reason string
	}{
		{"context canceled", fmt.Errorf("get: %w", context.Canceled), Canceled, ""},
		{"deadline", context.DeadlineExceeded, Timeout, ""},
		{"net.OpError", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, Network, ""},
		{"dial timeout", &net.OpError{Op: "dial", Net: "tcp", Err: &timeoutErr{}}, Timeout, ""},
		{"url.Error", &url.Error{Op: "Post", URL: "https://x", Err: io.ErrUnexpectedEOF}, Network, ""},
		{"bare errno", fmt.Errorf("write: %w", syscall.EPIPE), Network, ""},
		{"connection ended mid-answer", fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), Network, ""},
		{"closed connection", fmt.Errorf("read: %w", net.ErrClosed), Network, ""},
		{"unknown CA", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, Network, ReasonCertificate},
		{"wrong host name", x509.HostnameError{Certificate: &x509.Certificate{}, Host: "x"}, Network, ReasonCertificate},
		{"not a TLS server", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, Network, ReasonCertificate},
		{"text that mentions EOF", errors.New("unexpected EOF in template"), Internal, ""},
		{"text that mentions a reset", errors.New("connection reset by peer (said the log)"), Internal, ""},
		{"a JSON syntax error", jsonErr, Internal, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Classify("op", tc.err)
			assert.Equal(t, tc.kind, e.Kind, e.Message)
			assert.Equal(t, tc.reason, e.Reason)
			assert.ErrorIs(t, e, tc.err, "the cause is kept")
		})
	}
}

type timeoutErr struct{}

func (*timeoutErr) Error() string   { return "i/o timeout" }
func (*timeoutErr) Timeout() bool   { return true }
func (*timeoutErr) Temporary() bool { return true }

// The fields that say what is safe next are the error JSON's.
func TestWhatIsSafeNextInJSON(t *testing.T) {
	ms := int64(1500)
	e := New(Timeout, "x", "no answer")
	e.Retryable, e.Outcome, e.IdempotencyKey, e.RetryAfterMS, e.ObjectID = true, OutcomeUnknown, "k", &ms, "STX_1"
	b, _ := json.Marshal(e)
	assert.JSONEq(t, `{"type":"timeout","op":"x","message":"no answer","retryable":true,"outcome":"unknown",
		"idempotency_key":"k","retry_after_ms":1500,"object_id":"STX_1"}`, string(b))
	d, ok := e.RetryAfter()
	assert.True(t, ok)
	assert.Equal(t, int64(1500), d.Milliseconds())

	b, _ = json.Marshal(New(InvalidArgument, "", "bad"))
	assert.JSONEq(t, `{"type":"invalid_argument","message":"bad","retryable":false}`, string(b), "retryable is always there, the rest only when known")
}

// A field is what the host wrote, passed through the redactor: a card number
// used as a key does not come back in clear.
func TestInvalidRedactsTheField(t *testing.T) {
	e := Invalid("4111111111111111", "is not a known key")
	assert.NotContains(t, e.Field, "4111111111111111")
	assert.NotContains(t, e.Message, "4111111111111111")
}
