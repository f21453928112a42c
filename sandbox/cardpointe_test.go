package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
	"github.com/libsecucard/libsecucard/sandbox/cardpointe"
)

// cpDo sends a CardPointe Gateway request with the sandbox's Basic
// credentials; body "" sends none.
func cpDo(t *testing.T, c *client, method, path, body string) answer {
	t.Helper()
	a, err := cpTry(context.Background(), c, method, path, body)
	require.NoError(t, err)
	return a
}

func cpTry(ctx context.Context, c *client, method, path, body string) (answer, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.s.URL()+path, rd)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	e := c.s.Endpoints()
	req.SetBasicAuth(e.CardPointeUsername, e.CardPointePassword)
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return answer{Status: resp.StatusCode, Header: resp.Header, Raw: raw}, err
}

const cpMID = "496160873888"

func cpAuth(orderid string) string {
	return `{"merchid":"` + cpMID + `","account":"4111111111111111","expiry":"1230","amount":"1.00","capture":"Y","orderid":"` + orderid + `"}`
}

func TestCardPointeOnTheSandboxListener(t *testing.T) {
	c := start(t, sandbox.Options{})
	e := c.s.Endpoints()
	assert.Equal(t, c.s.URL()+"/cardconnect/rest", e.CardPointeURL)
	assert.Equal(t, "testing", e.CardPointeUsername)
	assert.Equal(t, "testing123", e.CardPointePassword)
	assert.Equal(t, cpMID, e.CardPointeMerchID)

	a := cpDo(t, c, "PUT", "/cardconnect/rest/", `{"merchid":"`+cpMID+`"}`)
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, "CardConnect REST Servlet", string(a.Raw))

	auth := cpDo(t, c, "PUT", "/cardconnect/rest/auth", cpAuth("W-1")).JSON(t)
	assert.Equal(t, "A", auth["respstat"])
	tok := c.do("POST", "/cardsecure/api/v1/ccn/tokenize", "", map[string]any{"account": "4111111111111111"}, nil)
	assert.Equal(t, "9418594164541111", tok.JSON(t)["token"], "CardSecure on the same listener, no auth")

	// Settlement through the sandbox's admin API, then a refund is allowed.
	st := c.do("POST", "/sandbox/cardpointe/settle", "", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, st.Status, "%s", st.Raw)
	assert.Equal(t, json.Number("1"), st.JSON(t)["settled"])
	ref := cpDo(t, c, "POST", "/cardconnect/rest/refund", `{"merchid":"`+cpMID+`","retref":"`+auth["retref"].(string)+`"}`).JSON(t)
	assert.Equal(t, "A", ref["respstat"])
	assert.Equal(t, 1, c.s.CardPointe().Settle().Settled, "the Go method mirrors the admin call")
	assert.Contains(t, string(c.do("GET", "/sandbox", "", nil, nil).Raw), "cardpointe\\/settle")
	assert.Equal(t, http.StatusNotFound, c.do("POST", "/sandbox/cardpointe/nothing", "", "{}", nil).Status)

	// Requests are recorded like any other.
	recs := c.s.Requests()
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.Method+" "+r.Path)
	}
	assert.Contains(t, paths, "PUT /cardconnect/rest/auth")
	assert.Contains(t, paths, "POST /cardsecure/api/v1/ccn/tokenize")
	assert.NotContains(t, paths, "POST /sandbox/cardpointe/settle", "admin calls are not recorded")

	// The secucard API is untouched by the new paths.
	assert.Equal(t, http.StatusOK, c.do("GET", "/api/v2/smart/idents", c.token(), nil, nil).Status)
	_, err := sandbox.New(sandbox.Options{CardPointe: cardpointe.Options{MerchID: "abc"}})
	var serr *sandbox.Error
	require.ErrorAs(t, err, &serr)
	assert.Equal(t, "CardPointe", serr.Field)
}

