package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/sandbox"
)

// No input through REST, STOMP or the admin API may crash or wedge the
// sandbox: what is too large or too deep is refused with a 400 (or a STOMP
// ERROR) that names the limit, and the next request is served as usual.

// alive fails the test unless the sandbox still serves a plain call.
func (c *client) alive(tok string) {
	c.t.Helper()
	a := c.do("GET", "/api/v2/smart/idents", tok, nil, nil)
	require.Equal(c.t, http.StatusOK, a.Status, "the sandbox still serves: %s", a.Raw)
}

func TestQueryLimits(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	list := func(q string) answer {
		return c.do("GET", "/api/v2/general/contacts?q="+url.QueryEscape(q), tok, nil, nil)
	}
	nested := func(n int) string { return strings.Repeat("(", n) + "name:x" + strings.Repeat(")", n) }
	terms := func(n int) string { return strings.TrimSpace(strings.Repeat("name:x ", n)) }
	cases := []struct {
		name, q, detail string
	}{
		{"depth", nested(33), "syntax error at position 33: q nests deeper than the limit of 32 levels"},
		{"NOT depth", strings.Repeat("NOT ", 33) + "a", "q nests deeper than the limit of 32 levels"},
		{"terms", terms(129), "q has more than the limit of 128 terms"},
		{"term length", "name:" + strings.Repeat("x", 252), "a term is longer than the limit of 256 characters"},
		{"phrase length", `"` + strings.Repeat("x", 257) + `"`, "a term is longer than the limit of 256 characters"},
		{"length", strings.Repeat("a ", 2049), "q is longer than the limit of 4096 characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := list(tc.q)
			require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Raw)
			assert.Contains(t, a.JSON(t)["error_details"], tc.detail)
			assert.Equal(t, "ProductFormatException", a.JSON(t)["error"])
		})
	}
	for _, ok := range []string{nested(32), terms(128), "name:" + strings.Repeat("x", 251)} {
		a := list(ok)
		assert.Equal(t, http.StatusOK, a.Status, "at the limit is fine: %s", a.Raw)
	}
	c.alive(tok)
}

// The reproduction: a q of 900,000 "(" used to overflow the stack
// and kill the sandbox with all its state.
func TestHugeQueryIsRefusedOnEveryChannel(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	q := strings.Repeat("(", 900_000)

	a := c.do("GET", "/api/v2/general/contacts?q="+q, tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Raw)
	assert.Contains(t, a.JSON(t)["error_details"], "the URL is longer than the limit of 32768 bytes")

	r := c.s.Dispatch(context.Background(), sandbox.DispatchRequest{Op: "get", Product: "general", Resource: "contacts",
		Token: tok, Query: url.Values{"q": {q}}})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, string(r.Body), "q is longer than the limit of 4096 characters")

	body, err := json.Marshal(map[string]any{"query": map[string]any{"q": q}})
	require.NoError(t, err)
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	sc.send(sendFrame("api:get:general.contacts", "deep", string(body)))
	f := sc.next()
	assert.Equal(t, "deep", f.Header.Get("correlation-id"))
	assert.Contains(t, string(f.Body), "q is longer than the limit of 4096 characters")

	deep := strings.Repeat("(", 4000)
	r = c.s.Dispatch(context.Background(), sandbox.DispatchRequest{Op: "get", Product: "general", Resource: "contacts",
		Token: tok, Query: url.Values{"q": {deep}}})
	assert.Contains(t, string(r.Body), "q nests deeper than the limit of 32 levels")
	c.alive(tok)
}

func TestCostlyQueryIsRefused(t *testing.T) {
	c := start(t, sandbox.Options{})
	c.s.SetQuerySteps(100_000) // the real limit is 200 times this; the rule is the same
	tok := c.token()
	for i := 0; i < 4; i++ {
		a := c.do("POST", "/api/v2/general/contacts", tok, map[string]string{"note": strings.Repeat("a", 10_000)}, nil)
		require.Equal(t, http.StatusOK, a.Status)
	}
	// One star and a long tail: the wildcard match backtracks over every
	// position of the text for each character of the pattern.
	a := c.do("GET", "/api/v2/general/contacts?q=note:*"+strings.Repeat("a", 245)+"b", tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, a.Status, "%s", a.Raw)
	assert.Equal(t, "q: matching needs more than the limit of 100000 steps; use fewer wildcards", a.JSON(t)["error_details"])
	a = c.do("GET", "/api/v2/general/contacts?q=note:a*", tok, nil, nil)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	assert.Equal(t, json.Number("4"), a.JSON(t)["count"])
}

