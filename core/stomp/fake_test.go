package stomp

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

const fakeToken = "tok-0123456789abcdef0123456789"

func TestWireHeaders(t *testing.T) {
	tests := []struct {
		name  string
		vhost string
	}{
		{"without virtual host: no host header", ""},
		{"with virtual host", "secucard"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newFakeBroker(t)
			b.handle = okHandler(`{"result":true}`)
			b.start()
			ev := &events{}
			cfg := b.config(staticTokens(fakeToken), ev)
			cfg.VirtualHost = tc.vhost
			cfg.Heartbeat = 25 * time.Second
			c := open(t, cfg)

			connect := b.received(frame.CONNECT)
			require.Len(t, connect, 1)
			h := connect[0].Header
			assert.Equal(t, "1.2", h.Get(frame.AcceptVersion))
			assert.Equal(t, fakeToken, h.Get(frame.Login))
			assert.Equal(t, fakeToken, h.Get(frame.Passcode))
			assert.Equal(t, "25000,25000", h.Get(frame.HeartBeat))
			host, ok := h.Contains(frame.Host)
			assert.Equal(t, tc.vhost != "", ok)
			assert.Equal(t, tc.vhost, host)

			_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "START", Arg: "demo"})
			require.NoError(t, err)
			_, err = do(c, context.Background(), &api.Request{Resource: "Smart.Idents", Op: api.List,
				Query: &api.Query{Fields: []string{"id", "name"}, Sort: []api.SortField{{Field: "name", Order: "DESC"}, {Field: "id", Order: "asc"}}}})
			require.NoError(t, err)
			_, err = do(c, context.Background(), &api.Request{Resource: "general.apps", Op: api.Execute, AppID: "APP_X", Action: "getMerchantDetails", Data: json.RawMessage(`{"a":1}`)})
			require.NoError(t, err)

			sends := b.received(frame.SEND)
			require.Len(t, sends, 4) // refresh + 3
			want := []struct{ dest, body, xaction, appID string }{
				{"/exchange/connect.api/api:exec:auth.sessions.refresh", `{"pid":"me"}`, "", ""},
				{"/exchange/connect.api/api:exec:smart.transactions.start", `{"pid":"STX_1","sid":"demo"}`, "yes", ""},
				{"/exchange/connect.api/api:get:smart.idents", `{"query":{"fields":["id","name"],"sort":{"name":"desc","id":"asc"}}}`, "", ""},
				{"/exchange/connect.api/app:getMerchantDetails", `{"data":{"a":1}}`, "yes", "APP_X"},
			}
			seen := map[string]bool{}
			for i, f := range sends {
				h := f.Header
				assert.Equal(t, want[i].dest, h.Get(frame.Destination))
				assert.JSONEq(t, want[i].body, string(f.Body))
				assert.Equal(t, "/temp-queue/main", h.Get("reply-to"))
				assert.Equal(t, fakeToken, h.Get("user-id"))
				assert.Equal(t, "application/json", h.Get(frame.ContentType))
				assert.Equal(t, strconv.Itoa(len(f.Body)), h.Get(frame.ContentLength))
				assert.NotEmpty(t, h.Get(frame.Receipt))
				corr := h.Get("correlation-id")
				assert.NotEmpty(t, corr)
				assert.False(t, seen[corr], "correlation-ids are unique")
				seen[corr] = true
				_, hasX := h.Contains("x-action")
				assert.Equal(t, want[i].xaction != "", hasX, "x-action on %s", want[i].dest)
				assert.Equal(t, want[i].appID, h.Get("app-id"))
			}
		})
	}
}

func TestMissingReceipt(t *testing.T) {
	b := newFakeBroker(t)
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command == frame.SEND && isRefresh(f) {
			return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
		}
		return nil // swallow everything else: no RECEIPT, no reply
	}
	b.start()
	cfg := b.config(staticTokens(fakeToken), &events{})
	cfg.ReceiptTimeout = 100 * time.Millisecond
	c := open(t, cfg)
	_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "cash"})
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Network, e.Kind)
	assert.Contains(t, e.Message, "did not confirm the request with a RECEIPT within 100ms")
	assert.False(t, e.Retryable, "a payment start that may have reached the server is never called safe to repeat")
	assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
	assert.NotEmpty(t, e.IdempotencyKey, "the error carries the x-action id that was sent")
	assert.Len(t, b.received(frame.SEND), 2, "the session refresh and one start: never repeated")
	assert.Equal(t, 0, c.inFlight())
}

