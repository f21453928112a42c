package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// countByRef lists the transactions carrying transactionRef ref.
func countByRef(t *testing.T, c *core.Client, ref string) int {
	t.Helper()
	out := call(t, c, `{"resource":"smart.transactions","op":"list","query":{"q":"transactionRef:`+ref+`"}}`)
	var page api.Page
	require.NoError(t, json.Unmarshal(out, &page))
	return page.Count
}

// The repro of issue 9: a create held back longer than the call's timeout
// fails with Timeout. The error says what to do: repeat with its
// idempotency_key (retryable true, outcome unknown). A host that does
// exactly that gets one object, over either channel.
func TestRepeatingATimedOutCreateAsItsErrorSaysMakesOneObject(t *testing.T) {
	for _, channel := range []string{"stomp", "rest"} {
		t.Run(channel, func(t *testing.T) {
			srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1})
			c := newClient(t, srv, `{`+stompCfg+`}`)
			require.NoError(t, c.Open(context.Background()))
			ref := "issue9-" + channel
			srv.AddFault(sandbox.Fault{Channel: channel, Method: "POST", Path: "/smart/transactions", DelayMS: 2500})
			req := `{"resource":"smart.transactions","op":"create","channel":"` + channel + `","timeout_ms":1000,` +
				`"data":{"transactionRef":"` + ref + `","basket_info":{"sum":100,"currency":"EUR"}}}`

			e := callErr(t, c, req)
			assert.Equal(t, errs.Timeout, e.Kind)
			assert.True(t, e.Retryable, "the key makes a repeat safe")
			assert.Equal(t, errs.OutcomeUnknown, e.Outcome, "the server may have acted")
			require.NotEmpty(t, e.IdempotencyKey, "the error carries the key that was sent")
			assert.Contains(t, e.Message, "repeat it only with the same idempotency_key")

			// The host repeats exactly as the error says.
			var r map[string]any
			require.NoError(t, json.Unmarshal([]byte(req), &r))
			r["idempotency_key"] = e.IdempotencyKey
			again, _ := json.Marshal(r)
			out := call(t, c, string(again))
			assert.Contains(t, string(out), ref)

			// Whether the held-back first request ran or was dropped with its
			// connection, there is one object.
			testkit.WaitFor(t, 10*time.Second, "the held-back request to finish", func() bool {
				for _, rec := range srv.Requests() {
					if rec.Fault != "" && rec.Status == 0 && !strings.Contains(rec.Fault, "aborted") {
						return false
					}
				}
				return true
			})
			assert.Equal(t, 1, countByRef(t, c, ref), "one object, not two")
			var keys []string
			for _, rec := range srv.Requests() {
				if strings.Contains(rec.Path, "smart.transactions") || strings.HasSuffix(rec.Path, "/smart/transactions") {
					if rec.XAction != "" {
						keys = append(keys, rec.XAction)
					}
				}
			}
			require.Len(t, keys, 2)
			assert.Equal(t, keys[0], keys[1], "both attempts carried the same X-Action")
		})
	}
}

func createdTx(t *testing.T, c *core.Client) *product.SmartTransaction {
	t.Helper()
	var tx product.SmartTransaction
	require.NoError(t, json.Unmarshal([]byte(basket), &tx))
	created, err := c.SmartTransactions().Create(context.Background(), &tx)
	require.NoError(t, err)
	return created
}

