package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

func countOf(t *testing.T, c *client, tok, path string) int64 {
	t.Helper()
	a := c.do("GET", path+"?count=0", tok, nil, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	n, err := a.JSON(t)["count"].(json.Number).Int64()
	require.NoError(t, err)
	return n
}

func TestXActionIdempotency(t *testing.T) {
	clock := testkit.NewClock()
	c := start(t, sandbox.Options{StartDelay: -1})
	c.s.SetClock(clock.Now)
	tok := c.token()
	hdr := map[string]string{"X-Action": "act-1"}

	first := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "A"}, hdr)
	require.Equal(t, http.StatusOK, first.Status)
	second := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "B"}, hdr)
	assert.Equal(t, first.Status, second.Status)
	assert.Equal(t, string(first.Raw), string(second.Raw), "the first result is replayed")
	assert.Equal(t, int64(1), countOf(t, c, tok, "/api/v2/general/contacts"))

	other := c.token()
	third := c.do("POST", "/api/v2/general/contacts", other, map[string]string{"name": "C"}, hdr)
	assert.Equal(t, string(first.Raw), string(third.Raw), "ids are per client, not per token")

	t.Run("errors are replayed too", func(t *testing.T) {
		h := map[string]string{"X-Action": "bad-1"}
		a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(1.5, 1), h)
		require.Equal(t, http.StatusBadRequest, a.Status)
		b := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(150, 1), h)
		assert.Equal(t, http.StatusBadRequest, b.Status)
	})
	t.Run("401 is not remembered", func(t *testing.T) {
		h := map[string]string{"X-Action": "auth-1"}
		a := c.do("POST", "/api/v2/general/contacts", "stale-token-000000", map[string]string{"name": "D"}, h)
		require.Equal(t, http.StatusUnauthorized, a.Status)
		a = c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "D"}, h)
		assert.Equal(t, http.StatusOK, a.Status)
	})
	t.Run("GET is never deduplicated", func(t *testing.T) {
		h := map[string]string{"X-Action": "get-1"}
		c.do("GET", "/api/v2/general/contacts", tok, nil, h)
		c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "E"}, h)
		a := c.do("GET", "/api/v2/general/contacts", tok, nil, h)
		assert.Contains(t, string(a.Raw), `"name":"E"`)
	})
	t.Run("window", func(t *testing.T) {
		n := countOf(t, c, tok, "/api/v2/general/contacts")
		clock.Advance(sandbox.IdempotencyWindow)
		a := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "F"}, hdr)
		require.Equal(t, http.StatusOK, a.Status)
		assert.NotEqual(t, string(first.Raw), string(a.Raw))
		assert.Equal(t, n+1, countOf(t, c, tok, "/api/v2/general/contacts"))
	})
}

func TestXActionConcurrentDuplicates(t *testing.T) {
	c := start(t, sandbox.Options{StartDelay: 20 * time.Millisecond})
	tok := c.token()
	events := newCollector()
	defer c.s.Subscribe("", events.add)()
	a := c.do("POST", "/api/v2/smart/transactions", tok, basketBody(100, 50), nil)
	id := str(a.JSON(t)["id"])

	const n = 8
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			answers[i] = c.do("POST", "/api/v2/smart/transactions/"+id+"/start/cash", tok, "", map[string]string{"X-Action": "start-" + id})
		}(i)
	}
	wg.Wait()
	for i := range answers {
		assert.Equal(t, http.StatusOK, answers[i].Status, "%s", answers[i].Raw)
		assert.Equal(t, string(answers[0].Raw), string(answers[i].Raw))
	}
	c.s.Push(sandbox.Event{Target: "end.marker", Type: "end"})
	evs := events.wait(t, 4)
	require.Len(t, evs, 4, "3 display events from the single execution, then the marker")
	assert.Equal(t, "end", evs[3].Type)

	created := make([]string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			a := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "same"}, map[string]string{"X-Action": "create-1"})
			created[i] = string(a.Raw)
		}(i)
	}
	wg.Wait()
	for i := range created {
		assert.Equal(t, created[0], created[i])
	}
	assert.Equal(t, int64(1), countOf(t, c, tok, "/api/v2/general/contacts"))
}

