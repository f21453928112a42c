package sandbox_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// stompClient is a raw frame-level client, so the tests see exactly what the
// endpoint puts on the wire.
type stompClient struct {
	t      *testing.T
	nc     net.Conn
	w      *frame.Writer
	frames chan *frame.Frame // closed when the connection ends

	mu    sync.Mutex
	beats int
}

func dialSTOMP(t *testing.T, addr string, conf *tls.Config) *stompClient {
	t.Helper()
	var nc net.Conn
	var err error
	if conf != nil {
		nc, err = tls.Dial("tcp", addr, conf)
	} else {
		nc, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	c := &stompClient{t: t, nc: nc, w: frame.NewWriter(nc), frames: make(chan *frame.Frame, 1000)}
	t.Cleanup(func() { _ = nc.Close() })
	go func() {
		defer close(c.frames)
		rd := frame.NewReader(nc)
		for {
			f, err := rd.Read()
			if err != nil {
				return
			}
			if f == nil {
				c.mu.Lock()
				c.beats++
				c.mu.Unlock()
				continue
			}
			c.frames <- f
		}
	}()
	return c
}

func (c *stompClient) send(f *frame.Frame) {
	c.t.Helper()
	require.NoError(c.t, c.w.Write(f))
}

// next returns the next frame, nil when the connection ended.
func (c *stompClient) next() *frame.Frame {
	c.t.Helper()
	select {
	case f := <-c.frames:
		return f
	case <-time.After(5 * time.Second):
		c.t.Fatal("no frame within 5 s")
		return nil
	}
}

// waitClosed fails the test unless the endpoint closes the connection
// (after any frames still in flight) within 5 s.
func (c *stompClient) waitClosed() {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return
			}
			c.t.Fatalf("unexpected %s frame before the close: %v", f.Command, f.Header)
		case <-deadline:
			c.t.Fatal("the endpoint did not close the connection within 5 s")
		}
	}
}

func (c *stompClient) heartbeats() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.beats
}

// login connects with token and returns CONNECTED.
func (c *stompClient) login(token string, extra ...string) *frame.Frame {
	c.t.Helper()
	c.send(frame.New(frame.CONNECT, append([]string{frame.AcceptVersion, "1.2", frame.Login, token, frame.Passcode, token}, extra...)...))
	f := c.next()
	require.NotNil(c.t, f)
	require.Equal(c.t, frame.CONNECTED, f.Command, "%s %v", f.Body, f.Header)
	return f
}

func sendFrame(dest, corr, body string, extra ...string) *frame.Frame {
	h := []string{frame.Destination, dest, "reply-to", "/temp-queue/main", frame.ContentType, "application/json",
		frame.ContentLength, strconv.Itoa(len(body))}
	if corr != "" {
		h = append(h, "correlation-id", corr)
	}
	f := frame.New(frame.SEND, append(h, extra...)...)
	f.Body = []byte(body)
	return f
}

func startSTOMP(t *testing.T, opts sandbox.Options) (*client, string) {
	t.Helper()
	c := start(t, opts)
	addr, err := c.s.StartSTOMP("127.0.0.1:0", nil)
	require.NoError(t, err)
	return c, addr
}

func TestSTOMPConnect(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	tests := []struct {
		name    string
		headers []string
		message string // "" = CONNECTED expected
	}{
		{"valid token", []string{frame.AcceptVersion, "1.2", frame.Login, tok, frame.Passcode, tok, frame.HeartBeat, "30000,30000"}, ""},
		{"without accept-version (JS)", []string{frame.Login, tok, frame.Passcode, tok}, ""},
		{"bad token", []string{frame.AcceptVersion, "1.2", frame.Login, "bogus-token", frame.Passcode, "bogus-token"}, "Bad CONNECT"},
		{"passcode differs", []string{frame.Login, tok, frame.Passcode, "x"}, "Bad CONNECT"},
		{"no login", []string{frame.AcceptVersion, "1.2"}, "Bad CONNECT"},
		{"no common version", []string{frame.AcceptVersion, "1.0,1.1", frame.Login, tok, frame.Passcode, tok}, "Unsupported version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := dialSTOMP(t, addr, nil)
			sc.send(frame.New(frame.CONNECT, tc.headers...))
			f := sc.next()
			require.NotNil(t, f)
			if tc.message == "" {
				require.Equal(t, frame.CONNECTED, f.Command)
				assert.Equal(t, "1.2", f.Header.Get(frame.Version))
				assert.NotEmpty(t, f.Header.Get(frame.Session))
				_, ok := f.Header.Contains(frame.HeartBeat)
				assert.True(t, ok, "CONNECTED carries heart-beat")
				return
			}
			require.Equal(t, frame.ERROR, f.Command)
			assert.Equal(t, tc.message, f.Header.Get(frame.Message))
			assert.NotContains(t, string(f.Body), "bogus-token")
			sc.waitClosed()
		})
	}
}

