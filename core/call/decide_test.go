package call

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
)

// The faults of the decision table.
const (
	faultBeforeWrite = "network before write"
	faultAfterWrite  = "network after write"
	fault5xx         = "5xx"
	fault429Short    = "429 short Retry-After"
	fault429Long     = "429 long Retry-After"
	faultTLS         = "TLS failure"
	faultTimeout     = "timeout"
)

var faults = []string{faultBeforeWrite, faultAfterWrite, fault5xx, fault429Short, fault429Long, faultTLS, faultTimeout}

// A method of the table: a request and what the payment-safety rules say
// about it, written down here independently of Resolve and Decide.
type method struct {
	name string
	req  api.Request
	// safe: repeating it cannot act twice even if the first one arrived,
	// given the key (when sent) - reads, PUT/DELETE of an object, and keyed
	// writes other than a payment start.
	safeWithKey, safeWithoutKey bool
	mutating                    bool
}

var methods = []method{
	{"get", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, true, true, false},
	{"list", api.Request{Resource: "smart.idents", Op: api.List}, true, true, false},
	{"create", api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)}, true, false, true},
	{"update", api.Request{Resource: "smart.transactions", Op: api.Update, ID: "STX_1", Data: []byte(`{}`)}, true, true, true},
	{"delete", api.Request{Resource: "general.stores", Op: api.Delete, ID: "STO_1"}, true, true, true},
	{"execute", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "cancel"}, true, false, true},
	{"payment start", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"}, false, false, true},
}

// outcomeFor builds the outcome the transport reports for a fault, through
// the transport-side code paths that exist without a network: call.Decode
// for answers, HTTPError / errs.Classify for failures.
func outcomeFor(t *testing.T, transport, fault string, p *Plan) Outcome {
	t.Helper()
	live := context.Background()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	t.Cleanup(cancel)
	reset := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	badCert := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	envelope := func(exc string) []byte {
		return []byte(`{"status":"error","error":"` + exc + `","error_details":"injected","code":"5001","supportId":"abc"}`)
	}
	var o Outcome
	switch transport {
	case "rest", "token":
		httpErr := func(ctx context.Context, err error) *errs.Error {
			return HTTPError(ctx, p.Name, &url.Error{Op: "Post", URL: "https://example/x", Err: err})
		}
		switch fault {
		case faultBeforeWrite:
			o = Outcome{Err: httpErr(live, refused)}
		case faultAfterWrite:
			o = Outcome{Written: true, Err: httpErr(live, reset)}
		case fault5xx:
			o = Decode(p, Reply{Status: 503, Body: envelope("ProductInternalException")}, "")
		case fault429Short:
			o = Decode(p, Reply{Status: 429, Body: envelope("ProductTooManyRequestsException")}, "")
			o.RetryAfter, o.HasRetryAfter = time.Second, true
		case fault429Long:
			o = Decode(p, Reply{Status: 429, Body: envelope("ProductTooManyRequestsException")}, "")
			o.RetryAfter, o.HasRetryAfter = time.Hour, true
		case faultTLS:
			o = Outcome{Err: httpErr(live, badCert)}
		case faultTimeout:
			o = Outcome{Written: true, Err: httpErr(expired, context.DeadlineExceeded)}
		}
	case "stomp":
		switch fault {
		case faultBeforeWrite:
			o = Outcome{Err: errs.New(errs.Network, p.Name, "the STOMP connection ended before the request was sent")}
		case faultAfterWrite:
			o = Outcome{Written: true, Err: errs.New(errs.Network, p.Name, "the STOMP connection dropped before the answer arrived")}
		case fault5xx:
			o = Decode(p, Reply{Framed: true, Body: envelope("ProductInternalException")}, "tok")
		case fault429Short, fault429Long:
			// STOMP answers carry no Retry-After: both are a bare 429.
			o = Decode(p, Reply{Framed: true, Body: envelope("ProductTooManyRequestsException")}, "tok")
		case faultTLS:
			o = Outcome{Err: errs.Classify("stomp.connect", badCert)}
		case faultTimeout:
			o = Outcome{Written: true, Err: errs.New(errs.Timeout, p.Name, "no answer before the deadline")}
		}
	}
	require.NotEqual(t, Success, o.Answer)
	require.NotNil(t, o.Err)
	return o
}

