package main

// These tests drive the Go-level operations the exports wrap (ops.go), the
// error mapper and the log pump. cgo is not available in _test.go files, so
// the exports themselves are exercised from C by capi/ctest; here only
// exports that accept all-NULL arguments are called directly.

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

func TestMapErrorStatusPerKind(t *testing.T) {
	cases := []struct {
		err    error
		status int
		typ    string
	}{
		{errs.Invalid("op", "is required"), statusInvalidArgument, "invalid_argument"},
		{invalidHandle("client"), statusInvalidHandle, "invalid_handle"},
		{errs.AuthError("oauth.token", errs.ReasonDenied, "refused"), statusAuth, "auth"},
		{errs.New(errs.API, "smart.transactions.get", "not found"), statusAPI, "api"},
		{errs.New(errs.Declined, "", "declined"), statusDeclined, "declined"},
		{errs.New(errs.Network, "", "reset"), statusNetwork, "network"},
		{errs.New(errs.Timeout, "", "late"), statusTimeout, "timeout"},
		{errs.New(errs.Canceled, "", "canceled"), statusCanceled, "canceled"},
		{errs.New(errs.Closed, "", "closed"), statusClosed, "closed"},
		{errs.New(errs.Storage, "", "disk"), statusStorage, "storage"},
		{noEvent(errs.New(errs.Timeout, "events", "none")), statusNoEvent, "timeout"},
		{errs.New(errs.Internal, "", "bug"), statusInternal, "internal"},
		{errors.New("a foreign error"), statusInternal, "internal"},
		{&errs.Error{Kind: "brand_new_kind", Message: "x"}, statusInternal, "brand_new_kind"},
	}
	for _, c := range cases {
		t.Run(c.typ, func(t *testing.T) {
			st, js := mapError(c.err)
			assert.Equal(t, c.status, st)
			require.True(t, strings.HasPrefix(string(js), fmt.Sprintf(`{"status":%d,"type":`, c.status)), "%s", js)
			var m map[string]any
			require.NoError(t, json.Unmarshal(js, &m))
			assert.Equal(t, float64(c.status), m["status"])
			assert.Equal(t, c.typ, m["type"])
			assert.Contains(t, m, "message")
			assert.Contains(t, m, "retryable")
		})
	}
	st, js := mapError(nil)
	assert.Equal(t, statusOK, st)
	assert.Nil(t, js)
}

func TestErrorJSONCarriesEnvelopeFields(t *testing.T) {
	e := errs.New(errs.API, "smart.transactions.get", "not found")
	e.Status, e.ErrorName, e.Details, e.UserMessage, e.Code, e.SupportID = 404, "ProductNotFoundException", "no such id", "Nicht gefunden", "1002", "abc"
	_, js := mapError(e)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	for k, v := range map[string]any{"http_status": float64(404), "error": "ProductNotFoundException", "error_details": "no such id",
		"error_user": "Nicht gefunden", "code": "1002", "support_id": "abc", "op": "smart.transactions.get"} {
		assert.Equal(t, v, m[k], k)
	}
}

func TestUntagRejectsForeignValues(t *testing.T) {
	assert.Equal(t, uint64(7), untag(clientTag|7, clientTag))
	assert.Zero(t, untag(replyTag|7, clientTag), "a reply handle is not a client handle")
	assert.Zero(t, untag(7, clientTag), "an untagged value")
	assert.Zero(t, untag(0, clientTag))
	assert.Zero(t, clientID(0x7ffd12345678), "a stack address")
}

func TestVersionNumber(t *testing.T) {
	assert.Equal(t, 1000, versionNumber("0.1.0"))
	assert.Equal(t, 1002003, versionNumber("1.2.3-dev"))
	assert.Equal(t, 2000000, versionNumber("v2.0"))
	assert.Equal(t, 0, versionNumber("dev"))
}