func TestSTOMPRequestReply(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{StartDelay: -1})
	tok := c.token()
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)

	sc.send(sendFrame("/exchange/connect.api/api:get:general.merchants", "c-1", `{"pid":"me"}`, frame.Receipt, "r-1", "user-id", tok))
	rcpt := sc.next()
	require.Equal(t, frame.RECEIPT, rcpt.Command, "the RECEIPT comes before the reply")
	assert.Equal(t, "r-1", rcpt.Header.Get(frame.ReceiptId))
	reply := sc.next()
	require.Equal(t, frame.MESSAGE, reply.Command)
	assert.Equal(t, "c-1", reply.Header.Get("correlation-id"))
	assert.NotEmpty(t, reply.Header.Get(frame.MessageId))
	assert.Equal(t, "/temp-queue/main", reply.Header.Get(frame.Destination))
	assert.Equal(t, strconv.Itoa(len(reply.Body)), reply.Header.Get(frame.ContentLength))
	for _, b := range reply.Body {
		require.Less(t, b, byte(0x80), "ASCII only: %s", reply.Body)
	}
	assert.NotContains(t, string(reply.Body), "\n", "compact JSON")
	assert.Contains(t, string(reply.Body), `\u00e4`, "Bäckerei, escaped like the real server")
	var env struct {
		Status string
		Data   struct{ ID string }
	}
	require.NoError(t, json.Unmarshal(reply.Body, &env))
	assert.Equal(t, "ok", env.Status)
	assert.Equal(t, "MRC_SANDBOX00000000000000000000001", env.Data.ID)

	tests := []struct {
		name, dest, body string
		extra            []string
		want             func(t *testing.T, body string)
	}{
		{"error envelope", "api:get:smart.transactions", `{"pid":"STX_NOPE"}`, nil, func(t *testing.T, body string) {
			assert.Contains(t, body, `"status":"error","error":"ProductNotFoundException"`)
			assert.Contains(t, body, `"supportId":`)
		}},
		{"list with query object, fields array and ordered sort", "api:get:general.stores",
			`{"query":{"count":2,"fields":["id"],"sort":{"id":"desc"}}}`, nil, func(t *testing.T, body string) {
				assert.Equal(t, `{"status":"ok","data":{"count":3,"data":[{"object":"general.stores","id":"STO_SANDBOX00000000000000000000003"},`+
					`{"object":"general.stores","id":"STO_SANDBOX00000000000000000000002"}]}}`, body)
			}},
		{".NET: query and data as JSON strings", "api:get:general.stores",
			`{"query":"{\"count\":1,\"fields\":[\"id\"],\"sort\":{\"id\":\"asc\"}}"}`, nil, func(t *testing.T, body string) {
				assert.Contains(t, body, `"data":[{"object":"general.stores","id":"STO_SANDBOX00000000000000000000001"}]`)
			}},
		{".NET: create with data as a JSON string", "api:add:general.contacts", `{"data":"{\"forename\":\"Erika\"}"}`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `"forename":"Erika"`) }},
		{"iOS: get with the id as data", "api:get:general.merchants", `{"data":"MRC_SANDBOX00000000000000000000002"}`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `"id":"MRC_SANDBOX00000000000000000000002"`) }},
		{"bare routing key, mixed case", "API:Exec:Smart.Transactions.diagnosis", `{"data":"smart.transactions"}`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `"status":"ok"`) }},
		{"custom app call", "/exchange/connect.api/app:ping", `{"data":{}}`, []string{"app-id", "APP_3XHE5NT3Z2YGA373R5GQGZTK6033AG"},
			func(t *testing.T, body string) { assert.Equal(t, `{"status":"ok","data":{"result":true}}`, body) }},
		{"custom app call without app-id", "app:ping", `{}`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `"status":"error"`) }},
		{"unknown exchange", "/exchange/other/api:get:general.stores", `{}`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `ProductNotFoundException`) }},
		{"body that is not JSON", "api:get:general.stores", `not json`, nil,
			func(t *testing.T, body string) { assert.Contains(t, body, `"status":"error"`) }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			corr := fmt.Sprintf("corr-%d", i)
			sc.send(sendFrame(tc.dest, corr, tc.body, tc.extra...))
			f := sc.next()
			require.Equal(t, frame.MESSAGE, f.Command)
			assert.Equal(t, corr, f.Header.Get("correlation-id"))
			tc.want(t, string(f.Body))
		})
	}
	// Exactly one reply each: a second one would have been queued with the
	// first, before this marker was even sent, so it would come first.
	sc.send(sendFrame("api:get:general.stores", "marker", `{}`))
	f := sc.next()
	assert.Equal(t, "marker", f.Header.Get("correlation-id"), "unexpected extra frame %s %v", f.Command, f.Header)
}

