package cardpointe_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
	sbcp "github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

const (
	authPath    = "/cardconnect/rest/auth"
	inquiryPath = "/cardconnect/rest/inquireByOrderid"
)

func sale(orderid string) map[string]any {
	return map[string]any{"account": visa, "expiry": "1230", "amount": 1234, "capture": true, "orderid": orderid}
}

// sawPath counts the requests the sandbox saw on a path prefix.
func (e *env) sawPath(prefix string) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if strings.HasPrefix(r.Path, prefix) {
			n++
		}
	}
	return n
}

// auths are the auth requests the sandbox saw, oldest first.
func (e *env) auths() []sandbox.RequestRecord {
	var out []sandbox.RequestRecord
	for _, r := range e.srv.Requests() {
		if r.Path == authPath {
			out = append(out, r)
		}
	}
	return out
}

// finalApprovals waits until the sandbox has finished every auth it
// received - a held one takes effect after the client gave up on it - and
// then counts the approvals that stand under orderid: what the Gateway
// charged in the end for one logical auth.
func (e *env) finalApprovals(orderid string) int {
	e.t.Helper()
	testkit.WaitFor(e.t, 10*time.Second, "the sandbox to finish every auth", func() bool {
		for _, r := range e.auths() {
			done := r.Status != 0 || strings.HasSuffix(r.Fault, " lost)") || strings.Contains(r.Fault, "aborted") ||
				strings.Contains(r.Fault, "drop "+sandbox.DropBeforeRead) || strings.Contains(r.Fault, "drop "+sandbox.DropAfterRead)
			if !done {
				return false
			}
		}
		return true
	})
	return e.approvals(orderid)
}

// lateFirstAuth runs an auth whose first attempt the sandbox holds past the
// client's deadline and past the client's (tiny) Gateway answer window, so
// the inquiry proves it absent and the auth is sent again; the first one
// runs only once the resend reached the sandbox (held too, then answered as
// repeat says: zero, as normal). The order comes from what the test sees.
func (e *env) lateFirstAuth(orderid string, repeat sandbox.Fault) (map[string]any, *errs.Error) {
	e.t.Helper()
	first, second := make(chan struct{}), make(chan struct{})
	repeat.Path, repeat.Hold = authPath, second
	e.fault(sandbox.Fault{Path: authPath, Hold: first})
	e.fault(repeat)
	type result struct {
		a   map[string]any
		err *errs.Error
	}
	done := make(chan result, 1)
	go func() {
		a, err := e.call("auth", sale(orderid), "timeout_ms", 3000)
		done <- result{a, err}
	}()
	testkit.WaitFor(e.t, 20*time.Second, "the resend to reach the sandbox", func() bool { return len(e.auths()) == 2 })
	close(first)
	testkit.WaitFor(e.t, 10*time.Second, "the first auth to run", func() bool { return e.auths()[0].Status == 200 })
	close(second)
	r := <-done
	return r.a, r.err
}

// window sets the Gateway's answer window of the client (spec §3: 32 s;
// short here, as the sandbox's Gateway answers at once) and the recovery
// budget.
func window(gatewayMS, recoveryMS int) map[string]any {
	t := map[string]any{"gateway_ms": gatewayMS}
	if recoveryMS > 0 {
		t["recovery_ms"] = recoveryMS
	}
	return map[string]any{"timeouts": t}
}

