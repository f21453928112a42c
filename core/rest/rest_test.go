package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
)

// fakeTokens hands out tokens[0], and after each Invalidate the next one.
type fakeTokens struct {
	mu          sync.Mutex
	tokens      []string
	next        int
	invalidated []string
	err         error
}

func (f *fakeTokens) Token(ctx context.Context, interactive bool) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if interactive {
		return nil, errors.New("the channel must never ask for interactive auth")
	}
	return &oauth2.Token{AccessToken: f.tokens[min(f.next, len(f.tokens)-1)]}, nil
}

func (f *fakeTokens) Invalidate(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, tok)
	f.next++
}

type seen struct {
	Method, Path, RawQuery, Body string
	Header                       http.Header
}

// apiServer is an httptest server answering with handle(n, w, r), n counting
// requests from 1, and recording what it saw.
type apiServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newAPIServer(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *apiServer {
	t.Helper()
	s := &apiServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		n := len(s.reqs)
		s.mu.Unlock()
		handle(n, w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) seen() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// testConfig is the channel's config plus what the call pipeline that runs
// plans on it takes (core's client builds both from its config).
type testConfig struct {
	Config
	MaxAttempts int
	Backoff     retry.Backoff
	Sleep       retry.Sleeper
	Idempotency bool
	OnRetry     func(p *call.Plan, attempt int, reason string)
}

// testChannel is a Channel driven through the call pipeline.
type testChannel struct {
	*Channel
	caller *call.Caller
}

func (tc *testChannel) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	return tc.caller.Do(ctx, req, tc.Channel)
}

func newTestChannel(t *testing.T, srv *apiServer, mod func(*testConfig)) *testChannel {
	t.Helper()
	return newChannelFor(t, srv.URL, srv.Client(), mod)
}

func newChannelFor(t *testing.T, base string, client *http.Client, mod func(*testConfig)) *testChannel {
	t.Helper()
	cfg := testConfig{
		Config: Config{
			BaseURL: base + "/api/v2", HTTPClient: client,
			Language: "en", UserAgent: "libsecucard-test", MaxBodyBytes: MaxBodyBytes,
		},
		MaxAttempts: 3,
		Backoff:     retry.Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		Sleep:       retry.NoSleep,
		Idempotency: true,
	}
	if mod != nil {
		mod(&cfg)
	}
	ch, err := New(cfg.Config)
	require.NoError(t, err)
	return &testChannel{Channel: ch, caller: &call.Caller{
		Settings: call.Settings{Idempotency: cfg.Idempotency, Policy: call.Policy{MaxAttempts: cfg.MaxAttempts, Backoff: cfg.Backoff, MaxWait: 30 * time.Second}},
		Pipeline: call.Pipeline{Sleep: cfg.Sleep, Log: cfg.Logger, OnRetry: cfg.OnRetry},
	}}
}

func asErr(t *testing.T, err error) *errs.Error {
	t.Helper()
	var e *errs.Error
	require.ErrorAs(t, err, &e)
	return e
}

const stxJSON = `{"object":"smart.transactions","id":"STX_1","status":"created"}`

func TestHeaders(t *testing.T) {
	cases := []struct {
		name        string
		req         api.Request
		mod         func(*testConfig)
		contentType string
		xAction     string // "gen" = a generated 32-hex id
		auth        string
	}{
		{"create with body", api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{"merchantRef":"m"}`)},
			nil, "application/json", "gen", "Bearer tok-A"},
		{"get has no body, no X-Action", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"},
			nil, "", "", "Bearer tok-A"},
		{"caller's idempotency key wins", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo", IdempotencyKey: "till7-4711"},
			nil, "", "till7-4711", "Bearer tok-A"},
		{"idempotency off", api.Request{Resource: "smart.transactions", Op: api.Delete, ID: "STX_1"},
			func(c *testConfig) { c.Idempotency = false }, "", "", "Bearer tok-A"},
		{"anonymous call", api.Request{Resource: "document.uploads", Op: api.Create, Data: []byte(`{"content":"SGVsbG8h"}`), Anonymous: true},
			nil, "application/json", "gen", ""},
		{"no token source", api.Request{Resource: "smart.idents", Op: api.List},
			func(c *testConfig) { c.Tokens = nil }, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, stxJSON) })
			ch := newTestChannel(t, srv, func(c *testConfig) {
				c.Tokens = &fakeTokens{tokens: []string{"tok-A"}}
				c.Language = "de"
				c.UserAgent = "libsecucard/0.1.0 (test)"
				if tc.mod != nil {
					tc.mod(c)
				}
			})
			_, err := ch.Do(context.Background(), &tc.req)
			require.NoError(t, err)
			got := srv.seen()
			require.Len(t, got, 1)
			h := got[0].Header
			assert.Equal(t, tc.contentType, h.Get("Content-Type"))
			assert.Equal(t, "application/json", h.Get("Accept"))
			assert.Equal(t, "de", h.Get("Accept-Language"))
			assert.Equal(t, "libsecucard/0.1.0 (test)", h.Get("User-Agent"))
			assert.Equal(t, tc.auth, h.Get("Authorization"))
			switch tc.xAction {
			case "gen":
				assert.Regexp(t, `^[0-9a-f]{32}$`, h.Get("X-Action"))
			default:
				assert.Equal(t, tc.xAction, h.Get("X-Action"))
			}
			assert.Equal(t, string(tc.req.Data), got[0].Body)
		})
	}
}

func TestXActionIdenticalAcrossRetries(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n < 3 {
			writeJSON(w, 503, `{"status":"error","error":"ProductInternalException","error_details":"busy"}`)
			return
		}
		writeJSON(w, 201, stxJSON)
	})
	var retries []int
	ch := newTestChannel(t, srv, func(c *testConfig) {
		c.OnRetry = func(p *call.Plan, attempt int, reason string) { retries = append(retries, attempt) }
	})
	out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{"merchantRef":"m"}`)})
	require.NoError(t, err)
	assert.JSONEq(t, stxJSON, string(out))
	got := srv.seen()
	require.Len(t, got, 3)
	id := got[0].Header.Get("X-Action")
	require.NotEmpty(t, id)
	for _, r := range got {
		assert.Equal(t, id, r.Header.Get("X-Action"))
		assert.Equal(t, `{"merchantRef":"m"}`, r.Body, "the body is resent unchanged")
	}
	assert.Equal(t, []int{1, 2}, retries)
}

