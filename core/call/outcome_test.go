package call

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
)

// The outcome is the call's, not its last attempt's: an attempt that may
// have run on the server is not undone by what a later repeat met. Found
// by the fault matrix (make faults): a create whose answer was lost and
// whose repeat met a long 429 said "rejected", one whose repeats met a
// dead server said "not_sent", and a request whose 401 was followed by a
// failed token refresh said "not_sent": the host would believe nothing
// ran and might start over with a new key.
func TestOutcomeCoversEveryAttempt(t *testing.T) {
	create := &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)}
	get := &api.Request{Resource: "smart.idents", Op: api.List}
	lost := Outcome{Written: true, Err: errs.New(errs.Network, "x", "connection reset after the request was sent")}
	unsent := Outcome{Err: errs.New(errs.Network, "x", "connection refused")}
	limited := Decode(&Plan{Name: "x", Request: create}, Reply{Status: 429}, "")
	limited.RetryAfter, limited.HasRetryAfter = 2*time.Minute, true
	refused := Decode(&Plan{Name: "x", Request: get}, Reply{Status: 401}, "old")
	noToken := Outcome{Err: errs.AuthError("oauth.token", errs.ReasonNotAuthorized, "call Open first"), Exhausted: true}

	cases := []struct {
		name      string
		req       *api.Request
		attempts  []Outcome
		outcome   string
		retryable bool
	}{
		{"lost, then a long 429", create, []Outcome{lost, limited}, errs.OutcomeUnknown, true},
		{"lost, then nothing reaches the server", create, []Outcome{lost, unsent, unsent}, errs.OutcomeUnknown, true},
		{"a 401, then no token for the replay", get, []Outcome{refused, noToken}, errs.OutcomeRejected, false},
		{"never sent at all", create, []Outcome{unsent, unsent, unsent}, errs.OutcomeNotSent, true},
		{"a long 429 alone", create, []Outcome{limited}, errs.OutcomeRejected, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := testCaller().Do(context.Background(), tc.req, &script{outcomes: tc.attempts})
			e := asErr(t, err)
			assert.Equal(t, tc.outcome, e.Outcome, e.Error())
			assert.Equal(t, tc.retryable, e.Retryable, e.Error())
		})
	}
}