func TestErrorFrameForASend(t *testing.T) {
	b := newFakeBroker(t)
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command != frame.SEND {
			return nil
		}
		if isRefresh(f) {
			return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
		}
		e := frame.New(frame.ERROR, frame.Message, "not_found", frame.ReceiptId, f.Header.Get(frame.Receipt))
		e.Body = []byte("NOT_FOUND - no exchange 'connect.api' in vhost '/'")
		return []*frame.Frame{e}
	}
	b.start()
	ev := &events{}
	c := open(t, b.config(staticTokens(fakeToken), ev))
	_, err := do(c, context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Network, e.Kind)
	assert.Contains(t, e.Message, `the broker refused the request with ERROR "not_found": "NOT_FOUND - no exchange`)
	assert.False(t, e.Retryable)
	assert.Equal(t, errs.OutcomeRejected, e.Outcome)
	testkit.WaitFor(t, 5*time.Second, "the reconnect after ERROR", func() bool { return c.Reconnects() == 1 })
	states := ev.connection()
	require.GreaterOrEqual(t, len(states), 2)
	assert.Equal(t, event.Disconnected, states[1].State)
	assert.Contains(t, states[1].Reason, `ERROR "not_found"`)
}

func TestHeartbeats(t *testing.T) {
	t.Run("we send heart-beats as negotiated", func(t *testing.T) {
		b := newFakeBroker(t)
		b.connected = func(n int, f *frame.Frame) *frame.Frame {
			return frame.New(frame.CONNECTED, frame.Version, "1.2", frame.Session, "s", frame.HeartBeat, "0,100")
		}
		b.handle = okHandler(`{"result":true}`)
		b.start()
		cfg := b.config(staticTokens(fakeToken), &events{})
		cfg.Heartbeat = 100 * time.Millisecond
		c := open(t, cfg)
		testkit.WaitFor(t, 5*time.Second, "heart-beats", func() bool { return b.heartbeats() >= 3 })
		assert.True(t, c.Connected())
	})
	t.Run("a silent broker is declared dead after 2x its interval", func(t *testing.T) {
		b := newFakeBroker(t)
		b.connected = func(n int, f *frame.Frame) *frame.Frame {
			return frame.New(frame.CONNECTED, frame.Version, "1.2", frame.Session, "s", frame.HeartBeat, "100,0")
		}
		refreshes := 0
		b.handle = func(n int, f *frame.Frame) []*frame.Frame {
			// Answer the first connection's first refresh only, then fall
			// silent (promised heart-beats included).
			if f.Command == frame.SEND && n == 1 && refreshes == 0 {
				refreshes++
				return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
			}
			if f.Command == frame.SEND && n > 1 {
				return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
			}
			return nil
		}
		b.start()
		ev := &events{}
		cfg := b.config(staticTokens(fakeToken), ev)
		cfg.Heartbeat = 100 * time.Millisecond
		cfg.SessionRefreshTimeout = 2 * time.Second
		c := open(t, cfg)
		testkit.WaitFor(t, 5*time.Second, "the dead broker to be noticed", func() bool { return len(ev.connection()) >= 2 })
		down := ev.connection()[1]
		assert.Equal(t, event.Disconnected, down.State)
		assert.Contains(t, down.Reason, "the broker sent nothing (not even a heart-beat) for")
		testkit.WaitFor(t, 5*time.Second, "the reconnect", func() bool { return c.Reconnects() >= 1 })
	})
}