// A payment start whose answer is lost is followed by one lookup: a final
// transaction is the answer; a pending one leaves the outcome unknown.
func TestPaymentStartRecovery(t *testing.T) {
	// The sandbox runs the start, then closes the connection without the
	// answer (after_execute). Cash: always paid, so the test is
	// deterministic (the demo terminal declines at random).
	for _, channel := range []string{"rest", "stomp"} {
		t.Run("lost answer: the final transaction is returned ("+channel+")", func(t *testing.T) {
			srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1})
			c := newClient(t, srv, `{`+stompCfg+`}`)
			require.NoError(t, c.Open(context.Background()))
			created := createdTx(t, c)
			srv.AddFault(sandbox.Fault{Channel: channel, Method: "POST", Path: "/smart/transactions/" + created.ID + "/start", Drop: sandbox.DropAfterExecute})
			r, err := api.ParseRequest([]byte(`{"resource":"smart.transactions","op":"execute","id":"` + created.ID + `","action":"start","arg":"cash","channel":"` + channel + `"}`))
			require.NoError(t, err)
			out, err := c.Call(context.Background(), r)
			require.NoError(t, err, "the lookup found the payment made")
			var started product.SmartTransaction
			require.NoError(t, json.Unmarshal(out, &started))
			assert.Equal(t, created.ID, started.ID)
			assert.Equal(t, "ok", started.Status)
			assert.NotEmpty(t, started.Receipt)
			var starts, lost, gets int
			for _, rec := range srv.Requests() {
				switch {
				case strings.Contains(rec.Path, "start"):
					starts++
					if strings.HasPrefix(rec.Fault, "drop after_execute") {
						lost++
					}
				case strings.HasSuffix(rec.Path, "/smart/transactions/"+created.ID) || strings.HasSuffix(rec.Path, "api:get:smart.transactions"):
					gets++
				}
			}
			assert.Equal(t, 1, starts, "the start is never repeated")
			assert.Equal(t, 1, lost, "its answer was lost")
			assert.Equal(t, 1, gets, "one lookup")
		})
	}
	t.Run("still pending: outcome unknown", func(t *testing.T) {
		srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1})
		c := newClient(t, srv, `{`+stompCfg+`}`)
		require.NoError(t, c.Open(context.Background()))
		created := createdTx(t, c)
		// The terminal answers after the call's deadline.
		srv.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/smart/transactions/" + created.ID + "/start", DelayMS: 5000})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.SmartTransactions().Start(ctx, created.ID, "demo")
		e := errs.As(err)
		require.NotNil(t, e)
		assert.Equal(t, errs.Timeout, e.Kind)
		assert.False(t, e.Retryable)
		assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
		assert.Equal(t, created.ID, e.ObjectID)
		assert.NotEmpty(t, e.IdempotencyKey)
		b, _ := json.Marshal(e)
		assert.Contains(t, string(b), `"outcome":"unknown"`)
		assert.Contains(t, string(b), `"object_id":"`+created.ID+`"`)
	})
}

// run runs req (JSON) over one channel and returns the error, after arming
// fault for that channel.
func runWithFault(t *testing.T, channel string, fault sandbox.Fault, req func(id string) string) (*errs.Error, *sandbox.Server, string) {
	t.Helper()
	srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1})
	c := newClient(t, srv, `{`+stompCfg+`}`)
	require.NoError(t, c.Open(context.Background()))
	created := createdTx(t, c)
	fault.Channel = channel
	fault.Path = strings.ReplaceAll(fault.Path, "{id}", created.ID)
	srv.AddFault(fault)
	r, err := api.ParseRequest([]byte(req(created.ID)))
	require.NoError(t, err)
	r.Channel = api.Channel(channel)
	_, err = c.Call(context.Background(), r)
	if err == nil {
		return nil, srv, created.ID
	}
	return errs.As(err), srv, created.ID
}