func TestSTOMPUserIDMustMatch(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	sc.send(sendFrame("api:get:general.stores", "c", `{}`, "user-id", "somebody-else", frame.Receipt, "r9"))
	f := sc.next()
	require.Equal(t, frame.ERROR, f.Command)
	assert.Equal(t, "Access refused", f.Header.Get(frame.Message))
	assert.Equal(t, "r9", f.Header.Get(frame.ReceiptId))
	sc.waitClosed()
}

// During start the display events come as MESSAGE frames without
// correlation-id, before the start reply; only after the session refresh
// bound the token.
func TestSTOMPStartPushesBeforeReply(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{StartDelay: 5 * time.Millisecond})
	tok := c.token()
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	create := func(corr string) string {
		sc.send(sendFrame("api:add:smart.transactions", corr, `{"data":{"basket_info":{"sum":250,"currency":"EUR"}}}`))
		f := sc.next()
		var env struct{ Data struct{ ID string } }
		require.NoError(t, json.Unmarshal(f.Body, &env))
		return env.Data.ID
	}

	// Not bound yet: the start answers, but no event reaches this connection.
	id := create("c1")
	sc.send(sendFrame("api:exec:smart.transactions.start", "s1", `{"pid":"`+id+`","sid":"cash"}`))
	f := sc.next()
	assert.Equal(t, "s1", f.Header.Get("correlation-id"), "no pushes before auth.sessions refresh")

	sc.send(sendFrame("/exchange/connect.api/api:exec:auth.sessions.refresh", "r1", `{"pid":"me"}`))
	f = sc.next()
	assert.Equal(t, `{"status":"ok","data":{"result":true}}`, string(f.Body))

	id = create("c2")
	sc.send(sendFrame("api:exec:smart.transactions.start", "s2", `{"pid":"`+id+`","sid":"cash"}`))
	var kinds []string
	for {
		f := sc.next()
		require.NotNil(t, f)
		if corr := f.Header.Get("correlation-id"); corr != "" {
			assert.Equal(t, "s2", corr)
			assert.Contains(t, string(f.Body), `"status":"ok"`)
			break
		}
		assert.NotEmpty(t, f.Header.Get(frame.MessageId))
		var ev sandbox.Event
		require.NoError(t, json.Unmarshal(f.Body, &ev))
		assert.Equal(t, "event.pushs", ev.Object)
		kinds = append(kinds, ev.Target+"/"+ev.Type)
	}
	assert.Equal(t, []string{"general.notifications/display", "general.notifications/display", "general.notifications/display"}, kinds)

	// Push (and so POST /sandbox/events) reaches the bound connection too.
	c.s.Push(sandbox.Event{Target: "general.notifications", Type: "display", Data: json.RawMessage(`{"text":"Hallo"}`)})
	f = sc.next()
	assert.Empty(t, f.Header.Get("correlation-id"))
	assert.Contains(t, string(f.Body), `"text":"Hallo"`)
	a := c.do("POST", "/sandbox/events", "", map[string]any{"target": "general.notifications", "type": "display", "data": map[string]string{"text": "über"}}, nil)
	require.Equal(t, 200, a.Status)
	f = sc.next()
	assert.Contains(t, string(f.Body), `"text":"\u00fcber"`)
}