func TestFaults(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()

	t.Run("status with Retry-After", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/smart/idents", Status: 503, RetryAfter: 2, Count: 2})
		for i := 0; i < 2; i++ {
			a := c.do("GET", "/api/v2/Smart/Idents/smi_1", tok, nil, nil)
			assert.Equal(t, http.StatusServiceUnavailable, a.Status)
			assert.Equal(t, "2", a.Header.Get("Retry-After"))
			m := a.JSON(t)
			assert.Equal(t, "error", m["status"])
			assert.Equal(t, "ProductInternalException", m["error"])
		}
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v2/smart/idents", tok, nil, nil).Status, "count is used up")
		recs := c.s.Requests()
		require.Len(t, recs, 3)
		assert.Equal(t, "status 503", recs[0].Fault)
		assert.Equal(t, 503, recs[0].Status)
		assert.Equal(t, "", recs[2].Fault)
	})
	t.Run("segment prefix, method and custom body", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/smart/idents", Method: "POST", Status: 429, Body: json.RawMessage(`{"status":"error","error":"Custom"}`)})
		assert.Equal(t, http.StatusOK, c.do("GET", "/api/v2/smart/idents", tok, nil, nil).Status, "method does not match")
		assert.Equal(t, http.StatusNotFound, c.do("POST", "/api/v2/smart/identsx", tok, "{}", nil).Status, "whole segments only")
		a := c.do("POST", "/api/v2/smart/idents/smi_1/read", tok, "{}", nil)
		assert.Equal(t, http.StatusTooManyRequests, a.Status)
		assert.Equal(t, `{"status":"error","error":"Custom"}`, string(a.Raw))
	})
	t.Run("oauth", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/oauth/token", Status: 503})
		a := c.form(c.creds("grant_type", "client_credentials"))
		assert.Equal(t, http.StatusServiceUnavailable, a.Status)
		assert.Equal(t, "temporarily_unavailable", a.JSON(t)["error"])
		assert.Equal(t, http.StatusOK, c.form(c.creds("grant_type", "client_credentials")).Status)
	})
	t.Run("unlimited until cleared", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/general/stores", Status: 500, Count: -1})
		for i := 0; i < 3; i++ {
			assert.Equal(t, 500, c.do("GET", "/api/v2/general/stores", tok, nil, nil).Status)
		}
		c.s.ClearFaults()
		assert.Equal(t, 200, c.do("GET", "/api/v2/general/stores", tok, nil, nil).Status)
	})
	t.Run("delay then normal answer", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/smart/idents", DelayMS: 150})
		began := time.Now()
		a := c.do("GET", "/api/v2/smart/idents", tok, nil, nil)
		assert.Equal(t, http.StatusOK, a.Status)
		assert.GreaterOrEqual(t, time.Since(began), 150*time.Millisecond)
		recs := c.s.Requests()
		require.Len(t, recs, 1)
		assert.Equal(t, "delay 150ms", recs[0].Fault)
		assert.Equal(t, 200, recs[0].Status)
	})
	t.Run("delay past the client's timeout: the held request still runs", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/general/contacts", Method: "POST", DelayMS: 1000})
		impatient := &http.Client{Timeout: 100 * time.Millisecond}
		req, _ := http.NewRequest("POST", c.s.URL()+"/api/v2/general/contacts", strings.NewReader(`{"forename":"Patient"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		_, err := impatient.Do(req)
		require.Error(t, err, "the client gives up during the delay")
		// The sandbox received the request: it runs when the delay is over.
		testkit.WaitFor(t, 5*time.Second, "the held request to run", func() bool { return c.s.Requests()[0].Status != 0 })
		rec := c.s.Requests()[0]
		assert.Equal(t, http.StatusOK, rec.Status)
		assert.Equal(t, "delay 1000ms; client left", rec.Fault)
		a := c.do("GET", "/api/v2/general/contacts?q=forename:Patient", tok, nil, nil)
		assert.Equal(t, json.Number("1"), a.JSON(t)["count"], "it took effect")
	})
	drops := []struct{ mode, what string }{
		{sandbox.DropBeforeRead, "drop before_read"},
		{sandbox.DropAfterRead, "drop after_read"},
	}
	for _, tc := range drops {
		t.Run(tc.what, func(t *testing.T) {
			before := countOf(t, c, tok, "/api/v2/general/contacts")
			c.s.ResetRequests()
			c.s.AddFault(sandbox.Fault{Path: "/general/contacts", Method: "POST", Drop: tc.mode})
			req, _ := http.NewRequest("POST", c.s.URL()+"/api/v2/general/contacts", strings.NewReader(`{"name":"dropped"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("X-Action", "drop-"+tc.mode)
			_, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
			require.Error(t, err, "the connection closes without an answer")
			assert.Equal(t, before, countOf(t, c, tok, "/api/v2/general/contacts"), "nothing was executed")
			recs := c.s.Requests()
			require.NotEmpty(t, recs)
			assert.Equal(t, tc.what, recs[0].Fault)
			assert.Equal(t, 0, recs[0].Status)

			a := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"name": "retried"}, map[string]string{"X-Action": "drop-" + tc.mode})
			assert.Equal(t, http.StatusOK, a.Status, "a retry with the same X-Action executes, because the drop executed nothing")
			assert.Equal(t, before+1, countOf(t, c, tok, "/api/v2/general/contacts"))
		})
	}
	t.Run("drop after_execute: executed, the answer lost", func(t *testing.T) {
		before := countOf(t, c, tok, "/api/v2/general/contacts")
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/general/contacts", Method: "POST", Drop: sandbox.DropAfterExecute})
		req, _ := http.NewRequest("POST", c.s.URL()+"/api/v2/general/contacts", strings.NewReader(`{"forename":"Executed"}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Action", "drop-after-execute")
		_, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		require.Error(t, err, "the connection closes without an answer")
		assert.Equal(t, before+1, countOf(t, c, tok, "/api/v2/general/contacts"), "the request ran")
		recs := c.s.Requests()
		require.NotEmpty(t, recs)
		assert.Equal(t, "drop after_execute (answer 200 lost)", recs[0].Fault)
		assert.Equal(t, 0, recs[0].Status, "no answer left the sandbox")

		a := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"forename": "Executed"}, map[string]string{"X-Action": "drop-after-execute"})
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "Executed", a.JSON(t)["forename"], "the repeat gets the first execution's answer")
		assert.Equal(t, before+1, countOf(t, c, tok, "/api/v2/general/contacts"), "the repeat with the same X-Action ran nothing")
	})
	t.Run("admin api", func(t *testing.T) {
		a := c.do("POST", "/sandbox/faults", "", map[string]any{"path": "/smart/idents", "status": 502, "retry_after": 1}, nil)
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		a = c.do("GET", "/sandbox/faults", "", nil, nil)
		assert.Contains(t, string(a.Raw), `"status":502`)
		assert.Equal(t, 502, c.do("GET", "/api/v2/smart/idents", tok, nil, nil).Status)

		a = c.do("POST", "/sandbox/faults", "", map[string]any{"path": "/x", "status": 503, "count": -1}, nil)
		require.Equal(t, http.StatusOK, a.Status)
		require.Equal(t, http.StatusOK, c.do("DELETE", "/sandbox/faults", "", nil, nil).Status)
		assert.Equal(t, `[]`, string(c.do("GET", "/sandbox/faults", "", nil, nil).Raw))

		bad := []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"drop": "sideways"}, "drop"},
			{map[string]any{"drop": "after_execute", "status": 502}, "drop"},
			{map[string]any{"status": 42}, "status"},
			{map[string]any{"path": "/x"}, "status"},
			{map[string]any{"status": 503, "drop": "before_read"}, "drop"},
			{map[string]any{"status": "503"}, "status"},
			{map[string]any{"status": 503, "colour": "red"}, "colour"},
			{map[string]any{"status": 503, "path": "smart"}, "path"},
			{map[string]any{"delay_ms": -5}, "delay_ms"},
		}
		for _, tc := range bad {
			a := c.do("POST", "/sandbox/faults", "", tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, a.Status, "%v", tc.body)
			assert.Equal(t, tc.field, a.JSON(t)["field"], "%v: %s", tc.body, a.Raw)
		}
	})
	t.Run("admin is never faulted", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Status: 500, Count: -1})
		defer c.s.ClearFaults()
		assert.Equal(t, 500, c.do("GET", "/api/v2/smart/idents", tok, nil, nil).Status)
		assert.Equal(t, http.StatusOK, c.do("GET", "/sandbox/requests", "", nil, nil).Status)
	})
}

func TestAdminRoutes(t *testing.T) {
	c := start(t, sandbox.Options{})
	a := c.do("GET", "/sandbox", "", nil, nil)
	assert.Equal(t, http.StatusOK, a.Status)
	assert.Contains(t, string(a.Raw), "devices\\/approve")
	a = c.do("GET", "/sandbox/nothing", "", nil, nil)
	assert.Equal(t, http.StatusNotFound, a.Status)
	assert.Equal(t, "not_found", a.JSON(t)["error"])
	a = c.do("PUT", "/sandbox/faults", "", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, a.Status)
	a = c.do("POST", "/sandbox/tokens/expire", "", "{", nil)
	assert.Equal(t, http.StatusBadRequest, a.Status)
}