// The same fault fails the same way over REST and STOMP: same kind,
// retryable, outcome, idempotency key and object id, and the server runs the
// request as often over one channel as over the other.
func TestSTOMPAndRESTFailTheSameWay(t *testing.T) {
	// cash: always paid, so a success is a success (demo declines at random).
	// The deadline is generous wherever the test expects a repeat (a loaded
	// machine must still fit a backoff and a second send into it) and short
	// only where the answer is meant to miss it.
	startWithin := func(timeoutMS string) func(string) string {
		return func(id string) string {
			return `{"resource":"smart.transactions","op":"execute","id":"` + id + `","action":"start","arg":"cash","idempotency_key":"pay-` + id + `","timeout_ms":` + timeoutMS + `}`
		}
	}
	start, startShort := startWithin("20000"), startWithin("400")
	create := func(string) string {
		return `{"resource":"general.contacts","op":"create","data":{"forename":"Ada"},"idempotency_key":"contact-1"}`
	}
	cases := []struct {
		name  string
		fault sandbox.Fault
		req   func(string) string
		path  string // what the sandbox counts as a send
		sends int
		// The error both channels give; "" kind: both succeed.
		kind      errs.Kind
		retryable bool
		outcome   string
	}{
		{"503 on a payment start: not repeated, looked up, unknown", sandbox.Fault{Method: "POST", Path: "/smart/transactions/{id}/start", Status: 503}, start, "start",
			1, errs.API, false, errs.OutcomeUnknown},
		{"503 on a keyed create: repeated with its key", sandbox.Fault{Method: "POST", Path: "/general/contacts", Status: 503}, create, "contacts",
			2, "", false, ""},
		{"429 on a payment start: refused, so repeated", sandbox.Fault{Method: "POST", Path: "/smart/transactions/{id}/start", Status: 429}, start, "start",
			2, "", false, ""},
		{"connection dropped after the request was read", sandbox.Fault{Method: "POST", Path: "/smart/transactions/{id}/start", Drop: sandbox.DropAfterRead}, start, "start",
			1, errs.Network, false, errs.OutcomeUnknown},
		{"answer later than the deadline", sandbox.Fault{Method: "POST", Path: "/smart/transactions/{id}/start", DelayMS: 5000}, startShort, "start",
			1, errs.Timeout, false, errs.OutcomeUnknown},
		{"answer lost after the start ran: the lookup finds it paid", sandbox.Fault{Method: "POST", Path: "/smart/transactions/{id}/start", Drop: sandbox.DropAfterExecute}, start, "start",
			1, "", false, ""},
		{"answer lost after a keyed create ran: repeated with its key", sandbox.Fault{Method: "POST", Path: "/general/contacts", Drop: sandbox.DropAfterExecute}, create, "contacts",
			2, "", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			type result struct {
				err   *errs.Error
				sends int
			}
			got := map[string]result{}
			for _, channel := range []string{"rest", "stomp"} {
				e, srv, id := runWithFault(t, channel, tc.fault, tc.req)
				n := 0
				for _, m := range methods(srv) {
					if strings.Contains(m, tc.path) && !strings.HasPrefix(m, "GET") && !strings.Contains(m, "api:get:") {
						n++
					}
				}
				if e != nil {
					// Each run has its own sandbox: compare without its ids.
					e.IdempotencyKey = strings.ReplaceAll(e.IdempotencyKey, id, "{id}")
					e.ObjectID = strings.ReplaceAll(e.ObjectID, id, "{id}")
				}
				got[channel] = result{e, n}
			}
			r, s := got["rest"], got["stomp"]
			assert.Equal(t, tc.sends, r.sends, "rest sends")
			assert.Equal(t, tc.sends, s.sends, "stomp sends")
			if tc.kind == "" {
				assert.Nil(t, r.err, "rest: %v", r.err)
				assert.Nil(t, s.err, "stomp: %v", s.err)
				return
			}
			require.NotNil(t, r.err)
			require.NotNil(t, s.err)
			assert.Equal(t, tc.kind, r.err.Kind)
			assert.Equal(t, tc.retryable, r.err.Retryable)
			assert.Equal(t, tc.outcome, r.err.Outcome)
			assert.Equal(t, "{id}", r.err.ObjectID)
			assert.Equal(t, r.err.Kind, s.err.Kind)
			assert.Equal(t, r.err.Retryable, s.err.Retryable)
			assert.Equal(t, r.err.Outcome, s.err.Outcome)
			assert.Equal(t, r.err.IdempotencyKey, s.err.IdempotencyKey)
			assert.NotEmpty(t, s.err.IdempotencyKey)
			assert.Equal(t, r.err.ObjectID, s.err.ObjectID)
			assert.Equal(t, r.err.ErrorName, s.err.ErrorName)
		})
	}
}

// Every component names itself once in the log: no "auth: auth: ".
func TestLogPrefixesAppearOnce(t *testing.T) {
	srv, stompCfg := stompSandbox(t, sandbox.Options{StartDelay: -1})
	var mu sync.Mutex
	var lines []string
	c := newClient(t, srv, `{`+stompCfg+`,"log_level":"debug"}`, core.WithLogSink(logging.SinkFunc(func(_ logging.Level, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	})))
	require.NoError(t, c.Open(context.Background()))
	srv.AddFault(sandbox.Fault{Path: "/smart/idents", Status: 503})
	call(t, c, `{"resource":"smart.idents","op":"list"}`)
	call(t, c, `{"resource":"smart.checkins","op":"list"}`)
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]bool{}
	for _, l := range lines {
		prefix, rest, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		seen[prefix] = true
		next, _, _ := strings.Cut(rest, ": ")
		assert.NotEqual(t, prefix, next, "prefix repeated in %q", l)
	}
	for _, p := range []string{"auth", "rest", "stomp", "call"} {
		assert.True(t, seen[p], "a %q line was logged (%s)", p, fmt.Sprint(len(lines)))
	}
}