// TestDecisionTable runs every transport × fault × method × idempotency
// through Resolve, the transports' outcome mapping, Decide and Finish, and
// checks what a till would act on: whether the library repeats, retryable,
// outcome and idempotency_key.
func TestDecisionTable(t *testing.T) {
	policy := Policy{MaxAttempts: 3, Backoff: retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond}, MaxWait: 30 * time.Second}
	for _, transport := range []string{"rest", "stomp", "token"} {
		for _, fault := range faults {
			for _, m := range methods {
				for _, idem := range []bool{true, false} {
					if transport == "token" && (m.name != "get" || !idem) {
						continue // a token request is one non-mutating POST
					}
					name := fmt.Sprintf("%s/%s/%s/idempotency=%v", transport, fault, m.name, idem)
					t.Run(name, func(t *testing.T) {
						s := Settings{Idempotency: idem, Policy: policy, NewKey: func() string { return "key-1" }}
						var p *Plan
						if transport == "token" {
							p = &Plan{Name: "oauth.token", Policy: policy} // what auth.Manager.post builds
						} else {
							var err error
							req := m.req
							p, err = s.Resolve(&req)
							require.NoError(t, err)
						}
						p.Deadline = time.Now().Add(time.Minute)
						if fault == faultTimeout {
							p.Deadline = time.Now().Add(-time.Second)
						}
						o := outcomeFor(t, transport, fault, p)
						d := Decide(p, o, 1)
						e := Finish(p, o, d)

						mutating := m.mutating && transport != "token"
						safe := m.safeWithoutKey || (idem && m.safeWithKey)
						if transport == "token" {
							safe = true
						}
						var wantRepeat, wantRetryable bool
						var wantOutcome string
						switch fault {
						case faultTLS:
							wantOutcome = errs.OutcomeNotSent
						case faultBeforeWrite:
							wantRepeat, wantRetryable, wantOutcome = true, true, errs.OutcomeNotSent
						case faultAfterWrite, fault5xx:
							wantRepeat, wantRetryable, wantOutcome = safe, safe, errs.OutcomeUnknown
						case faultTimeout:
							wantRetryable, wantOutcome = safe, errs.OutcomeUnknown
						case fault429Short:
							wantRepeat, wantRetryable, wantOutcome = true, true, errs.OutcomeRejected
						case fault429Long:
							// Over HTTP the wait is longer than the library's
							// own; STOMP has no Retry-After to wait for.
							wantRepeat, wantRetryable, wantOutcome = transport == "stomp", true, errs.OutcomeRejected
						}
						assert.Equal(t, wantRepeat, d.Repeat, "repeat: %s", d.Reason)
						assert.Equal(t, wantRetryable, e.Retryable, "retryable: %s", d.Reason)
						assert.Equal(t, wantOutcome, e.Outcome, "outcome")
						if mutating && idem {
							assert.Equal(t, "key-1", e.IdempotencyKey, "every error of a mutating call carries the key it was sent with")
						} else {
							assert.Empty(t, e.IdempotencyKey)
						}
						if fault == faultTLS {
							assert.Contains(t, d.Reason, "certificate")
							assert.Equal(t, errs.ReasonCertificate, e.Reason)
						}
						if o.HasRetryAfter {
							require.NotNil(t, e.RetryAfterMS, "retry_after_ms whenever the server sent it")
							assert.Equal(t, o.RetryAfter.Milliseconds(), *e.RetryAfterMS)
						} else {
							assert.Nil(t, e.RetryAfterMS)
						}
						if d.Repeat && o.HasRetryAfter {
							assert.GreaterOrEqual(t, d.Delay, o.RetryAfter, "Retry-After is honoured")
						}
						assert.NotEmpty(t, d.Reason)
					})
				}
			}
		}
	}
}

// A plan's last attempt is never repeated, but retryable still tells the host.
func TestDecideAttemptsAndDeadline(t *testing.T) {
	p := &Plan{Name: "smart.idents.list", Policy: Policy{MaxAttempts: 2, Backoff: retry.Backoff{Initial: 50 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.000001}, MaxWait: time.Second}}
	o := Outcome{Written: true, Err: errs.New(errs.Network, "x", "reset")}

	d := Decide(p, o, 2)
	assert.False(t, d.Repeat)
	assert.True(t, d.Retryable)
	assert.Contains(t, d.Reason, "2 of 2")

	p.Deadline = time.Now().Add(10 * time.Millisecond)
	d = Decide(p, o, 1)
	assert.False(t, d.Repeat, "a wait past the deadline is not started")
	assert.True(t, d.Retryable)
	assert.Contains(t, d.Reason, "deadline")

	p.Deadline = time.Now().Add(time.Minute)
	d = Decide(p, o, 1)
	assert.True(t, d.Repeat)

	canceled := o
	canceled.Err = errs.New(errs.Canceled, "x", "canceled")
	d = Decide(p, canceled, 1)
	assert.False(t, d.Repeat, "a canceled call is not repeated")

	o.Exhausted = true
	d = Decide(p, o, 1)
	assert.False(t, d.Repeat, "a token failure already used its attempts")
	assert.True(t, d.Retryable)
}