// session returns the endpoint's view of the connection whose CONNECTED was
// f.
func session(t *testing.T, s *sandbox.Server, f *frame.Frame) sandbox.STOMPSession {
	t.Helper()
	for _, x := range s.STOMPSessions() {
		if x.Session == f.Header.Get(frame.Session) {
			return x
		}
	}
	t.Fatalf("no session %s", f.Header.Get(frame.Session))
	return sandbox.STOMPSession{}
}

func TestSTOMPHeartbeats(t *testing.T) {
	t.Run("the endpoint beats as often as the client asks", func(t *testing.T) {
		c, addr := startSTOMP(t, sandbox.Options{})
		sc := dialSTOMP(t, addr, nil)
		f := sc.login(c.token(), frame.HeartBeat, "0,100")
		assert.Equal(t, "100,0", f.Header.Get(frame.HeartBeat))
		testkit.WaitFor(t, 5*time.Second, "three heart-beats from the endpoint", func() bool { return sc.heartbeats() >= 3 })
	})
	t.Run("intervals below 50ms are taken as 50ms", func(t *testing.T) {
		c, addr := startSTOMP(t, sandbox.Options{})
		sc := dialSTOMP(t, addr, nil)
		f := sc.login(c.token(), frame.HeartBeat, "1,1")
		assert.Equal(t, "50,50", f.Header.Get(frame.HeartBeat), "the endpoint cannot be made to beat without pause")
		f = dialSTOMP(t, addr, nil).login(c.token(), frame.HeartBeat, "0,9223372036854")
		assert.Equal(t, "86400000,0", f.Header.Get(frame.HeartBeat), "longer than a day is a day")
	})

	// Silence is measured on the sandbox clock, so these run on a fake one:
	// the test moves time and waits for what the endpoint does, it never
	// sleeps against the limit.
	t.Run("a client that beats stays, however long it runs", func(t *testing.T) {
		clock := testkit.NewClock()
		c, addr := startSTOMP(t, sandbox.Options{})
		c.s.SetClock(clock.Now)
		sc := dialSTOMP(t, addr, nil)
		f := sc.login(c.token(), frame.HeartBeat, "100,0")
		assert.Equal(t, "0,100", f.Header.Get(frame.HeartBeat), "the endpoint expects a beat every 100ms")
		for i := 1; i <= 10; i++ {
			clock.Advance(240 * time.Millisecond) // just under 2.5x the interval
			_, err := sc.nc.Write([]byte("\n"))
			require.NoError(t, err)
			testkit.WaitFor(t, 5*time.Second, "the endpoint to hear beat "+strconv.Itoa(i), func() bool { return session(t, c.s, f).HeartBeats == int64(i) })
		}
		sc.send(sendFrame("api:get:general.stores", "alive", `{}`))
		assert.Equal(t, "alive", sc.next().Header.Get("correlation-id"), "2.4s of sandbox time later, still open")
	})
	t.Run("a client silent for well over its interval is closed", func(t *testing.T) {
		clock := testkit.NewClock()
		c, addr := startSTOMP(t, sandbox.Options{})
		c.s.SetClock(clock.Now)
		sc := dialSTOMP(t, addr, nil)
		f := sc.login(c.token(), frame.HeartBeat, "100,0")
		clock.Advance(260 * time.Millisecond)
		sc.waitClosed()
		assert.Equal(t, "the client was silent for more than 250ms (heart-beats)", session(t, c.s, f).Ended)
	})
	t.Run("a frame after too long a silence is not served", func(t *testing.T) {
		clock := testkit.NewClock()
		c, addr := startSTOMP(t, sandbox.Options{})
		c.s.SetClock(clock.Now)
		sc := dialSTOMP(t, addr, nil)
		sc.login(c.token(), frame.HeartBeat, "100000,0") // the watchdog looks only every second
		clock.Advance(251 * time.Second)
		sc.send(sendFrame("api:get:general.stores", "late", `{}`))
		sc.waitClosed()
	})
}