func TestCardPointeFaults(t *testing.T) {
	c := start(t, sandbox.Options{})
	found := func(orderid string) bool {
		t.Helper()
		a := cpDo(t, c, "GET", "/cardconnect/rest/inquireByOrderid/"+orderid+"/"+cpMID, "")
		require.Equal(t, http.StatusOK, a.Status)
		return a.JSON(t)["respcode"] != "29"
	}

	t.Run("status with Retry-After and the Gateway's error body", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/cardconnect/rest/auth", Status: 503, RetryAfter: 3})
		a := cpDo(t, c, "PUT", "/cardconnect/rest/auth", cpAuth("F-1"))
		require.Equal(t, http.StatusServiceUnavailable, a.Status)
		assert.Equal(t, "3", a.Header.Get("Retry-After"))
		body := a.JSON(t)
		assert.Equal(t, json.Number("503"), body["status"])
		assert.Equal(t, "/cardconnect/rest/auth", body["path"])
		assert.False(t, found("F-1"), "a faulted request executes nothing")
		assert.Equal(t, "status 503", c.s.Requests()[0].Fault)
	})
	t.Run("delay then the normal answer", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/cardconnect/rest/auth", DelayMS: 50})
		a := cpDo(t, c, "PUT", "/cardconnect/rest/auth", cpAuth("F-2"))
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "A", a.JSON(t)["respstat"])
	})
	t.Run("delay past the client's deadline: the auth still happens", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/cardconnect/rest/auth", DelayMS: 1000})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := cpTry(ctx, c, "PUT", "/cardconnect/rest/auth", cpAuth("F-3"))
			done <- err
		}()
		// Wait until the sandbox holds the request in its delay, then give up.
		testkit.WaitFor(t, 5*time.Second, "the sandbox to hold the auth", func() bool {
			recs := c.s.Requests()
			return len(recs) > 0 && strings.HasPrefix(recs[0].Fault, "delay 1000ms")
		})
		cancel()
		assert.ErrorIs(t, <-done, context.Canceled)
		// The Gateway received the auth: it runs when the delay is over, as
		// the timeout recovery must expect (spec §3: an auth that reached
		// the Gateway is recorded within its answer window).
		testkit.WaitFor(t, 5*time.Second, "the held auth to run", func() bool { return c.s.Requests()[0].Status != 0 })
		assert.Equal(t, http.StatusOK, c.s.Requests()[0].Status)
		assert.Equal(t, "delay 1000ms; client left", c.s.Requests()[0].Fault)
		assert.True(t, found("F-3"), "the auth took effect although the client left")
	})
	t.Run("drop after_execute: approved, the answer lost", func(t *testing.T) {
		c.s.ResetRequests()
		c.s.AddFault(sandbox.Fault{Path: "/cardconnect/rest/auth", Drop: sandbox.DropAfterExecute})
		_, err := cpTry(context.Background(), c, "PUT", "/cardconnect/rest/auth", cpAuth("F-4"))
		require.Error(t, err, "the connection closes without an answer")
		assert.True(t, found("F-4"), "inquireByOrderid finds the auth: it ran")
		rec := c.s.Requests()[0]
		assert.Equal(t, "drop after_execute (answer 200 lost)", rec.Fault)
		assert.Equal(t, 0, rec.Status)
	})
	for _, mode := range []string{sandbox.DropBeforeRead, sandbox.DropAfterRead} {
		t.Run("drop "+mode, func(t *testing.T) {
			c.s.ResetRequests()
			c.s.AddFault(sandbox.Fault{Path: "/cardconnect/rest/auth", Method: "PUT", Drop: mode})
			_, err := cpTry(context.Background(), c, "PUT", "/cardconnect/rest/auth", cpAuth("D-"+mode))
			require.Error(t, err, "the connection closes without an answer")
			assert.False(t, found("D-"+mode), "inquireByOrderid answers 29: the auth never ran")
			assert.Equal(t, "drop "+mode, c.s.Requests()[0].Fault)
			// Sent again, it executes once.
			a := cpDo(t, c, "PUT", "/cardconnect/rest/auth", cpAuth("D-"+mode))
			require.Equal(t, http.StatusOK, a.Status)
			assert.True(t, found("D-"+mode))
		})
	}
	t.Run("CardSecure and the admin call", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/cardsecure", Status: 500})
		a := c.do("POST", "/cardsecure/api/v1/ccn/tokenize", "", map[string]any{"account": "4111111111111111"}, nil)
		assert.Equal(t, http.StatusInternalServerError, a.Status)
		c.s.AddFault(sandbox.Fault{Status: 500, Count: -1})
		defer c.s.ClearFaults()
		assert.Equal(t, http.StatusOK, c.do("POST", "/sandbox/cardpointe/settle", "", "{}", nil).Status, "admin is never faulted")
	})
}
