package stomp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/rest"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

func createTx(t *testing.T, c *Channel, sum int) string {
	t.Helper()
	res, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create,
		Data: json.RawMessage(fmt.Sprintf(`{"basket_info":{"sum":%d,"currency":"EUR"}}`, sum))})
	require.NoError(t, err)
	var tx struct{ ID string }
	require.NoError(t, json.Unmarshal(res, &tx))
	require.NotEmpty(t, tx.ID)
	return tx.ID
}

func stompRecords(s *sandbox.Server, suffix string) []sandbox.RequestRecord {
	var out []sandbox.RequestRecord
	for _, r := range s.Requests() {
		if r.Method == "STOMP" && strings.HasSuffix(r.Path, suffix) {
			out = append(out, r)
		}
	}
	return out
}

func TestSandboxOperations(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	c := open(t, sb.config())
	ctx := context.Background()
	id := createTx(t, c, 1250)

	tests := []struct {
		name string
		req  api.Request
		want func(t *testing.T, res json.RawMessage)
	}{
		{"get by id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: id}, func(t *testing.T, res json.RawMessage) {
			assert.Contains(t, string(res), `"id":"`+id+`"`)
		}},
		{"update", api.Request{Resource: "smart.transactions", Op: api.Update, ID: id, Data: json.RawMessage(`{"merchantRef":"till-7"}`)},
			func(t *testing.T, res json.RawMessage) { assert.Contains(t, string(res), `"merchantRef":"till-7"`) }},
		{"execute with id-less action", api.Request{Resource: "smart.transactions", Op: api.Execute, Action: "diagnosis", Data: json.RawMessage(`"smart.transactions"`)},
			func(t *testing.T, res json.RawMessage) { assert.NotEqual(t, "null", string(res)) }},
		{"list with fields array and ordered sort object", api.Request{Resource: "general.stores", Op: api.List,
			Query: &api.Query{Fields: []string{"id"}, Sort: []api.SortField{{Field: "id", Order: "desc"}}}},
			func(t *testing.T, res json.RawMessage) {
				var page struct {
					Count int
					Data  []map[string]any
				}
				require.NoError(t, json.Unmarshal(res, &page))
				require.Len(t, page.Data, 3)
				assert.Equal(t, "STO_SANDBOX00000000000000000000003", page.Data[0]["id"])
				assert.NotContains(t, page.Data[0], "name", "fields reached the server as a list")
			}},
		{"empty list is a list", api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Q: "id:nothing-matches"}},
			func(t *testing.T, res json.RawMessage) { assert.JSONEq(t, `{"count":0,"data":[]}`, string(res)) }},
		{"custom app call", api.Request{Resource: "general.apps", Op: api.Execute, AppID: "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG", Action: "ping"},
			func(t *testing.T, res json.RawMessage) { assert.JSONEq(t, `{"result":true}`, string(res)) }},
		{"delete", api.Request{Resource: "smart.transactions", Op: api.Delete, ID: id},
			func(t *testing.T, res json.RawMessage) { assert.Contains(t, string(res), id) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := do(c, ctx, &tc.req)
			require.NoError(t, err)
			tc.want(t, res)
		})
	}
	assert.NotEmpty(t, stompRecords(sb.s, "app:ping"), "the app call went out as app:<action>")
	assert.Equal(t, 0, c.inFlight())
}

// Both channels map the same error envelope to the same typed error.
func TestErrorsMatchREST(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	c := open(t, sb.config())
	rc, err := rest.New(rest.Config{BaseURL: sb.s.URL() + "/api/v2", Tokens: sb.tokens, Language: "en", UserAgent: "t", MaxBodyBytes: rest.MaxBodyBytes})
	require.NoError(t, err)
	ctx := context.Background()
	id := createTx(t, c, 100)

	tests := []struct {
		name string
		req  api.Request
	}{
		{"unknown id", api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_DOESNOTEXIST00000000000000000"}},
		{"unknown action", api.Request{Resource: "general.stores", Op: api.Execute, ID: "STO_SANDBOX00000000000000000000001", Action: "fly"}},
		{"bad start type", api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "bitcoin"}},
		{"bad q", api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Q: "(status:ok"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r1, r2 := tc.req, tc.req
			_, serr := do(c, ctx, &r1)
			_, rerr := testCaller(true).Do(ctx, &r2, rc)
			require.Error(t, serr)
			require.Error(t, rerr)
			s, r := errs.As(serr), errs.As(rerr)
			assert.Equal(t, r.Kind, s.Kind)
			assert.Equal(t, r.ErrorName, s.ErrorName)
			assert.Equal(t, r.Code, s.Code)
			assert.Equal(t, r.Details, s.Details)
			assert.Equal(t, r.UserMessage, s.UserMessage)
			assert.Equal(t, r.Message, s.Message)
			assert.NotEmpty(t, s.SupportID)
			assert.Equal(t, r.Op, s.Op)
		})
	}
}