// The recovery of a lost auth answer (spec §3 "Handling Timed-out
// Transactions"): whatever is lost, one logical auth ends with at most one
// approval standing at the Gateway, and the error says what the host may do.
func TestLostAuthAnswer(t *testing.T) {
	// The repro: the auth is held before the Gateway records it, the
	// client gives up, the inquiry answers 29 while the Gateway still works
	// on it. Sending it again then made two approvals once the held one
	// ran. A 29 proves nothing until the Gateway's answer window has passed.
	t.Run("auth held past the deadline: 29 is no proof inside the Gateway's window; the second inquiry finds it", func(t *testing.T) {
		e := start(t, setup{section: window(5000, 0)})
		e.fault(sandbox.Fault{Path: authPath, DelayMS: 2500})
		a, err := e.call("auth", sale("HELD-1"), "timeout_ms", 300)
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"], "the held auth's record is the answer")
		assert.Equal(t, "HELD-1", a["orderid"])
		assert.Len(t, e.auths(), 1, "never sent again")
		assert.Equal(t, 2, e.sawPath(inquiryPath+"/HELD-1/"), "29 inside the window, then found after it")
		assert.Equal(t, 1, e.finalApprovals("HELD-1"), "one approval for one logical auth")
	})

	t.Run("connection dropped before the request was read: 29 after the window, one resend, one approval", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropBeforeRead})
		a, err := e.call("auth", sale("DROP-1"))
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, false, a["recovered"], "the answer of the resend")
		auths := e.auths()
		require.Len(t, auths, 2, "the dropped auth, then the one resend")
		assert.Equal(t, "drop before_read", auths[0].Fault)
		assert.Equal(t, 200, auths[1].Status)
		assert.GreaterOrEqual(t, e.sawPath(inquiryPath+"/DROP-1/"), 1, "the resend confirmed by an inquiry")
		assert.Equal(t, 1, e.finalApprovals("DROP-1"))
	})

	for _, tc := range []struct {
		name     string
		section  map[string]any
		deadline time.Duration // of the host's context; 0: none
	}{
		{"the recovery budget", window(30_000, 1000), 0},
		{"the host's deadline", window(30_000, 0), 3 * time.Second},
	} {
		t.Run(tc.name+" ends inside the Gateway's window: unknown, not sent again", func(t *testing.T) {
			e := start(t, setup{section: tc.section})
			e.fault(sandbox.Fault{Path: authPath, DelayMS: 2000})
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			began := time.Now()
			_, err := e.callCtx(ctx, "auth", sale("SHORT-1"), "timeout_ms", 200)
			require.NotNil(t, err)
			assert.Less(t, time.Since(began), 10*time.Second, "it did not wait for the 30 s window")
			assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
			assert.False(t, err.Retryable, "the held auth may still be approved: never retryable")
			assert.Equal(t, "SHORT-1", err.OrderID)
			assert.Contains(t, err.Message, "may still be working on it")
			assert.Contains(t, err.Message, "gateway_ms")
			assert.Len(t, e.auths(), 1, "never sent again")
			// Why the host must look it up: the held auth was approved.
			assert.Equal(t, 1, e.finalApprovals("SHORT-1"))
		})
	}

	// A Gateway later than its own window (the sandbox holds the first
	// auth until the test lets it run): the first auth takes effect after
	// the inquiry proved it absent and the resend was answered. The check
	// after the resend finds it.
	t.Run("a first auth later than the window beside an approved resend: the resend is voided by retref", func(t *testing.T) {
		e := start(t, setup{section: window(1, 0)})
		a, err := e.lateFirstAuth("LATE-1", sandbox.Fault{})
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"])
		recs := e.records("LATE-1")
		require.Len(t, recs, 2)
		var standing, voided []string
		for _, rec := range recs {
			if rec["setlstat"] == "Voided" {
				voided = append(voided, rec["retref"].(string))
			} else {
				standing = append(standing, rec["retref"].(string))
			}
		}
		require.Len(t, voided, 1)
		require.Len(t, standing, 1)
		assert.Equal(t, voided[0], a["voided_duplicate"], "the result names the voided duplicate")
		assert.Equal(t, standing[0], a["retref"], "the answer is the approval that stands")
		assert.Equal(t, 1, e.sawPath("/cardconnect/rest/void"), "voided by retref: voidByOrderId would void both")
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/voidByOrderId"))
		assert.Equal(t, 1, e.finalApprovals("LATE-1"))
	})

	t.Run("a first auth later than the window beside a declined resend: the first approval is the answer", func(t *testing.T) {
		e := start(t, setup{section: window(1, 0)})
		// The resend is declined (a status fault with the Gateway's decline
		// body: nothing runs).
		decline := sandbox.Fault{Status: 200, Body: json.RawMessage(
			`{"respstat":"C","respcode":"05","resptext":"Do not honor","respproc":"FNOR","retref":"999999999999","orderid":"LATE-2"}`)}
		a, err := e.lateFirstAuth("LATE-2", decline)
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"])
		assert.Nil(t, a["voided_duplicate"])
		assert.Equal(t, 200, e.auths()[0].Status, "the first auth ran")
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/void"))
		assert.Equal(t, 1, e.finalApprovals("LATE-2"))
	})

	t.Run("a 5xx on the auth: the inquiry decides, one approval", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Status: 502})
		a, err := e.call("auth", sale("FIVE-1"))
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, 1, e.finalApprovals("FIVE-1"))
	})

	t.Run("answer lost after the Gateway approved: the inquiry's record is the answer", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute})
		a, err := e.call("auth", map[string]any{"account": partialPAN, "expiry": "1230", "amount": 900, "orderid": "LOST-1"})
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"])
		assert.Equal(t, true, a["partial"], "the recovered record still tells a partial approval")
		assert.Equal(t, int64(500), num(a["amount_minor"]))
		assert.Equal(t, "LOST-1", a["orderid"])
		assert.Len(t, e.auths(), 1, "the auth reached the Gateway once: never sent again")
		assert.Equal(t, 1, e.finalApprovals("LOST-1"))
	})

	t.Run("answer lost and the inquiry unanswered: voided", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute})
		e.fault(sandbox.Fault{Path: inquiryPath, Status: 503, Count: -1})
		_, err := e.call("auth", sale("VOID-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeVoided, err.Outcome)
		assert.True(t, err.Retryable, "nothing stands: a new auth charges at most once")
		assert.Equal(t, "VOID-1", err.OrderID)
		assert.Equal(t, errs.Network, err.Kind, "the original failure: the answer was lost")
		assert.Contains(t, err.Message, "voided")
		e.srv.ClearFaults()
		recs := e.records("VOID-1")
		require.Len(t, recs, 1)
		assert.Equal(t, "Voided", recs[0]["setlstat"])
		assert.Equal(t, 0, e.finalApprovals("VOID-1"))
		assert.Len(t, e.auths(), 1)
	})

	t.Run("inquiry unanswered and nothing to void: unknown, not retryable", func(t *testing.T) {
		e := start(t, setup{})
		// after_read: the Gateway read the auth (so it was written) and ran
		// nothing.
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterRead})
		e.fault(sandbox.Fault{Path: inquiryPath, Status: 503, Count: -1})
		_, err := e.call("auth", sale("GONE-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Equal(t, "GONE-1", err.OrderID)
		assert.Contains(t, err.Message, "GONE-1")
		e.srv.ClearFaults()
		assert.Equal(t, 0, e.finalApprovals("GONE-1"))
		assert.Len(t, e.auths(), 1, "never sent blindly again")
	})

	t.Run("void unanswered three times: unknown", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute})
		e.fault(sandbox.Fault{Path: inquiryPath, Status: 503, Count: -1})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/voidByOrderId", Status: 503, Count: -1})
		_, err := e.call("auth", sale("STUCK-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Equal(t, 3, e.sawPath("/cardconnect/rest/voidByOrderId"), "voidByOrderId three times (spec §2.4)")
		e.srv.ClearFaults()
		assert.Equal(t, 1, e.finalApprovals("STUCK-1"), "the approval stands: the host must look it up")
	})

	t.Run("timed out at the processor: the inquiry finds the temporary decline", func(t *testing.T) {
		e := start(t, setup{sandbox: sandbox.Options{CardPointe: sbcp.Options{TimeoutDelay: time.Hour}}})
		_, err := e.call("auth", map[string]any{"account": timeoutPAN, "expiry": "1230", "amount": 100, "orderid": "SLOW-1"}, "timeout_ms", 500)
		require.NotNil(t, err)
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, "62", err.RespCode)
		assert.True(t, err.Retryable)
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)
		assert.Contains(t, err.Message, "recovered with inquireByOrderid")
		assert.Len(t, e.auths(), 1)
	})

	t.Run("several approvals under the orderid: unknown, none voided", func(t *testing.T) {
		e := start(t, setup{})
		e.ok("auth", sale("TWICE-1"))
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute})
		_, err := e.call("auth", sale("TWICE-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Contains(t, err.Message, "2 approved transactions")
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/voidByOrderId"))
	})

	// Merchants reuse an orderid to retry a decline (spec §8). The repro:
	// the retry's answer is lost and the inquiry finds the earlier decline
	// while the retry is still held at the Gateway. Reporting that decline
	// told the till "declined" while the retry was approved - and the till
	// charged another card.
	t.Run("an earlier decline under the host's orderid proves nothing inside the window: the held retry's approval is the answer", func(t *testing.T) {
		e := start(t, setup{section: window(5000, 0)})
		_, err := e.call("auth", map[string]any{"account": doNotHonor, "expiry": "1230", "amount": 1234, "orderid": "RETRY-1"})
		require.NotNil(t, err)
		require.Equal(t, errs.Declined, err.Kind)
		held := make(chan struct{})
		e.fault(sandbox.Fault{Path: authPath, Hold: held})
		type result struct {
			a   map[string]any
			err *errs.Error
		}
		done := make(chan result, 1)
		go func() {
			a, err := e.call("auth", sale("RETRY-1"), "timeout_ms", 200)
			done <- result{a, err}
		}()
		testkit.WaitFor(t, 20*time.Second, "the client to look the retry up", func() bool { return e.sawPath(inquiryPath+"/RETRY-1/") >= 1 })
		close(held)
		testkit.WaitFor(t, 10*time.Second, "the held retry to run", func() bool {
			a := e.auths()
			return len(a) == 2 && a[1].Status == 200
		})
		r := <-done
		require.Nil(t, r.err, "%v", r.err)
		assert.Equal(t, "A", r.a["respstat"])
		assert.Equal(t, true, r.a["recovered"])
		assert.Len(t, e.auths(), 2, "the retry was never sent again")
		assert.Equal(t, 1, e.finalApprovals("RETRY-1"))
	})

	t.Run("an earlier decline under the host's orderid and a retry that never ran: after the window the decline stands, nothing charged", func(t *testing.T) {
		e := start(t, setup{section: window(3000, 0)})
		_, err := e.call("auth", map[string]any{"account": doNotHonor, "expiry": "1230", "amount": 1234, "orderid": "RETRY-2"})
		require.NotNil(t, err)
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterRead})
		_, err = e.call("auth", sale("RETRY-2"))
		require.NotNil(t, err)
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)
		assert.Equal(t, 2, e.sawPath(inquiryPath+"/RETRY-2/"), "found inside the window, looked up again after it")
		assert.Len(t, e.auths(), 2, "never sent again")
		assert.Equal(t, 0, e.finalApprovals("RETRY-2"))
	})

	t.Run("two earlier declines under the host's orderid and a retry that never ran: unknown, nothing voided", func(t *testing.T) {
		e := start(t, setup{})
		for range 2 {
			_, err := e.call("auth", map[string]any{"account": doNotHonor, "expiry": "1230", "amount": 1234, "orderid": "RETRY-3"})
			require.NotNil(t, err)
		}
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterRead})
		_, err := e.call("auth", sale("RETRY-3"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Contains(t, err.Message, "2 declined transactions and no approval")
		assert.Len(t, e.auths(), 3, "never sent again")
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/voidByOrderId"))
		assert.Equal(t, 0, e.finalApprovals("RETRY-3"))
	})

	t.Run("under an orderid the library made, a found decline is the answer at once", func(t *testing.T) {
		e := start(t, setup{section: window(30_000, 0)})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropAfterExecute})
		began := time.Now()
		_, err := e.call("auth", map[string]any{"account": doNotHonor, "expiry": "1230", "amount": 1234}, "timeout_ms", 200)
		require.NotNil(t, err)
		assert.Less(t, time.Since(began), 20*time.Second, "it did not wait for the 30 s window")
		assert.Equal(t, errs.Declined, err.Kind)
		assert.Equal(t, errs.OutcomeRejected, err.Outcome)
		assert.Contains(t, err.Message, "recovered with inquireByOrderid")
		assert.Equal(t, 1, e.sawPath(inquiryPath))
		assert.Len(t, e.auths(), 1)
	})

	t.Run("a voided earlier attempt under the orderid is not this auth", func(t *testing.T) {
		e := start(t, setup{})
		first := e.ok("auth", sale("AGAIN-1"))
		e.ok("void", map[string]any{"retref": first["retref"]})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropBeforeRead})
		a, err := e.call("auth", sale("AGAIN-1"))
		require.Nil(t, err, "%v", err)
		assert.NotEqual(t, first["retref"], a["retref"])
		assert.Nil(t, a["voided_duplicate"], "the voided earlier auth is not a duplicate of this one")
		assert.Equal(t, 1, e.finalApprovals("AGAIN-1"))
	})

	t.Run("canceled by the host: no recovery, outcome unknown, the orderid to look up", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, DelayMS: 60_000})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan *errs.Error, 1)
		go func() {
			_, err := e.callCtx(ctx, "auth", sale("CANCEL-1"))
			done <- err
		}()
		testkit.WaitFor(t, 10*time.Second, "the sandbox holding the auth", func() bool {
			for _, r := range e.auths() {
				if strings.HasPrefix(r.Fault, "delay") {
					return true
				}
			}
			return false
		})
		cancel()
		err := <-done
		require.NotNil(t, err)
		assert.Equal(t, errs.Canceled, err.Kind)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Equal(t, "CANCEL-1", err.OrderID)
		assert.Equal(t, 0, e.sawPath(inquiryPath))
	})
}