func TestCloseSendsDisconnect(t *testing.T) {
	b := newFakeBroker(t)
	b.handle = okHandler(`{"result":true}`)
	b.start()
	ev := &events{}
	c := open(t, b.config(staticTokens(fakeToken), ev))
	require.NoError(t, c.Close(context.Background()))
	d := b.received(frame.DISCONNECT)
	require.Len(t, d, 1)
	assert.NotEmpty(t, d[0].Header.Get(frame.Receipt))
	assert.False(t, c.Connected())
	assert.Equal(t, []string{event.Connected, event.Disconnected}, ev.states())
	assert.Equal(t, "closed", ev.connection()[1].Reason)

	_, err := do(c, context.Background(), &api.Request{Resource: "smart.idents", Op: api.List})
	assert.Equal(t, errs.Closed, errs.KindOf(err))
	assert.Equal(t, errs.Closed, errs.KindOf(c.Connect(context.Background())))
	require.NoError(t, c.Close(context.Background()), "closing twice is harmless")
}

func TestCloseFailsWaitingCalls(t *testing.T) {
	b := newFakeBroker(t)
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command == frame.SEND && isRefresh(f) {
			return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
		}
		if f.Command == frame.SEND {
			return []*frame.Frame{receiptFor(f)} // and no reply
		}
		return nil
	}
	b.start()
	c := open(t, b.config(staticTokens(fakeToken), &events{}))
	done := make(chan error, 1)
	go func() {
		_, err := do(c, context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "cash", IdempotencyKey: "k1"})
		done <- err
	}()
	testkit.WaitFor(t, 5*time.Second, "the call to wait", func() bool { return c.inFlight() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.NoError(t, c.Close(ctx))
	err := <-done
	assert.Equal(t, errs.Closed, errs.KindOf(err), "%v", err)
}

func TestConnectFailsWhenTheFirstRefreshFails(t *testing.T) {
	b := newFakeBroker(t)
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command == frame.SEND {
			return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"error","error":"ProductNotAllowedException",`+
				`"error_details":"sessions are disabled","error_user":"","code":"77","supportId":"s1"}`)}
		}
		return nil
	}
	b.start()
	c, err := New(b.config(staticTokens(fakeToken), &events{}))
	require.NoError(t, err)
	defer c.Close(context.Background())
	err = c.Connect(context.Background())
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, "stomp.connect", e.Op)
	assert.Contains(t, e.Message, "the first session refresh failed: sessions are disabled")
	assert.Equal(t, "ProductNotAllowedException", e.ErrorName)
	assert.False(t, c.Started())
	assert.False(t, c.Connected())
}

func TestPushThatIsNotAnEvent(t *testing.T) {
	b := newFakeBroker(t)
	var pushed bool
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command != frame.SEND {
			return nil
		}
		out := []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"result":true}}`)}
		if !pushed {
			pushed = true
			m := frame.New(frame.MESSAGE, frame.Destination, "/temp-queue/main", frame.MessageId, "p1")
			m.Body = []byte(`{"object":"event.pushs","type":"display"}`) // no target
			out = append(out, m)
		}
		return out
	}
	b.start()
	ev := &events{}
	c := open(t, b.config(staticTokens(fakeToken), ev))
	testkit.WaitFor(t, 5*time.Second, "the error event", func() bool {
		for _, e := range ev.All() {
			if e.Kind == event.KindError {
				return true
			}
		}
		return false
	})
	assert.True(t, c.Connected(), "a bad push does not hurt the connection")
}

