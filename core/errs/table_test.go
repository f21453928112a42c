package errs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kinds are the "type" of the error JSON: an ABI. Renaming one breaks
// every host that switches on it.
func TestKindsAreTheWireTypes(t *testing.T) {
	for kind, wire := range map[Kind]string{
		InvalidArgument: "invalid_argument", Auth: "auth", API: "api", Declined: "declined", Network: "network",
		Timeout: "timeout", Canceled: "canceled", Closed: "closed", Storage: "storage", Internal: "internal",
	} {
		b, err := json.Marshal(&Error{Kind: kind})
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		assert.Equal(t, wire, m["type"])
	}
	for outcome, wire := range map[string]string{OutcomeNotSent: "not_sent", OutcomeRejected: "rejected", OutcomeUnknown: "unknown"} {
		assert.Equal(t, wire, outcome)
	}
}

func TestErrorRendering(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{"kind only", &Error{Kind: Internal}, "internal"},
		{"op and message", &Error{Kind: Network, Op: "smart.transactions.get", Message: "connection reset"},
			"smart.transactions.get: network: connection reset"},
		{"reason", &Error{Kind: Auth, Op: "oauth.token", Reason: ReasonDenied, Message: "refused"},
			"oauth.token: auth (denied): refused"},
		{"field not in the message", &Error{Kind: InvalidArgument, Message: "must be positive", Field: "timeouts.connect_ms"},
			"invalid_argument: must be positive [field timeouts.connect_ms]"},
		{"field already in the message", &Error{Kind: InvalidArgument, Message: "stomp.port: must be 1..65535", Field: "stomp.port"},
			"invalid_argument: stomp.port: must be 1..65535"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.err.Error())
		})
	}
}

// Error() passes the redactor even for an error built by hand, bypassing
// New: what is masked is the redactor's business, that it is masked here.
func TestErrorRenderingIsRedacted(t *testing.T) {
	for secret, err := range map[string]*Error{
		"abc.def.ghi":      {Kind: API, Message: "Authorization: Bearer abc.def.ghi"},
		"4111111111111111": {Kind: Declined, Message: "card 4111111111111111 declined"},
		"5555555555554444": {Kind: InvalidArgument, Message: "bad", Field: "5555555555554444"},
	} {
		assert.NotContains(t, err.Error(), secret)
	}
	// New and Invalid redact the message they build.
	assert.NotContains(t, New(API, "op", "client_secret=%s", "s3cr3t-value").Message, "s3cr3t-value")
	assert.NotContains(t, Invalid("card", "got %s", "4000056655665556").Message, "4000056655665556")
}

func TestConstructors(t *testing.T) {
	cause := errors.New("the cause")
	cases := []struct {
		name                       string
		err                        *Error
		kind                       Kind
		op, message, field, reason string
		unwraps                    error
	}{
		{"New formats", New(Timeout, "op", "no answer after %d ms", 1500), Timeout, "op", "no answer after 1500 ms", "", "", nil},
		{"Wrap keeps the cause", Wrap(Storage, "store", cause, "cannot write"), Storage, "store", "cannot write", "", "", cause},
		{"Invalid names the field", Invalid("retry.max_attempts", "must be at most %d", 10), InvalidArgument, "",
			"retry.max_attempts: must be at most 10", "retry.max_attempts", "", nil},
		{"Invalid without a field", Invalid("", "is empty"), InvalidArgument, "", "is empty", "", "", nil},
		{"AuthError has its reason", AuthError("open", ReasonCanceled, "the host canceled"), Auth, "open",
			"the host canceled", "", ReasonCanceled, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.kind, tc.err.Kind)
			assert.Equal(t, tc.op, tc.err.Op)
			assert.Equal(t, tc.message, tc.err.Message)
			assert.Equal(t, tc.field, tc.err.Field)
			assert.Equal(t, tc.reason, tc.err.Reason)
			assert.Equal(t, tc.unwraps, tc.err.Unwrap())
			assert.False(t, tc.err.Retryable, "only the call pipeline says a call may be repeated")
			assert.Empty(t, tc.err.Outcome, "only the call pipeline says what a call did")
		})
	}
}