func TestExportRecoversPanic(t *testing.T) {
	testPanicAt = "secucard_client_stats"
	defer func() { testPanicAt = "" }()
	assert.Equal(t, statusInternal, int(secucard_client_stats(nil, nil)))
	testPanicAt = ""
	assert.Equal(t, statusInvalidHandle, int(secucard_client_stats(nil, nil)), "no panic: the NULL handle is reported")
}

func sandboxConfig(t *testing.T, s *sandbox.Server, creds map[string]any) []byte {
	t.Helper()
	cfg := testkit.ClientConfig(t, s)
	if creds != nil {
		cfg["credentials"] = creds
	}
	cfg["stomp"] = map[string]any{"enabled": false}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	return b
}

const webhookBody = `{"object":"event.pushes","id":"EPS_1","target":"general.notifications","type":"display","data":{"text":"hi"}}`

// TestRegistryEmptyAfterFullFlow is the leak check of the handle and reply
// registries: whatever a host does, nothing stays registered once its clients
// are freed.
func TestRegistryEmptyAfterFullFlow(t *testing.T) {
	require.Zero(t, liveObjects(), "registries must start empty")
	s := testkit.Sandbox(t, sandbox.Options{})
	list := []byte(`{"resource":"smart.idents","op":"list"}`)

	// client credentials: open, calls, async, events, logs
	id, err := clientNew(sandboxConfig(t, s, nil), nil)
	require.NoError(t, err)
	require.NoError(t, clientOpen(id))
	res, err := call(id, list)
	require.NoError(t, err)
	assert.Contains(t, string(res), `"count":3`)
	_, err = call(id, []byte(`{"resource":"smart.idents","op":"get","id":"nope"}`))
	assert.Error(t, err)

	var logMu sync.Mutex
	var lines []string
	require.NoError(t, setLogTarget(id, func(_ logging.Level, msg string) {
		logMu.Lock()
		lines = append(lines, msg)
		logMu.Unlock()
	}, int(logging.Trace), false))

	done := make(chan int, 2)
	_, err = callAsync(id, list, func(_ uint64, st int, _, _ []byte) { done <- st })
	require.NoError(t, err)
	assert.Equal(t, statusOK, <-done)

	events := make(chan []byte, 8)
	require.NoError(t, setEventHandler(id, func(b []byte) { events <- b }, false))
	require.NoError(t, handleEvent(id, []byte(webhookBody)))
	for ev := range events { // auth events come first
		if strings.Contains(string(ev), `"kind":"push"`) {
			assert.Contains(t, string(ev), `"text":"hi"`)
			break
		}
	}

	// an async call still in flight when the client closes
	s.AddFault(sandbox.Fault{Path: "/smart/idents", DelayMS: 2000, Count: 1})
	_, err = callAsync(id, list, func(_ uint64, st int, _, _ []byte) { done <- st })
	require.NoError(t, err)
	require.NoError(t, clientClose(id, false))
	assert.Equal(t, statusCanceled, <-done)
	s.ClearFaults() // the canceled request may never have reached the sandbox
	stats, err := clientStats(id)
	require.NoError(t, err, "stats work on a closed client")
	assert.Contains(t, string(stats), `"calls"`)
	clientFree(id, false)
	clientFree(id, false)
	logMu.Lock()
	assert.NotEmpty(t, lines)
	logMu.Unlock()

	// app user: the password prompt goes through a reply slot
	id, err = clientNew(sandboxConfig(t, s, map[string]any{
		"grant": "appuser", "client_id": s.ClientID(), "client_secret": s.ClientSecret(), "username": "cashier",
	}), nil)
	require.NoError(t, err)
	require.NoError(t, setCredentialPrompt(id, &hostPrompt{ask: func(req []byte) (int, []byte, bool, error) {
		return withReply(func(rid uint64) int {
			assert.NoError(t, replySet(rid, []byte(`{"password":"cashier-password"}`)))
			return 0
		})
	}}))
	require.NoError(t, clientOpen(id))
	_, err = call(id, list)
	require.NoError(t, err)
	clientFree(id, false)

	assert.Zero(t, liveObjects(), "clients and reply slots left registered")
	_, err = lookup(id)
	st, _ := mapError(err)
	assert.Equal(t, statusInvalidHandle, st)
}