// Errors that a repeat cannot change are never retryable, whatever the
// transport reported.
func TestDecideKindsThatNeverChange(t *testing.T) {
	p := &Plan{Name: "x", Policy: Policy{MaxAttempts: 3}}
	for _, k := range []errs.Kind{errs.InvalidArgument, errs.Auth, errs.Closed, errs.Internal, errs.Storage, errs.Declined} {
		d := Decide(p, Outcome{Err: errs.New(k, "x", "no")}, 1)
		assert.False(t, d.Retryable, string(k))
		assert.False(t, d.Repeat, string(k))
		assert.Equal(t, errs.OutcomeNotSent, d.Outcome)
	}
	// 501 and 505 do not change on repeat and mean the server did nothing.
	for _, st := range []int{501, 505, 400, 404, 409} {
		o := Decode(&Plan{Name: "x", Request: &api.Request{Op: api.Get}}, Reply{Status: st}, "")
		d := Decide(p, o, 1)
		assert.False(t, d.Retryable, "HTTP %d", st)
		assert.Equal(t, errs.OutcomeRejected, d.Outcome, "HTTP %d", st)
	}
}

// Finish is the one place that sets retryable; it copies the error, so an
// error shared by several callers (a token flight) is never mutated.
func TestFinishCopies(t *testing.T) {
	shared := errs.New(errs.Network, "oauth.token", "reset")
	p := &Plan{Name: "smart.transactions.create", Safety: Safety{Mutating: true, Key: "k", KeyDedupes: true}}
	o := Outcome{Written: true, Err: shared}
	e := Finish(p, o, Decide(p, o, 1))
	assert.True(t, e.Retryable)
	assert.Equal(t, "k", e.IdempotencyKey)
	assert.Contains(t, e.Message, "same idempotency_key")
	assert.False(t, shared.Retryable)
	assert.Empty(t, shared.Outcome)

	p.Safety.KeyDedupes = false
	e = Finish(p, o, Decide(p, o, 1))
	assert.False(t, e.Retryable)
	assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
	assert.Contains(t, e.Message, "look it up before repeating")
}

func TestUnsentKeepsAFinishedError(t *testing.T) {
	e := Unsent("x", errs.Invalid("resource", "is required"))
	assert.Equal(t, errs.OutcomeNotSent, e.Outcome)
	assert.False(t, e.Retryable)
	again := Unsent("y", e)
	assert.Same(t, e, again)

	n := Unsent("open", errs.New(errs.Network, "stomp.connect", "connection refused"))
	assert.True(t, n.Retryable, "nothing was sent: trying again is safe")
	assert.Equal(t, errs.OutcomeNotSent, n.Outcome)
}

// A provider's temporary decline and a confirmed reversal are safe to try
// again (nothing stands), but the pipeline leaves that decision to the host:
// a till asks the cashier before charging a card again.
func TestDecideDeclinedForNowAndReversed(t *testing.T) {
	p := &Plan{Name: "cardpointe.auth", Safety: Safety{Mutating: true}, Policy: Policy{MaxAttempts: 3}}
	for _, c := range []struct {
		answer  Answer
		kind    errs.Kind
		outcome string
	}{
		{DeclinedForNow, errs.Declined, errs.OutcomeRejected},
		{Reversed, errs.Timeout, errs.OutcomeVoided},
	} {
		o := Outcome{Answer: c.answer, Written: true, Err: errs.New(c.kind, "cardpointe.auth", "no")}
		d := Decide(p, o, 1)
		assert.True(t, d.Retryable, "%s", c.answer)
		assert.False(t, d.Repeat, "%s: never repeated by the pipeline", c.answer)
		assert.Equal(t, c.outcome, d.Outcome, "%s", c.answer)
		assert.Contains(t, d.Reason, "host's decision")
		e := Finish(p, o, d)
		assert.True(t, e.Retryable)
		assert.Equal(t, c.outcome, e.Outcome)
	}
	// A final decline stays final.
	o := Outcome{Answer: Refused, Written: true, Err: errs.New(errs.Declined, "cardpointe.auth", "Do not honor")}
	d := Decide(p, o, 1)
	assert.False(t, d.Retryable)
	assert.Equal(t, errs.OutcomeRejected, d.Outcome)
}