func TestPostWithoutXActionIsNotRetriedOn503(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, `{"status":"error","error":"ProductInternalException","error_details":"terminal busy"}`)
	})
	ch := newTestChannel(t, srv, func(c *testConfig) { c.Idempotency = false })
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "cash"})
	e := asErr(t, err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, 503, e.Status)
	assert.Contains(t, e.Message, "terminal busy; the server may have acted on it: look it up before repeating it")
	assert.False(t, e.Retryable, "a POST without X-Action must not be called safe to repeat")
	assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
	assert.Len(t, srv.seen(), 1)
}

func TestGetRetriedUpToMaxAttempts(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, `{"status":"error","error":"ProductInternalException","error_details":"down"}`)
	})
	ch := newTestChannel(t, srv, func(c *testConfig) { c.MaxAttempts = 4 })
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
	e := asErr(t, err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, 503, e.Status)
	assert.True(t, e.Retryable)
	assert.Len(t, srv.seen(), 4)
}

// flakyDialer fails the first dial, then connects normally: the request was
// provably never written.
func flakyDialer(fails int) (func(ctx context.Context, network, addr string) (net.Conn, error), *atomic.Int32) {
	var n atomic.Int32
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if int(n.Add(1)) <= fails {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		return d.DialContext(ctx, network, addr)
	}, &n
}

func TestPostRetriedWhenConnectionFailedBeforeWrite(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, stxJSON) })
	dial, dials := flakyDialer(1)
	ch := newTestChannel(t, srv, func(c *testConfig) {
		c.Idempotency = false
		c.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dial}}
	})
	out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"})
	require.NoError(t, err)
	assert.JSONEq(t, stxJSON, string(out))
	assert.Equal(t, int32(2), dials.Load())
	assert.Len(t, srv.seen(), 1, "the server saw the call exactly once")
}