func TestSTOMPDisconnectAndDrop(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	sc.send(frame.New(frame.SUBSCRIBE, frame.Destination, "/temp-queue/main", frame.Id, "0", frame.Receipt, "sub-1"))
	assert.Equal(t, "sub-1", sc.next().Header.Get(frame.ReceiptId), "SUBSCRIBE is tolerated")
	sc.send(frame.New(frame.DISCONNECT, frame.Receipt, "bye"))
	f := sc.next()
	require.Equal(t, frame.RECEIPT, f.Command)
	assert.Equal(t, "bye", f.Header.Get(frame.ReceiptId))
	sc.waitClosed()

	a, b := dialSTOMP(t, addr, nil), dialSTOMP(t, addr, nil)
	a.login(tok)
	b.login(tok)
	assert.Equal(t, 2, c.s.DropSTOMPConnections())
	a.waitClosed()
	b.waitClosed()

	d := dialSTOMP(t, addr, nil)
	d.login(tok)
	ans := c.do("POST", "/sandbox/stomp/drop", "", map[string]any{}, nil)
	require.Equal(t, http.StatusOK, ans.Status, "%s", ans.Raw)
	assert.Equal(t, json.Number("1"), ans.JSON(t)["dropped"], "the admin call drops connections too")
	d.waitClosed()
	assert.Equal(t, addr, c.s.STOMPAddr())
	_, err := c.s.StartSTOMP("127.0.0.1:0", nil)
	assert.Error(t, err, "one endpoint per sandbox")
}

func TestSTOMPOverTLS(t *testing.T) {
	c := start(t, sandbox.Options{})
	conf, ca, err := sandbox.SelfSignedTLS()
	require.NoError(t, err)
	addr, err := c.s.StartSTOMP("127.0.0.1:0", conf)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	sc := dialSTOMP(t, addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	sc.login(c.token())
	sc.send(sendFrame("api:get:general.stores", "tls", `{}`))
	assert.Equal(t, "tls", sc.next().Header.Get("correlation-id"))

	_, err = tls.Dial("tcp", addr, &tls.Config{MinVersion: tls.VersionTLS12})
	assert.Error(t, err, "unknown CA")
	_, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11})
	assert.Error(t, err, "TLS 1.2 at least")
}

func TestSTOMPRequestsAreRecorded(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	sc := dialSTOMP(t, addr, nil)
	sc.login(tok)
	sc.send(sendFrame("/exchange/connect.api/api:add:general.contacts", "x", `{"data":{}}`, "x-action", "act-1"))
	sc.next()
	var rec *sandbox.RequestRecord
	for _, r := range c.s.Requests() {
		if r.Method == "STOMP" {
			r := r
			rec = &r
		}
	}
	require.NotNil(t, rec)
	assert.Equal(t, "/exchange/connect.api/api:add:general.contacts", rec.Path)
	assert.Equal(t, "act-1", rec.XAction)
	assert.Equal(t, 200, rec.Status)
	assert.False(t, strings.Contains(rec.Path, tok))
}