func TestConcurrentRequests(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	c := open(t, sb.config())
	const workers, per = 16, 13 // 208 requests
	var wg sync.WaitGroup
	errc := make(chan error, workers*per)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				ref := fmt.Sprintf("w%d-%d", w, i)
				res, err := do(c, context.Background(), &api.Request{Resource: "general.contacts", Op: api.Create,
					Data: json.RawMessage(`{"forename":"` + ref + `"}`)})
				if err != nil {
					errc <- err
					continue
				}
				// Each caller gets its own answer, not another's.
				if !strings.Contains(string(res), `"forename":"`+ref+`"`) {
					errc <- fmt.Errorf("request %s got %s", ref, res)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	assert.Equal(t, 0, c.inFlight())
	assert.Len(t, stompRecords(sb.s, "api:add:general.contacts"), workers*per)
}

// A reply after its request gave up is discarded; nothing stays behind.
func TestLateReplyIsDiscarded(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: 100 * time.Millisecond})
	c := open(t, sb.config())
	id := createTx(t, c, 500)

	_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id,
		Action: "start", Arg: "cash", TimeoutMS: 50})
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Timeout, e.Kind)
	assert.Contains(t, e.Message, "the server may have acted on it: look it up before repeating it")
	assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
	assert.False(t, e.Retryable)
	assert.Equal(t, 0, c.inFlight(), "the waiter is gone at once")

	testkit.WaitFor(t, 5*time.Second, "the late reply", func() bool { return c.late.Load() == 1 })
	assert.Equal(t, 0, c.inFlight())
	res, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: id})
	require.NoError(t, err, "the channel still works")
	assert.Contains(t, string(res), `"status":"ok"`, "the start ran to its end on the server")
}

// The broker drops the connection while a request waits. A payment start is
// never sent again, with or without its x-action id (the server's dedupe is
// unknown and a terminal charges money): the error says the outcome is
// unknown and carries the id that was sent. A create with an x-action id is
// re-sent after the reconnect with the same id, and runs once.
func TestDropMidRequest(t *testing.T) {
	tests := []struct {
		name      string
		req       func(id string) api.Request
		idem      bool
		wantErr   bool
		wantSends int
		dest      string
	}{
		{"payment start without x-action: not re-sent", func(id string) api.Request {
			return api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "cash"}
		}, false, true, 1, ".start"},
		{"payment start with x-action: not re-sent either", func(id string) api.Request {
			return api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "cash", IdempotencyKey: "till-7-payment-42"}
		}, false, true, 1, ".start"},
		{"create with x-action: re-sent once with the same id", func(string) api.Request {
			return api.Request{Resource: "general.contacts", Op: api.Create, Data: json.RawMessage(`{"forename":"Ada"}`), IdempotencyKey: "till-7-contact-1"}
		}, true, false, 2, "general.contacts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sb := startSandbox(t, sandbox.Options{StartDelay: 150 * time.Millisecond})
			c := open(t, sb.config())
			id := createTx(t, c, 700)
			// Hold the create so the drop finds it waiting; the start waits
			// on the simulated terminal anyway.
			sb.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Method: "POST", Path: "/general/contacts", DelayMS: 5000})
			req := tc.req(id)

			done := make(chan error, 1)
			var res json.RawMessage
			go func() {
				var err error
				res, err = doWith(testCaller(tc.idem), c, context.Background(), &req)
				done <- err
			}()
			testkit.WaitFor(t, 5*time.Second, "the request to reach the sandbox", func() bool {
				return len(stompRecords(sb.s, tc.dest)) == 1
			})
			require.Equal(t, 1, sb.s.DropSTOMPConnections())
			err := <-done
			if tc.wantErr {
				require.Error(t, err)
				e := errs.As(err)
				assert.Equal(t, errs.Network, e.Kind)
				assert.False(t, e.Retryable)
				assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
				assert.Equal(t, req.IdempotencyKey, e.IdempotencyKey)
				assert.Contains(t, e.Message, "look it up before repeating it")
			} else {
				require.NoError(t, err)
				assert.Contains(t, string(res), `"forename":"Ada"`)
			}
			testkit.WaitFor(t, 5*time.Second, "the reconnect", func() bool { return c.Reconnects() == 1 && c.Connected() })
			sends := stompRecords(sb.s, tc.dest)
			assert.Len(t, sends, tc.wantSends)
			for _, r := range sends {
				assert.Equal(t, req.IdempotencyKey, r.XAction)
			}
			states := sb.events.states()
			assert.Equal(t, []string{event.Disconnected, event.Reconnecting, event.Connected}, states[len(states)-3:])

			if req.Action == "start" {
				// The next call works, and the one start ran to its end.
				testkit.WaitFor(t, 5*time.Second, "the start to finish", func() bool {
					got, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: id})
					require.NoError(t, err)
					return strings.Contains(string(got), `"status":"ok"`)
				})
				return
			}
			list, err := do(c, context.Background(), &api.Request{Resource: "general.contacts", Op: api.List, Query: &api.Query{Q: "forename:Ada"}})
			require.NoError(t, err)
			assert.Contains(t, string(list), `"count":1`, "the re-sent create ran once")
		})
	}
}

