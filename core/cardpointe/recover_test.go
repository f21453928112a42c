package cardpointe_test

import (
	"context"
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

const authPath = "/cardconnect/rest/auth"

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

// The spec's recovery of a lost auth answer (§3 "Handling Timed-out
// Transactions"): whatever is lost, one logical auth ends with at most one
// approval, and the error says what the host may do.
func TestLostAuthAnswer(t *testing.T) {
	t.Run("answer delayed past the deadline: the inquiry's record is the answer", func(t *testing.T) {
		var hold *loser
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			hold = newLoser(t, srv.URL(), authPath, 1, true)
			return hold.srv.URL + sbcp.GatewayPrefix
		}})
		a, err := e.call("auth", sale("LATE-1"), "timeout_ms", 300)
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"])
		assert.Equal(t, int64(1234), num(a["amount_minor"]))
		assert.EqualValues(t, 1, hold.served.Load(), "sent once")
		assert.Equal(t, 1, e.approvals("LATE-1"))
	})

	// The sandbox's delay fault holds the request before the Gateway records
	// it, so the inquiry answers 29 and the spec's recipe sends the auth
	// again. (Should the held request still execute later - the sandbox
	// does so when the delay elapses - the spec's recipe cannot tell; the
	// Gateway has no idempotency key. The delay here outlasts the test.)
	t.Run("request held past the deadline before the Gateway saw it: inquiry, resend, one approval", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, DelayMS: 60_000})
		a, err := e.call("auth", sale("DELAY-1"), "timeout_ms", 1000)
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, "DELAY-1", a["orderid"])
		assert.Equal(t, 2, e.sawPath(authPath), "the delayed auth, then the one resend")
		assert.GreaterOrEqual(t, e.sawPath("/cardconnect/rest/inquireByOrderid/DELAY-1/"), 1, "looked up before the resend")
		assert.Equal(t, 1, e.approvals("DELAY-1"), "one approval for one logical auth")
	})

	t.Run("connection dropped before the request was read: inquiry says 29, one approval", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropBeforeRead})
		a, err := e.call("auth", sale("DROP-1"))
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, false, a["recovered"], "the answer of the resend")
		assert.Equal(t, 1, e.sawPath("/cardconnect/rest/inquireByOrderid/DROP-1/"))
		assert.Equal(t, 2, e.sawPath(authPath))
		assert.Equal(t, 1, e.approvals("DROP-1"))
	})

	t.Run("a 5xx on the auth: the inquiry decides, one approval", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Status: 502})
		a, err := e.call("auth", sale("FIVE-1"))
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, 1, e.approvals("FIVE-1"))
	})

	t.Run("answer lost after the Gateway approved: the inquiry's record is the answer", func(t *testing.T) {
		var lose *loser
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			lose = newLoser(t, srv.URL(), authPath, 1, false)
			return lose.srv.URL + sbcp.GatewayPrefix
		}})
		a, err := e.call("auth", map[string]any{"account": partialPAN, "expiry": "1230", "amount": 900, "orderid": "LOST-1"})
		require.Nil(t, err, "%v", err)
		assert.Equal(t, "A", a["respstat"])
		assert.Equal(t, true, a["recovered"])
		assert.Equal(t, true, a["partial"], "the recovered record still tells a partial approval")
		assert.Equal(t, int64(500), num(a["amount_minor"]))
		assert.Equal(t, "LOST-1", a["orderid"])
		assert.EqualValues(t, 1, lose.served.Load(), "the auth reached the Gateway once: never sent again")
		assert.Equal(t, 1, e.approvals("LOST-1"))
	})

	t.Run("answer lost and the inquiry unanswered: voided", func(t *testing.T) {
		var lose *loser
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			lose = newLoser(t, srv.URL(), authPath, 1, false)
			return lose.srv.URL + sbcp.GatewayPrefix
		}})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/inquireByOrderid", Status: 503, Count: -1})
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
		assert.Equal(t, 0, e.approvals("VOID-1"))
		assert.EqualValues(t, 1, lose.served.Load())
	})

	t.Run("inquiry unanswered and nothing to void: unknown, not retryable", func(t *testing.T) {
		e := start(t, setup{})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropBeforeRead})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/inquireByOrderid", Status: 503, Count: -1})
		_, err := e.call("auth", sale("GONE-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Equal(t, "GONE-1", err.OrderID)
		assert.Contains(t, err.Message, "GONE-1")
		e.srv.ClearFaults()
		assert.Equal(t, 0, e.approvals("GONE-1"))
		assert.Equal(t, 1, e.sawPath(authPath), "never sent blindly again")
	})

	t.Run("void unanswered three times: unknown", func(t *testing.T) {
		var lose *loser
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			lose = newLoser(t, srv.URL(), authPath, 1, false)
			return lose.srv.URL + sbcp.GatewayPrefix
		}})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/inquireByOrderid", Status: 503, Count: -1})
		e.fault(sandbox.Fault{Path: "/cardconnect/rest/voidByOrderId", Status: 503, Count: -1})
		_, err := e.call("auth", sale("STUCK-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Equal(t, 3, e.sawPath("/cardconnect/rest/voidByOrderId"), "voidByOrderId three times (spec §2.4)")
		e.srv.ClearFaults()
		assert.Equal(t, 1, e.approvals("STUCK-1"), "the approval stands: the host must look it up")
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
		assert.Equal(t, 1, e.sawPath(authPath))
	})

	t.Run("several live transactions under the orderid: unknown, none voided", func(t *testing.T) {
		var lose *loser
		e := start(t, setup{proxy: func(srv *sandbox.Server) string {
			lose = newLoser(t, srv.URL(), authPath, 0, false)
			return lose.srv.URL + sbcp.GatewayPrefix
		}})
		e.ok("auth", sale("TWICE-1"))
		lose.left.Store(1)
		_, err := e.call("auth", sale("TWICE-1"))
		require.NotNil(t, err)
		assert.Equal(t, errs.OutcomeUnknown, err.Outcome)
		assert.False(t, err.Retryable)
		assert.Contains(t, err.Message, "2 live transactions")
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/voidByOrderId"))
	})

	t.Run("a voided earlier attempt under the orderid is not this auth", func(t *testing.T) {
		e := start(t, setup{})
		first := e.ok("auth", sale("AGAIN-1"))
		e.ok("void", map[string]any{"retref": first["retref"]})
		e.fault(sandbox.Fault{Path: authPath, Drop: sandbox.DropBeforeRead})
		a, err := e.call("auth", sale("AGAIN-1"))
		require.Nil(t, err, "%v", err)
		assert.NotEqual(t, first["retref"], a["retref"])
		assert.Equal(t, 1, e.approvals("AGAIN-1"))
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
			for _, r := range e.srv.Requests() {
				if r.Path == authPath && strings.HasPrefix(r.Fault, "delay") {
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
		assert.Equal(t, 0, e.sawPath("/cardconnect/rest/inquireByOrderid"))
	})
}