func TestSTOMPFaults(t *testing.T) {
	c, addr := startSTOMP(t, sandbox.Options{})
	tok := c.token()
	faultOf := func(dest string) (string, int) {
		var fault string
		status := -1
		for _, r := range c.s.Requests() {
			if r.Method == "STOMP" && r.Path == dest {
				fault, status = r.Fault, r.Status
			}
		}
		return fault, status
	}

	t.Run("a REST fault does not touch STOMP, a STOMP fault not REST", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Path: "/general/stores", Status: 503})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:get:general.stores", "s-1", `{}`))
		assert.Contains(t, string(sc.next().Body), `"status":"ok"`)
		c.s.ClearFaults()

		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/stores", Status: 503})
		a := c.do("GET", "/api/v2/general/stores", tok, nil, nil)
		assert.Equal(t, http.StatusOK, a.Status)
		sc.send(sendFrame("api:get:general.stores", "s-2", `{}`))
		reply := sc.next()
		assert.Equal(t, "s-2", reply.Header.Get("correlation-id"))
		assert.Contains(t, string(reply.Body), `"status":"error","error":"ProductInternalException"`)
		fault, status := faultOf("api:get:general.stores")
		assert.Equal(t, "status 503", fault)
		assert.Equal(t, 503, status)
	})

	t.Run("matched by the REST path and method of the request", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelAny, Path: "/smart/transactions/STX_X/start", Method: "POST", Status: 500})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:get:smart.transactions", "t-1", `{"pid":"STX_X"}`))
		assert.Contains(t, string(sc.next().Body), "ProductNotFoundException", "a get is not the start")
		sc.send(sendFrame("api:exec:smart.transactions.start", "t-2", `{"pid":"STX_X","sid":"demo"}`))
		assert.Contains(t, string(sc.next().Body), "injected fault: HTTP 500")
	})

	t.Run("delay holds the reply back", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/merchants", DelayMS: 300})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		t0 := time.Now()
		sc.send(sendFrame("api:get:general.merchants", "d-1", `{"pid":"me"}`, frame.Receipt, "r-d"))
		assert.Equal(t, frame.RECEIPT, sc.next().Command, "the receipt is not delayed")
		reply := sc.next()
		assert.GreaterOrEqual(t, time.Since(t0), 300*time.Millisecond)
		assert.Contains(t, string(reply.Body), `"status":"ok"`)
		fault, _ := faultOf("api:get:general.merchants")
		assert.Equal(t, "delay 300ms", fault)
	})

	t.Run("drop before_read: no receipt, nothing executed", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/contacts", Drop: sandbox.DropBeforeRead})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:add:general.contacts", "b-1", `{"data":{"forename":"Dropped"}}`, frame.Receipt, "r-b"))
		sc.waitClosed()
		a := c.do("GET", "/api/v2/general/contacts?q=forename:Dropped", tok, nil, nil)
		assert.Equal(t, json.Number("0"), a.JSON(t)["count"])
	})

	t.Run("drop after_read: receipt, nothing executed, closed", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/contacts", Drop: sandbox.DropAfterRead})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:add:general.contacts", "a-1", `{"data":{"forename":"Lost"}}`, frame.Receipt, "r-a"))
		assert.Equal(t, "r-a", sc.next().Header.Get(frame.ReceiptId))
		sc.waitClosed()
		a := c.do("GET", "/api/v2/general/contacts?q=forename:Lost", tok, nil, nil)
		assert.Equal(t, json.Number("0"), a.JSON(t)["count"])

		// The control: without a fault the same add is found by that query.
		again := dialSTOMP(t, addr, nil)
		again.login(tok)
		again.send(sendFrame("api:add:general.contacts", "a-2", `{"data":{"forename":"Lost"}}`))
		assert.Contains(t, string(again.next().Body), `"status":"ok"`)
		a = c.do("GET", "/api/v2/general/contacts?q=forename:Lost", tok, nil, nil)
		assert.Equal(t, json.Number("1"), a.JSON(t)["count"])
	})

	t.Run("drop after_execute: receipt, executed, closed without the reply", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/contacts", Drop: sandbox.DropAfterExecute})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:add:general.contacts", "e-1", `{"data":{"forename":"Ran"}}`, frame.Receipt, "r-e"))
		assert.Equal(t, "r-e", sc.next().Header.Get(frame.ReceiptId))
		sc.waitClosed()
		a := c.do("GET", "/api/v2/general/contacts?q=forename:Ran", tok, nil, nil)
		assert.Equal(t, json.Number("1"), a.JSON(t)["count"], "the add ran")
		fault, status := faultOf("api:add:general.contacts")
		assert.Equal(t, "drop after_execute (answer 200 lost)", fault)
		assert.Equal(t, 0, status)
	})

	t.Run("delay: the connection ends, the request still runs", func(t *testing.T) {
		c.s.AddFault(sandbox.Fault{Channel: sandbox.ChannelSTOMP, Path: "/general/contacts", DelayMS: 1000})
		sc := dialSTOMP(t, addr, nil)
		sc.login(tok)
		sc.send(sendFrame("api:add:general.contacts", "h-1", `{"data":{"forename":"Held"}}`, frame.Receipt, "r-h"))
		assert.Equal(t, "r-h", sc.next().Header.Get(frame.ReceiptId))
		_ = sc.nc.Close()
		testkit.WaitFor(t, 5*time.Second, "the held add to run", func() bool { _, status := faultOf("api:add:general.contacts"); return status != 0 })
		fault, status := faultOf("api:add:general.contacts")
		assert.Equal(t, "delay 1000ms; client left", fault)
		assert.Equal(t, 200, status)
		a := c.do("GET", "/api/v2/general/contacts?q=forename:Held", tok, nil, nil)
		assert.Equal(t, json.Number("1"), a.JSON(t)["count"], "the add ran after the client left")
	})

	t.Run("validation", func(t *testing.T) {
		for _, tc := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"channel": "amqp", "status": 500}, "channel"},
			{map[string]any{"channel": "stomp", "status": 503, "retry_after": 1}, "retry_after"},
		} {
			a := c.do("POST", "/sandbox/faults", "", tc.body, nil)
			assert.Equal(t, http.StatusBadRequest, a.Status)
			assert.Equal(t, tc.field, a.JSON(t)["field"], "%s", a.Raw)
		}
	})
}