// An expired token is refused by the server; the channel refreshes it,
// logs in again with the new one and answers the call.
func TestTokenExpiryReconnects(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	c := open(t, sb.config())
	first := sb.tokens.current()
	sb.s.ExpireTokens()

	res, err := do(c, context.Background(), &api.Request{Resource: "general.stores", Op: api.Get, ID: "STO_SANDBOX00000000000000000000001"})
	require.NoError(t, err)
	assert.Contains(t, string(res), "STO_SANDBOX00000000000000000000001")
	second := sb.tokens.current()
	assert.NotEqual(t, first, second)
	fetches, invalidations := sb.tokens.counts()
	assert.Equal(t, 2, fetches)
	assert.Equal(t, 1, invalidations)
	assert.Equal(t, int64(1), c.Reconnects())
	testkit.WaitFor(t, 5*time.Second, "the old connection to be drained", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.conns) == 1
	})
}

// A token refresh elsewhere (OnTokenChange) moves the channel to the new
// token without failing a call that is waiting on the old connection.
func TestTokenChangeKeepsCallsInFlight(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: 100 * time.Millisecond})
	c := open(t, sb.config())
	id := createTx(t, c, 900)
	done := make(chan error, 1)
	go func() {
		_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "cash"})
		done <- err
	}()
	testkit.WaitFor(t, 5*time.Second, "the start to run", func() bool { return len(stompRecords(sb.s, ".start")) == 1 })
	_, err := sb.tokens.rotate(context.Background())
	require.NoError(t, err)
	testkit.WaitFor(t, 5*time.Second, "the login with the new token", func() bool { return c.Reconnects() == 1 })
	require.NoError(t, <-done, "the start on the old connection got its answer")
	cn := c.current()
	require.NotNil(t, cn)
	assert.Equal(t, sb.tokens.current(), cn.token)
	states := sb.events.connection()
	last := states[len(states)-2:]
	assert.Equal(t, event.Reconnecting, last[0].State)
	assert.Equal(t, "the access token changed", last[0].Reason)
	assert.Equal(t, event.Connected, last[1].State)
}