func TestListParameterLimits(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	var sorts []string
	for i := 0; i < 17; i++ {
		sorts = append(sorts, fmt.Sprintf("sort[f%d]=asc", i))
	}
	cases := []struct{ query, detail string }{
		{strings.Join(sorts, "&"), "sort names more than the limit of 16 fields"},
		{"fields=" + strings.TrimSuffix(strings.Repeat("a,", 257), ","), "fields names more than the limit of 256 fields"},
		{"scroll_expire=25h", "scroll_expire: 25h is more than the limit of 24h0m0s"},
		{"scroll_expire=100000000000d", "scroll_expire: must be a positive duration"},
	}
	for _, tc := range cases {
		a := c.do("GET", "/api/v2/general/contacts?"+tc.query, tok, nil, nil)
		require.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", tc.query, a.Raw)
		assert.Contains(t, a.JSON(t)["error_details"], tc.detail)
	}
	c.alive(tok)
}

func TestBodyAndURLLimits(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	big := bytes.Repeat([]byte("x"), 10<<20+1)

	a := c.do("POST", "/api/v2/general/contacts", tok, big, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "the request body is larger than the limit of 10485760 bytes", a.JSON(t)["error_details"])

	a = c.do("POST", "/oauth/token", "", big, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "the request body is larger than the limit of 10485760 bytes", a.JSON(t)["error_description"])

	a = c.do("POST", "/sandbox/events", "", big, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "the request body is larger than the limit of 10485760 bytes", a.JSON(t)["message"])

	long := "/api/v2/general/contacts?fields=" + strings.Repeat("a", 33<<10)
	a = c.do("GET", long, tok, nil, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "the URL is longer than the limit of 32768 bytes", a.JSON(t)["error_details"])
	a = c.do("GET", "/sandbox/faults?"+strings.Repeat("a", 33<<10), "", nil, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "the URL is longer than the limit of 32768 bytes", a.JSON(t)["message"])
	c.alive(tok)
}

func TestAdminLimits(t *testing.T) {
	c := start(t, sandbox.Options{})
	tok := c.token()
	a := c.do("POST", "/sandbox/faults", "", map[string]any{"path": "/x", "delay_ms": 600_001}, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Equal(t, "delay_ms", a.JSON(t)["field"])
	assert.Contains(t, a.JSON(t)["message"], "the limit of 600000")
	for i := 0; i < 1000; i++ {
		c.s.AddFault(sandbox.Fault{Path: "/nowhere", Status: 500})
	}
	a = c.do("POST", "/sandbox/faults", "", map[string]any{"path": "/x", "status": 500}, nil)
	require.Equal(t, http.StatusBadRequest, a.Status)
	assert.Contains(t, a.JSON(t)["message"], "1000 faults are armed, the limit")
	require.Equal(t, http.StatusOK, c.do("DELETE", "/sandbox/faults", "", nil, nil).Status)
	c.alive(tok)
}

func TestSTOMPFrameLimits(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	cases := []struct {
		name  string
		raw   string // after a good CONNECT
		error string
	}{
		{"announced body", "SEND\ndestination:api:get:general.stores\ncontent-length:99999999999\n\n", "content-length 99999999999 is more than the limit of 10485760 bytes"},
		{"unannounced body", "SEND\ndestination:api:get:general.stores\n\n" + strings.Repeat("x", 10<<20+1), "the body of a SEND frame is larger than the limit of 10485760 bytes"},
		{"headers", "SEND\n" + strings.Repeat("x-pad:"+strings.Repeat("p", 1000)+"\n", 70), "a frame has more than the limit of 65536 bytes of command and headers"},
		{"header line", "SEND\nx-pad:" + strings.Repeat("p", 70_000), "a frame has more than the limit of 65536 bytes of command and headers"},
		{"malformed header", "SEND\nno colon here\n\n\x00", "malformed header line in a SEND frame: want name:value"},
		{"bad length", "SEND\ncontent-length:-1\n\n\x00", `content-length "-1" is not a byte count`},
		{"body longer than its length", "SEND\ncontent-length:1\n\nxx\x00", "the body of a SEND frame is longer than its content-length 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := dialSTOMP(t, addr, nil)
			sc.login(tok)
			_, err := sc.nc.Write([]byte(tc.raw))
			require.NoError(t, err)
			f := sc.next()
			require.NotNil(t, f)
			require.Equal(t, frame.ERROR, f.Command)
			assert.Equal(t, "Bad frame", f.Header.Get(frame.Message))
			assert.Equal(t, tc.error, string(f.Body))
			sc.waitClosed()
		})
	}
	t.Run("before CONNECT", func(t *testing.T) {
		sc := dialSTOMP(t, addr, nil)
		_, err := sc.nc.Write([]byte("CONNECT\n" + strings.Repeat("x", 70_000)))
		require.NoError(t, err)
		f := sc.next()
		require.Equal(t, frame.ERROR, f.Command)
		assert.Equal(t, "a frame has more than the limit of 65536 bytes of command and headers", string(f.Body))
		sc.waitClosed()
	})
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	sc.send(sendFrame("api:get:general.stores", "still", `{}`))
	assert.Equal(t, "still", sc.next().Header.Get("correlation-id"), "the endpoint serves on")
}