// errors.Is matches by kind, by reason, or both, through wrapping; a
// target without either matches nothing.
func TestIsMatchesKindAndReason(t *testing.T) {
	denied := AuthError("oauth.token", ReasonDenied, "refused")
	wrapped := fmt.Errorf("open: %w", denied)
	cases := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"same kind", denied, &Error{Kind: Auth}, true},
		{"same reason", denied, &Error{Reason: ReasonDenied}, true},
		{"kind and reason", denied, &Error{Kind: Auth, Reason: ReasonDenied}, true},
		{"other kind", denied, &Error{Kind: Network}, false},
		{"other reason", denied, &Error{Kind: Auth, Reason: ReasonExpired}, false},
		{"through wrapping", wrapped, &Error{Kind: Auth, Reason: ReasonDenied}, true},
		{"an empty target matches nothing", denied, &Error{}, false},
		{"a foreign target", denied, context.Canceled, false},
		{"the cause of a wrap", Wrap(Canceled, "op", context.Canceled, "canceled"), context.Canceled, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, errors.Is(tc.err, tc.target))
		})
	}
}

func TestKindOfAndAs(t *testing.T) {
	timeout := New(Timeout, "op", "late")
	cases := []struct {
		name string
		err  error
		kind Kind
		same *Error // As returns this very error
	}{
		{"nil", nil, "", nil},
		{"an *Error", timeout, Timeout, timeout},
		{"a wrapped *Error", fmt.Errorf("call: %w", timeout), Timeout, timeout},
		{"canceled", context.Canceled, Canceled, nil},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), Timeout, nil},
		{"a refused connection", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, Network, nil},
		{"a DNS failure", &net.DNSError{Err: "no such host", Name: "connect.example"}, Network, nil},
		{"anything else", errors.New("boom"), Internal, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := As(tc.err)
			if tc.err == nil {
				assert.Nil(t, e)
				assert.Equal(t, Kind(""), KindOf(nil))
				return
			}
			require.NotNil(t, e, "As never returns nil for an error")
			assert.Equal(t, tc.kind, e.Kind)
			if tc.same != nil {
				assert.Same(t, tc.same, e)
				assert.Equal(t, tc.kind, KindOf(tc.err))
			} else {
				assert.ErrorIs(t, e, tc.err, "the foreign error stays the cause")
				assert.Equal(t, Internal, KindOf(tc.err), "KindOf does not classify foreign errors")
			}
		})
	}
}

func TestClassifyKeepsAnErrorAndTellsTimeouts(t *testing.T) {
	own := AuthError("op", ReasonDenied, "no")
	assert.Same(t, own, Classify("other", fmt.Errorf("wrapped: %w", own)), "an *Error is never reclassified")

	e := Classify("op", &net.OpError{Op: "read", Net: "tcp", Err: &timeoutErr{}})
	assert.Equal(t, Timeout, e.Kind)
	assert.Equal(t, "op", e.Op)
}

func TestIsCertificate(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"unknown authority", x509.UnknownAuthorityError{}, true},
		{"verification, wrapped", fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"expired", x509.CertificateInvalidError{Reason: x509.Expired}, true},
		{"a TLS alert", tls.AlertError(42), true},
		{"not TLS at all", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true},
		{"an *Error that says so", &Error{Kind: Network, Reason: ReasonCertificate}, true},
		{"another *Error", &Error{Kind: Network}, false},
		{"a reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, IsCertificate(tc.err))
		})
	}
}

func TestRetryAfter(t *testing.T) {
	ms := int64(2500)
	cases := []struct {
		name string
		err  *Error
		want time.Duration
		ok   bool
	}{
		{"nil error", nil, 0, false},
		{"none sent", &Error{Kind: API}, 0, false},
		{"sent", &Error{Kind: API, RetryAfterMS: &ms}, 2500 * time.Millisecond, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := tc.err.RetryAfter()
			assert.Equal(t, tc.want, d)
			assert.Equal(t, tc.ok, ok)
		})
	}
}