func TestPostNotRetriedWhenConnectionDroppedAfterWrite(t *testing.T) {
	for _, withID := range []bool{false, true} {
		t.Run(map[bool]string{false: "no X-Action", true: "with X-Action"}[withID], func(t *testing.T) {
			srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					// The server read the request and then the line died.
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						_ = conn.Close()
					}
					return
				}
				writeJSON(w, 200, stxJSON)
			})
			ch := newTestChannel(t, srv, func(c *testConfig) { c.Idempotency = withID })
			out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)})
			if !withID {
				e := asErr(t, err)
				assert.Equal(t, errs.Network, e.Kind)
				assert.False(t, e.Retryable)
				assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
				assert.Empty(t, e.IdempotencyKey, "idempotency off: no key was sent")
				assert.Len(t, srv.seen(), 1, "a POST that may have arrived is not sent again")
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, stxJSON, string(out))
			got := srv.seen()
			require.Len(t, got, 2)
			assert.Equal(t, got[0].Header.Get("X-Action"), got[1].Header.Get("X-Action"))
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "2")
			writeJSON(w, 429, `{"status":"error","error":"TooManyRequests","error_details":"slow down"}`)
			return
		}
		writeJSON(w, 200, `{"result":true}`)
	})
	var mu sync.Mutex
	var waits []time.Duration
	ch := newTestChannel(t, srv, func(c *testConfig) {
		c.Idempotency = false // 429 is safe to repeat even without X-Action
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return nil
		}
	})
	out, err := ch.Do(context.Background(), &api.Request{Resource: "general.news", Op: api.Execute, ID: "NEW_1", Action: "markRead"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"result":true}`, string(out))
	require.Len(t, waits, 1)
	assert.GreaterOrEqual(t, waits[0], 2*time.Second)
}

func TestDeadlineShorterThanBackoffFailsPromptlyWithTheLastFailure(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 503, `{"status":"error","error":"ProductInternalException","error_details":"maintenance","supportId":"sup-1"}`)
	})
	ch := newTestChannel(t, srv, func(c *testConfig) {
		c.Backoff = retry.Backoff{Initial: time.Minute, Max: time.Minute, Jitter: 0.01}
		c.Sleep = retry.Sleep // the real sleeper
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := ch.Do(ctx, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"})
	elapsed := time.Since(start)
	e := asErr(t, err)
	assert.Equal(t, errs.API, e.Kind, "the last real failure is reported")
	assert.Equal(t, "maintenance", e.Message)
	assert.Equal(t, 503, e.Status)
	assert.Equal(t, "sup-1", e.SupportID)
	assert.True(t, e.Retryable, "a read may be repeated later")
	assert.Less(t, elapsed, 5*time.Second, "must not wait for a backoff that cannot fit (the deadline is 10 s away)")
	assert.Len(t, srv.seen(), 1)
}

func TestTokenReplayAfter401(t *testing.T) {
	t.Run("replay once then success", func(t *testing.T) {
		srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok-fresh" {
				writeJSON(w, 401, `{"error":"invalid_token","error_description":"expired"}`)
				return
			}
			writeJSON(w, 200, stxJSON)
		})
		tokens := &fakeTokens{tokens: []string{"tok-stale", "tok-fresh"}}
		ch := newTestChannel(t, srv, func(c *testConfig) { c.Tokens = tokens; c.MaxAttempts = 1 })
		out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)})
		require.NoError(t, err)
		assert.JSONEq(t, stxJSON, string(out))
		assert.Equal(t, []string{"tok-stale"}, tokens.invalidated)
		got := srv.seen()
		require.Len(t, got, 2)
		assert.Equal(t, got[0].Header.Get("X-Action"), got[1].Header.Get("X-Action"), "the replay is the same call")
	})
	t.Run("second 401 is token_rejected", func(t *testing.T) {
		srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"status":"error","error":"ProductSecurityException","error_details":"token not accepted","code":"10001","supportId":"abc123"}`)
		})
		tokens := &fakeTokens{tokens: []string{"tok-1", "tok-2", "tok-3"}}
		ch := newTestChannel(t, srv, func(c *testConfig) { c.Tokens = tokens })
		_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
		e := asErr(t, err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Equal(t, errs.ReasonTokenRejected, e.Reason)
		assert.Equal(t, 401, e.Status)
		assert.Equal(t, "ProductSecurityException", e.ErrorName)
		assert.Equal(t, "10001", e.Code)
		assert.Equal(t, "abc123", e.SupportID)
		assert.False(t, e.Retryable)
		assert.Equal(t, []string{"tok-1"}, tokens.invalidated)
		assert.Len(t, srv.seen(), 2)
	})
	t.Run("401 on an anonymous call is an auth error without replay", func(t *testing.T) {
		srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 401, `{"status":"error","error":"ProductSecurityException","error_details":"login required"}`)
		})
		tokens := &fakeTokens{tokens: []string{"tok-1"}}
		ch := newTestChannel(t, srv, func(c *testConfig) { c.Tokens = tokens })
		_, err := ch.Do(context.Background(), &api.Request{Resource: "general.accounts", Op: api.Create, Data: []byte(`{}`), Anonymous: true})
		e := asErr(t, err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Empty(t, e.Reason)
		assert.Equal(t, "login required", e.Message)
		assert.Empty(t, tokens.invalidated)
		assert.Len(t, srv.seen(), 1)
	})
	t.Run("token source error returned as is", func(t *testing.T) {
		srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, stxJSON) })
		want := errs.AuthError("oauth.token", errs.ReasonNotAuthorized, "an interactive grant is needed: call Open first")
		ch := newTestChannel(t, srv, func(c *testConfig) { c.Tokens = &fakeTokens{err: want} })
		_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
		e := asErr(t, err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Equal(t, errs.ReasonNotAuthorized, e.Reason)
		assert.Equal(t, want.Message, e.Message)
		assert.Equal(t, errs.OutcomeNotSent, e.Outcome)
		assert.Empty(t, srv.seen(), "nothing is sent without a token")
	})
}