// STOMP replies are read by call.Decode, framed (spec §4.7).
func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name    string
		list    bool
		body    string
		want    string
		kind    errs.Kind
		refused bool
	}{
		{"ok object", false, `{"status":"ok","data":{"id":"X"}}`, `{"id":"X"}`, "", false},
		{"status is case-insensitive", false, `{"status":"OK","data":{"result":true}}`, `{"result":true}`, "", false},
		{"ok without data", false, `{"status":"ok"}`, `null`, "", false},
		{"no status: the body is the answer", false, `{"id":"Y"}`, `{"id":"Y"}`, "", false},
		{"list normalized", true, `{"status":"ok","data":{"count":"2","data":[{"id":1},{"id":2}]}}`, `{"count":2,"data":[{"id":1},{"id":2}]}`, "", false},
		{"list with data null", true, `{"status":"ok","data":{"count":0,"data":null}}`, `{"count":0,"data":[]}`, "", false},
		{"list without data", true, `{"status":"ok"}`, `{"count":0,"data":[]}`, "", false},
		{"list as bare array", true, `{"status":"ok","data":[{"id":1}]}`, `{"count":1,"data":[{"id":1}]}`, "", false},
		{"ProductNotFoundException on a list is empty", true, `{"status":"error","error":"ProductNotFoundException","error_details":"none"}`, `{"count":0,"data":[]}`, "", false},
		{"ProductNotFoundException on a get is an error", false, `{"status":"error","error":"ProductNotFoundException","error_details":"none"}`, "", errs.API, false},
		{"error keys without status", false, `{"error":"ProductInternalException","error_details":"boom"}`, "", errs.API, false},
		{"security exception refuses the token", false, `{"status":"error","error":"ProductSecurityException"}`, "", errs.API, true},
		{"not JSON", false, `<html>`, "", errs.Network, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			op := api.Get
			if tc.list {
				op = api.List
			}
			p := &call.Plan{Name: "x.y.get", Request: &api.Request{Op: op}}
			o := call.Decode(p, call.Reply{Framed: true, Body: []byte(tc.body)}, "tok")
			assert.Equal(t, tc.refused, o.RefusedToken == "tok")
			if tc.kind != "" {
				require.NotNil(t, o.Err)
				assert.Equal(t, tc.kind, o.Err.Kind)
				return
			}
			require.Nil(t, o.Err)
			assert.JSONEq(t, tc.want, string(o.Result))
		})
	}
}

func TestEncodeQuery(t *testing.T) {
	count := 0
	tests := []struct {
		name string
		q    api.Query
		want string
	}{
		{"count zero is sent", api.Query{Count: &count}, `{"count":0}`},
		{"offset and fields", api.Query{Offset: 20, Fields: []string{"a", "b.c"}}, `{"offset":20,"fields":["a","b.c"]}`},
		{"scroll_expire suppresses offset", api.Query{Offset: 20, ScrollExpire: "5m"}, `{"scroll_expire":"5m"}`},
		{"scroll_id sends only scroll and filters", api.Query{Count: &count, Sort: []api.SortField{{Field: "a", Order: "asc"}}, Q: "x:1", ScrollID: "S1"},
			`{"q":"x:1","scroll_id":"S1"}`},
		{"geo", api.Query{Geo: &api.Geo{Lat: "1", Lon: "2"}}, `{"geo":{"lat":"1","lon":"2"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The scroll rules are applied once, when the request is resolved.
			p, err := (&call.Settings{}).Resolve(&api.Request{Resource: "smart.idents", Op: api.List, Query: &tc.q})
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(encodeQuery(p.Request.Query)))
		})
	}
	// Sort priority is the object's key order.
	q := api.Query{Sort: []api.SortField{{Field: "z", Order: "desc"}, {Field: "a", Order: "asc"}}}
	assert.Equal(t, `{"sort":{"z":"desc","a":"asc"}}`, string(encodeQuery(&q)))
}

func TestNewValidates(t *testing.T) {
	tok := staticTokens(fakeToken)
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"host", Config{Port: 1, Tokens: tok}, "stomp.host"},
		{"port", Config{Host: "h", Port: 70000, Tokens: tok}, "stomp.port"},
		{"tokens", Config{Host: "h", Port: 1}, "tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			require.Error(t, err)
			assert.Equal(t, tc.field, errs.As(err).Field)
		})
	}
	good := newFakeBroker(t).config(tok, &events{})
	good.Destination = "/exchange/other"
	c, err := New(good)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(c.cfg.Destination, "/"))

	// The channel fills in no configured value: the client resolves them.
	missing := good
	missing.MessageTimeout = 0
	_, err = New(missing)
	assert.Equal(t, "stomp.message_timeout_ms", errs.As(err).Field)
	missing = good
	missing.Heartbeat = 0
	_, err = New(missing)
	assert.Equal(t, "stomp.heartbeat_ms", errs.As(err).Field)
}

// A panicking event callback costs the event, not the connection.
func TestPanickingOnEventIsContained(t *testing.T) {
	b := newFakeBroker(t)
	pushed := false
	b.handle = func(_ int, f *frame.Frame) []*frame.Frame {
		if f.Command != frame.SEND {
			return nil
		}
		out := []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":{"count":1,"data":[{"id":"CKI_1"}]}}`)}
		if !isRefresh(f) && !pushed {
			pushed = true
			m := frame.New(frame.MESSAGE, frame.Destination, "/temp-queue/main", frame.MessageId, "p1")
			m.Body = []byte(`{"object":"event.pushs","id":"EPS_1","target":"general.notifications","type":"display","data":{"text":"x"}}`)
			out = append([]*frame.Frame{m}, out...)
		}
		return out
	}
	b.start()
	cfg := b.config(staticTokens(fakeToken), &events{})
	cfg.OnEvent = func(e event.Event) {
		if e.Kind == event.KindPush {
			panic("host bug")
		}
	}
	c := open(t, cfg)
	for i := 0; i < 2; i++ {
		res, err := do(c, context.Background(), &api.Request{Resource: "smart.checkins", Op: api.List})
		require.NoError(t, err)
		assert.JSONEq(t, `{"count":1,"data":[{"id":"CKI_1"}]}`, string(res))
	}
	assert.True(t, c.Connected())
	assert.Equal(t, int64(0), c.Reconnects())
}