func TestBadConnect(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	good, err := sandboxToken(sb.s)
	require.NoError(t, err)
	tests := []struct {
		name     string
		tokens   []string // handed out in order, the last one repeats
		wantErr  bool
		fetches  int
		invalids int
	}{
		{"refused twice: auth error after one refresh", []string{"bogus-token-1", "bogus-token-2"}, true, 2, 2},
		{"refused once: the fresh token works", []string{"bogus-token-1", good}, false, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			tokens := newTokens(func() (string, error) {
				tok := tc.tokens[min(n, len(tc.tokens)-1)]
				n++
				return tok, nil
			})
			cfg := sb.config()
			cfg.Tokens = tokens
			c, err := New(cfg)
			require.NoError(t, err)
			defer c.Close(context.Background())
			err = c.Connect(context.Background())
			fetches, invalids := tokens.counts()
			assert.Equal(t, tc.fetches, fetches)
			assert.Equal(t, tc.invalids, invalids)
			if !tc.wantErr {
				require.NoError(t, err)
				assert.True(t, c.Connected())
				return
			}
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Auth, e.Kind)
			assert.Equal(t, errs.ReasonTokenRejected, e.Reason)
			assert.Contains(t, e.Message, "Bad CONNECT")
			assert.NotContains(t, e.Error(), "bogus-token", "the token never appears in an error")
			assert.False(t, c.Connected())
		})
	}
}

// Pushes arrive in order, and the display events of a start arrive before
// its reply.
func TestEventsInOrder(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: 10 * time.Millisecond})
	c := open(t, sb.config())
	id := createTx(t, c, 1999)
	_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "cash"}) // cash never declines; this test is about order
	require.NoError(t, err)
	// Delivered by the reader before it delivered the reply: no waiting.
	var texts []string
	for _, ev := range sb.events.pushes() {
		require.Equal(t, "general.notifications/display", ev.Target+"/"+ev.Type,
			"a start pushes only display events (spec §5.3)")
		var d struct{ Text string }
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		texts = append(texts, d.Text)
	}
	require.Len(t, texts, 3, "the terminal's display steps")
	assert.True(t, strings.HasPrefix(texts[0], "Betrag: 19,99"), texts[0])

	before := len(sb.events.pushes())
	for i := 0; i < 200; i++ {
		sb.s.Push(sandbox.Event{Target: "general.notifications", Type: "display", Data: json.RawMessage(`{"text":"` + strconv.Itoa(i) + `"}`)})
	}
	testkit.WaitFor(t, 5*time.Second, "200 pushes", func() bool { return len(sb.events.pushes()) == before+200 })
	for i, ev := range sb.events.pushes()[before:] {
		assert.JSONEq(t, `{"text":"`+strconv.Itoa(i)+`"}`, string(ev.Data))
	}
}

// STOMP pushes and webhook bodies give identical envelopes.
func TestPushMatchesWebhook(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	_ = open(t, sb.config())
	sent := sandbox.Event{ID: "EPS_SAME0000000000000000000000000001", Created: "2026-11-23T10:00:00+01:00",
		Target: "Payment.SecupayDebits", Type: "changed", Data: json.RawMessage(`[{"object":"payment.secupaydebits","id":"PCI_1"}]`)}
	sb.s.Push(sent)
	testkit.WaitFor(t, 5*time.Second, "the push", func() bool { return len(sb.events.pushes()) == 1 })
	viaSTOMP := sb.events.pushes()[0]

	webhook := sent
	webhook.Object = "event.pushes"
	body, err := webhook.MarshalJSON()
	require.NoError(t, err)
	viaWebhook, err := event.ParsePush(body)
	require.NoError(t, err)
	assert.Equal(t, string(viaWebhook.JSON()), string(viaSTOMP.JSON()))
	assert.Equal(t, "payment.secupaydebits", viaSTOMP.Target)
}

func TestCallBeforeConnectConnectsLazily(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	c, err := New(sb.config())
	require.NoError(t, err)
	defer c.Close(context.Background())
	res, err := do(c, context.Background(), &api.Request{Resource: "general.stores", Op: api.Get, ID: "STO_SANDBOX00000000000000000000002"})
	require.NoError(t, err)
	assert.Contains(t, string(res), "STO_SANDBOX00000000000000000000002")
	assert.True(t, c.Started())
	assert.Len(t, stompRecords(sb.s, "api:exec:auth.sessions.refresh"), 1, "the lazy connect ran the session refresh")
}