func TestEnvelopeMapping(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		want    errs.Error
		message string // substring
	}{
		{"code as number", 404,
			`{"status":"error","error":"ProductNotFoundException","error_details":"Transaction not found","error_user":"Vorgang nicht gefunden","code":404001,"supportId":"8d1c"}`,
			errs.Error{Kind: errs.API, Status: 404, ErrorName: "ProductNotFoundException", Details: "Transaction not found", UserMessage: "Vorgang nicht gefunden", Code: "404001", SupportID: "8d1c"},
			"Transaction not found"},
		{"code as string", 400,
			`{"status":"error","error":"ProductNotAllowedException","error_details":"Basket is empty","error_user":"","code":"1004","supportId":"ff00"}`,
			errs.Error{Kind: errs.API, Status: 400, ErrorName: "ProductNotAllowedException", Details: "Basket is empty", Code: "1004", SupportID: "ff00"},
			"Basket is empty"},
		{"no details: generic message", 403, `{"status":"error","error":"ProductSecurityException"}`,
			errs.Error{Kind: errs.API, Status: 403, ErrorName: "ProductSecurityException"},
			"HTTP 403 with ProductSecurityException"},
		{"oauth style body", 400, `{"error":"invalid_request","error_description":"missing parameter"}`,
			errs.Error{Kind: errs.API, Status: 400, ErrorName: "invalid_request", Details: "missing parameter"},
			"missing parameter"},
		{"no envelope", 502, `<html><body>Bad Gateway access_token=abcdef1234567890</body></html>`,
			errs.Error{Kind: errs.API, Status: 502},
			"HTTP 502 Bad Gateway without an error body"},
		{"empty body", 418, ``, errs.Error{Kind: errs.API, Status: 418}, "HTTP 418"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.body) })
			ch := newTestChannel(t, srv, func(c *testConfig) { c.MaxAttempts = 1 })
			_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"})
			e := asErr(t, err)
			assert.Equal(t, tc.want.Kind, e.Kind)
			assert.Equal(t, tc.want.Status, e.Status)
			assert.Equal(t, tc.want.ErrorName, e.ErrorName)
			assert.Equal(t, tc.want.Details, e.Details)
			assert.Equal(t, tc.want.UserMessage, e.UserMessage)
			assert.Equal(t, tc.want.Code, e.Code)
			assert.Equal(t, tc.want.SupportID, e.SupportID)
			assert.Equal(t, "smart.transactions.get", e.Op)
			assert.Contains(t, e.Message, tc.message)
			assert.NotContains(t, e.Error(), "abcdef1234567890", "body excerpts are redacted")
		})
	}
}