func TestCancelReportsCanceledOnce(t *testing.T) {
	s := testkit.Sandbox(t, sandbox.Options{})
	id, err := clientNew(sandboxConfig(t, s, nil), nil)
	require.NoError(t, err)
	defer clientFree(id, false)
	s.AddFault(sandbox.Fault{Path: "/smart/idents", DelayMS: 3000, Count: 1})
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	wg.Add(1)
	cid, err := callAsync(id, []byte(`{"resource":"smart.idents","op":"list"}`), func(_ uint64, st int, res, ej []byte) {
		mu.Lock()
		got = append(got, st)
		mu.Unlock()
		assert.Nil(t, res)
		assert.Contains(t, string(ej), `"type":"canceled"`)
		wg.Done()
	})
	require.NoError(t, err)
	require.NoError(t, cancelCall(id, cid))
	wg.Wait()
	require.NoError(t, clientClose(id, false)) // waits for every callback
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{statusCanceled}, got)
}

func TestLogPumpKeepsOrderAndCountsDrops(t *testing.T) {
	p := newLogPump(1)
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	first := true
	p.set(&logTarget{level: logging.Trace, fn: func(_ logging.Level, msg string) {
		if first {
			first = false
			<-release // hold the pump so the queue fills up
		}
		mu.Lock()
		got = append(got, msg)
		mu.Unlock()
	}}, true)

	total := maxQueuedLogLines + 50
	for i := 0; i < total; i++ {
		p.Log(logging.Info, fmt.Sprintf("line %d", i))
	}
	p.Log(logging.Trace+1, "above every level")
	close(release)
	p.set(nil, true) // returns once everything queued was delivered

	p.stop()
	p.Log(logging.Error, "after stop")

	mu.Lock()
	defer mu.Unlock()
	var drops string
	prev := -1
	for _, l := range got {
		if strings.Contains(l, "dropped") {
			drops = l
			continue
		}
		var n int
		_, err := fmt.Sscanf(l, "line %d", &n)
		require.NoError(t, err, l)
		assert.Greater(t, n, prev, "lines out of order")
		prev = n
	}
	require.NotEmpty(t, drops, "drops must be reported")
	var dropped int
	_, err := fmt.Sscanf(drops, "libsecucard: %d log lines were dropped", &dropped)
	require.NoError(t, err)
	assert.Equal(t, total, len(got)-1+dropped, "every line is delivered or counted")
	assert.NotContains(t, got, "above every level")
	assert.NotContains(t, got, "after stop", "Log after stop queues nothing")
	assert.Zero(t, len(p.queue))
}

// The fields that say what is safe next reach the error JSON as the header
// documents them.
func TestErrorJSONCarriesWhatIsSafeNext(t *testing.T) {
	ms := int64(120000)
	e := errs.New(errs.Timeout, "smart.transactions.execute.start", "no answer")
	e.Retryable, e.Outcome, e.IdempotencyKey, e.RetryAfterMS, e.ObjectID = false, errs.OutcomeUnknown, "till7-42", &ms, "STX_1"
	status, js := mapError(e)
	assert.Equal(t, statusTimeout, status)
	var m map[string]any
	require.NoError(t, json.Unmarshal(js, &m))
	for k, v := range map[string]any{"retryable": false, "outcome": "unknown", "idempotency_key": "till7-42",
		"retry_after_ms": float64(120000), "object_id": "STX_1"} {
		assert.Equal(t, v, m[k], k)
	}
	_, js = mapError(errs.Invalid("environment", "is wrong"))
	require.NoError(t, json.Unmarshal(js, &m))
	assert.Equal(t, false, m["retryable"], "always present")
}