func TestTLS(t *testing.T) {
	sb, sandboxCA := startSandboxTLS(t, sandbox.Options{StartDelay: -1})
	_, otherCA, err := sandbox.SelfSignedTLS()
	require.NoError(t, err)
	tests := []struct {
		name    string
		roots   []byte
		wantErr string
	}{
		{"trusted through the CA file", sandboxCA, ""},
		{"unknown CA is refused", otherCA, "certificate"},
		{"system roots do not know the sandbox", nil, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sb.config()
			cfg.TLS = tlsClientConfig(t, tc.roots)
			c, err := New(cfg)
			require.NoError(t, err)
			defer c.Close(context.Background())
			err = c.Connect(context.Background())
			if tc.wantErr == "" {
				require.NoError(t, err)
				res, err := do(c, context.Background(), &api.Request{Resource: "general.stores", Op: api.Get, ID: "STO_SANDBOX00000000000000000000001"})
				require.NoError(t, err)
				assert.Contains(t, string(res), "STO_SANDBOX")
				return
			}
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Network, e.Kind)
			assert.False(t, e.Retryable)
			assert.Contains(t, e.Message, tc.wantErr)
		})
	}
}

// current returns the connection new requests use (tests).
func (c *Channel) current() *conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

func startSandboxTLS(t *testing.T, opts sandbox.Options) (*sandboxSetup, []byte) {
	t.Helper()
	s := testkit.Sandbox(t, opts)
	conf, ca, err := sandbox.SelfSignedTLS()
	require.NoError(t, err)
	addr, err := s.StartSTOMP("127.0.0.1:0", conf)
	require.NoError(t, err)
	host, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	return &sandboxSetup{s: s, tokens: newTokens(func() (string, error) { return sandboxToken(s) }), events: &events{}, host: host, port: port}, ca
}

func tlsClientConfig(t *testing.T, caPEM []byte) *tls.Config {
	t.Helper()
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPEM != nil {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(caPEM))
		conf.RootCAs = pool
	}
	return conf
}

// A refused token during a reconnect is reported once as an auth error
// event; the channel keeps trying and comes back once a good token exists.
func TestReconnectWithRefusedToken(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	var mu sync.Mutex
	bogus := false
	sb.tokens.fetch = func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if bogus {
			return "refused-token-" + strconv.FormatInt(time.Now().UnixNano(), 10), nil
		}
		return sandboxToken(sb.s)
	}
	c := open(t, sb.config())
	mu.Lock()
	bogus = true
	mu.Unlock()
	sb.s.ExpireTokens()
	sb.s.DropSTOMPConnections()
	testkit.WaitFor(t, 5*time.Second, "several refused attempts", func() bool {
		n := 0
		for _, e := range sb.events.connection() {
			if e.State == event.Reconnecting && strings.Contains(e.Reason, "Bad CONNECT") {
				n++
			}
		}
		return n >= 3
	})
	var authErrors int
	for _, e := range sb.events.All() {
		if e.Kind == event.KindError {
			authErrors++
			assert.Equal(t, errs.Auth, e.Error.Kind)
			assert.Equal(t, errs.ReasonTokenRejected, e.Error.Reason)
		}
	}
	assert.Equal(t, 1, authErrors, "reported once per outage")
	assert.False(t, c.Connected())

	mu.Lock()
	bogus = false
	mu.Unlock()
	testkit.WaitFor(t, 5*time.Second, "the reconnect with a good token", func() bool { return c.Connected() })
	_, err := do(c, context.Background(), &api.Request{Resource: "general.stores", Op: api.Get, ID: "STO_SANDBOX00000000000000000000001"})
	require.NoError(t, err)
}

// The token is the STOMP login, passcode and user-id: no log line, at any
// level, may show it.
func TestNoTokenInLogs(t *testing.T) {
	sb := startSandbox(t, sandbox.Options{StartDelay: -1})
	var mu sync.Mutex
	var lines []string
	cfg := sb.config()
	cfg.Logger = logging.New(logging.SinkFunc(func(_ logging.Level, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}), logging.Trace)
	c := open(t, cfg)
	first := sb.tokens.current()
	id := createTx(t, c, 300)
	_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: id, Action: "start", Arg: "cash"})
	require.NoError(t, err)
	sb.s.ExpireTokens()
	_, err = do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Get, ID: id})
	require.NoError(t, err)
	second := sb.tokens.current()
	require.NoError(t, c.Close(context.Background()))

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, lines)
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "SEND api:exec:smart.transactions.start", "trace logging was on")
	assert.NotContains(t, all, first)
	assert.NotContains(t, all, second)
}