func TestAnswers(t *testing.T) {
	cases := []struct {
		name   string
		op     api.Request
		status int
		body   string
		want   string // JSON; "" when an error is expected
		kind   errs.Kind
	}{
		{"object passed through", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, 200, stxJSON, stxJSON, ""},
		{"result passed through", api.Request{Resource: "loyalty.merchantcards", Op: api.Execute, ID: "me", Action: "CheckCsc", Data: []byte(`{}`)}, 200, `{"result":"true"}`, `{"result":"true"}`, ""},
		{"204 is null", api.Request{Resource: "payment.customers", Op: api.Delete, ID: "PCU_1"}, 204, ``, `null`, ""},
		{"202 without body is null", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "cancel"}, 202, ``, `null`, ""},
		{"empty 200 is null", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "cancel"}, 200, "  \n", `null`, ""},
		{"list data null is []", api.Request{Resource: "general.devices", Op: api.List}, 200, `{"count":0,"data":null}`, `{"count":0,"data":[]}`, ""},
		{"empty list answer is an empty list", api.Request{Resource: "smart.idents", Op: api.List}, 204, ``, `{"count":0,"data":[]}`, ""},
		{"list keeps scroll_id", api.Request{Resource: "smart.idents", Op: api.List}, 200, `{"count":"3","data":[{"id":"smi_1"}],"scroll_id":"s1"}`,
			`{"count":3,"data":[{"id":"smi_1"}],"scroll_id":"s1"}`, ""},
		{"list as bare array", api.Request{Resource: "smart.idents", Op: api.List}, 200, `[{"id":"smi_1"},{"id":"smi_2"}]`,
			`{"count":2,"data":[{"id":"smi_1"},{"id":"smi_2"}]}`, ""},
		{"non-JSON 2xx", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, 200, `<html>Welcome to Hotel WiFi</html>`, "", errs.Network},
		{"truncated 2xx object", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, 200, `{"object":"smart.transactions","id":"STX_1",`, "", errs.Network},
		{"list answer not an object", api.Request{Resource: "smart.idents", Op: api.List}, 200, `"nope"`, "", errs.Network},
		{"2xx carrying an error envelope", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"}, 200,
			`{"status":"error","error":"ProductNotFoundException","error_details":"gone"}`, "", errs.API},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, tc.status, tc.body) })
			ch := newTestChannel(t, srv, nil)
			out, err := ch.Do(context.Background(), &tc.op)
			if tc.kind != "" {
				e := asErr(t, err)
				assert.Equal(t, tc.kind, e.Kind)
				assert.Equal(t, tc.status, e.Status)
				if tc.kind == errs.Network {
					// Something answered that is not the API (a proxy page):
					// a read may be repeated, as any read whose outcome is
					// unknown.
					assert.Contains(t, e.Message, "unreadable answer")
					assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
					assert.True(t, e.Retryable)
					assert.Len(t, srv.seen(), 3)
				} else {
					assert.Equal(t, errs.OutcomeRejected, e.Outcome)
					assert.Len(t, srv.seen(), 1, "an API error is not repeated")
				}
				return
			}
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(out))
		})
	}
}