// A connection can drop between its login and being installed (the broker
// closes right after the first session refresh). Installing it anyway left
// the supervisor watching a dead connection forever instead of reconnecting.
func TestInstallSkipsAnEndedConnection(t *testing.T) {
	c := &Channel{conns: map[*conn]struct{}{}, changed: make(chan struct{})}
	ours, theirs := net.Pipe()
	defer theirs.Close()
	cn := &conn{ch: c, nc: ours, done: make(chan struct{})}
	cn.close(errs.New(errs.Network, "stomp", "the broker went away"))

	c.mu.Lock()
	c.installLocked(cn)
	cur, down, n := c.cur, c.lastDown, len(c.conns)
	c.mu.Unlock()
	assert.Nil(t, cur, "an ended connection is not made current")
	assert.Equal(t, "the broker went away", down, "the supervisor reports why it is down")
	assert.Zero(t, n)

	live := &conn{ch: c, nc: theirs, done: make(chan struct{})}
	c.mu.Lock()
	c.installLocked(live)
	cur, down = c.cur, c.lastDown
	c.mu.Unlock()
	assert.Same(t, live, cur)
	assert.Empty(t, down)
}

// TestPanickingLoopIsRestartedWithBackoff (issue 10.7): a background loop
// that panics is restarted after a growing, capped delay, and every panic is
// reported; it used to be restarted at once, spinning with every panic.
func TestPanickingLoopIsRestartedWithBackoff(t *testing.T) {
	life, quit := context.WithCancel(context.Background())
	defer quit()
	var mu sync.Mutex
	var delays []time.Duration
	reports := 0
	c := &Channel{life: life, cfg: Config{
		Backoff: retry.Backoff{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond, Factor: 2, Jitter: 0.01},
		OnEvent: func(e event.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == event.KindError {
				reports++
				if reports == 6 {
					quit() // enough: the next restart finds the channel closing
				}
			}
		},
	}}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		return ctx.Err()
	}
	var loop func()
	loop = func() {
		defer c.wg.Done()
		defer c.guard("test loop", func() { c.restart("test loop", loop) })
		panic("a bug in the loop")
	}
	c.wg.Add(1)
	go loop()
	c.wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 6, reports, "every panic is reported")
	require.Len(t, delays, 5, "every restart waited; after the sixth panic the channel was closing")
	for i, want := range []time.Duration{10, 20, 40, 80, 80} {
		assert.InDelta(t, float64(want*time.Millisecond), float64(delays[i]), float64(want*time.Millisecond)/50, "restart %d", i+1)
	}
}