func TestBodyCap(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"data":"`+strings.Repeat("x", 1000)+`"}`)
	})
	ch := newTestChannel(t, srv, func(c *testConfig) { c.MaxBodyBytes = 100 })
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"})
	e := asErr(t, err)
	assert.Equal(t, errs.Network, e.Kind)
	assert.Contains(t, e.Message, "exceeds the size cap")
	assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	ch := newTestChannel(t, srv, nil)
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)})
	e := asErr(t, err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, http.StatusFound, e.Status)
	got := srv.seen()
	require.Len(t, got, 1)
	assert.Equal(t, "/api/v2/smart/transactions", got[0].Path)
}

func TestDeadlineAndCancelWhileWaiting(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	ch := newTestChannel(t, srv, nil)

	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := ch.Do(ctx, &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo"})
		e := asErr(t, err)
		assert.Equal(t, errs.Timeout, e.Kind)
		assert.Contains(t, e.Message, "server may have acted", "the till must know a payment may have run")
	})
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := ch.Do(ctx, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1"})
			done <- err
		}()
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("request never arrived")
		}
		for len(arrived) > 0 {
			<-arrived
		}
		cancel()
		select {
		case err := <-done:
			e := asErr(t, err)
			assert.Equal(t, errs.Canceled, e.Kind)
			assert.True(t, e.Retryable, "a read the host canceled may be repeated")
		case <-time.After(10 * time.Second):
			t.Fatal("Do did not return after cancel")
		}
	})
}

func TestPerCallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	ch := newTestChannel(t, srv, func(c *testConfig) { c.MaxAttempts = 1 })
	_, err := ch.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List, TimeoutMS: 50})
	e := asErr(t, err)
	assert.Equal(t, errs.Timeout, e.Kind)
	assert.True(t, e.Retryable, "a GET that timed out may be repeated")
}

func TestInvalidRequests(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, stxJSON) })
	ch := newTestChannel(t, srv, nil)
	cases := []struct {
		name  string
		req   *api.Request
		field string
	}{
		{"nil request", nil, "request"},
		{"data on a GET", &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_1", Data: []byte(`{"x":1}`)}, "data"},
		{"missing op", &api.Request{Resource: "smart.transactions"}, "op"},
		{"update without id", &api.Request{Resource: "smart.transactions", Op: api.Update, Data: []byte(`{}`)}, "id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ch.Do(context.Background(), tc.req)
			e := asErr(t, err)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, tc.field, e.Field)
		})
	}
	assert.Empty(t, srv.seen())
}

func TestLogsCarryNoSecrets(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			writeJSON(w, 503, `{"status":"error","error":"ProductInternalException","error_details":"busy"}`)
			return
		}
		writeJSON(w, 200, `{"result":true,"echo":{"cardnumber":"4111111111111111","csc":"123"}}`)
	})
	var mu sync.Mutex
	var lines []string
	log := logging.New(logging.SinkFunc(func(l logging.Level, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}), logging.Trace)
	ch := newTestChannel(t, srv, func(c *testConfig) {
		c.Logger = log
		c.Tokens = &fakeTokens{tokens: []string{"tok-9f8e7d6c5b4a"}}
	})
	_, err := ch.Do(context.Background(), &api.Request{Resource: "loyalty.merchantcards", Op: api.Execute, ID: "me", Action: "CheckCsc",
		Data: []byte(`{"cardnumber":"4111111111111111","csc":"987"}`)})
	require.NoError(t, err)
	_, err = ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Q: "merchantRef:Kunde-Meier"}})
	require.NoError(t, err)

	mu.Lock()
	all := strings.Join(lines, "\n")
	mu.Unlock()
	assert.Contains(t, all, "POST "+srv.URL+"/api/v2/loyalty/merchantcards/me/CheckCsc -> 503")
	assert.Contains(t, all, "repeat 1")
	assert.Contains(t, all, "request body:", "trace logs bodies")
	for _, secret := range []string{"tok-9f8e7d6c5b4a", "4111111111111111", `"987"`, "Kunde-Meier"} {
		assert.NotContains(t, all, secret)
	}
}

func TestConcurrentCallsShareTheChannel(t *testing.T) {
	srv := newAPIServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"object": "smart.transactions", "id": strings.TrimPrefix(r.URL.Path, "/api/v2/smart/transactions/")})
	})
	ch := newTestChannel(t, srv, func(c *testConfig) { c.Tokens = &fakeTokens{tokens: []string{"t"}} })
	var wg sync.WaitGroup
	errsCh := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := "STX_" + strings.Repeat("A", i+1)
			out, err := ch.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: id})
			if err == nil && !strings.Contains(string(out), id) {
				err = errors.New("wrong answer for " + id)
			}
			errsCh <- err
		}(i)
	}
	wg.Wait()
	close(errsCh)
	for err := range errsCh {
		assert.NoError(t, err)
	}
}

// A certificate the client does not trust fails at once, for a read and for
// a keyed write alike: a repeat cannot succeed.
func TestCertificateFailureIsNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, stxJSON) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ch := newChannelFor(t, srv.URL, nil, nil) // system roots: the test CA is unknown
	for _, req := range []api.Request{
		{Resource: "smart.idents", Op: api.List},
		{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)},
	} {
		conns.Store(0)
		_, err := ch.Do(context.Background(), &req)
		e := asErr(t, err)
		assert.Equal(t, errs.Network, e.Kind)
		assert.Equal(t, errs.ReasonCertificate, e.Reason)
		assert.False(t, e.Retryable)
		assert.Equal(t, errs.OutcomeNotSent, e.Outcome)
		assert.Contains(t, e.Message, "certificate")
		assert.Equal(t, int32(1), conns.Load(), "one handshake, no repeat")
	}
}
