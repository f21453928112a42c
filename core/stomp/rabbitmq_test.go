//go:build rabbitmq

package stomp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gostomp "github.com/go-stomp/stomp/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// This file proves the channel against a real RabbitMQ broker with the STOMP
// plugin, the broker the secucard STOMP conventions come from (spec §4). It
// builds only with -tags rabbitmq; `make test-rabbitmq` starts a private
// broker and runs it. The test creates a broker user whose name and password
// are the test's access token (RabbitMQ requires user-id == login), declares
// the connect.api exchange, and runs the backend itself: a responder that
// consumes what the client sends through connect.api and answers on the
// reply-to destination RabbitMQ rewrote. It fails, never skips, when the
// broker cannot be provided.

func TestRabbitMQConformance(t *testing.T) {
	rabbit := provideRabbitMQ(t)
	token := "libsecucard-conformance-" + call.RandomID()
	rabbit.ctl(t, "add_user", token, token)
	t.Cleanup(func() { rabbit.ctlQuiet("delete_user", token) })
	rabbit.ctl(t, "set_permissions", "-p", "/", token, ".*", ".*", ".*")
	rabbit.declareExchange(t)

	resp := startResponder(t, rabbit.addr)
	ev := &events{}
	host, portText, err := net.SplitHostPort(rabbit.addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portText)
	require.NoError(t, err)
	c, err := New(Config{
		Host: host, Port: port, Tokens: staticTokens(token), OnEvent: ev.Add,
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main",
		Heartbeat: time.Second, Backoff: fastBackoff, ConnectTimeout: 5 * time.Second,
		ReceiptTimeout: 5 * time.Second, MessageTimeout: 10 * time.Second, SessionRefreshTimeout: 5 * time.Second,
		DisconnectTimeout: 2 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx), "connect and first auth.sessions refresh through RabbitMQ")
	require.GreaterOrEqual(t, resp.refreshCount(), 1)

	t.Run("request/reply with the headers RabbitMQ passes on", func(t *testing.T) {
		res, err := do(c, ctx, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_ONE"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"object":"smart.transactions","id":"STX_ONE"}`, string(res))

		res, err = do(c, ctx, &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_ONE", Action: "start", Arg: "demo"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"object":"smart.transactions","id":"STX_ONE","status":"ok"}`, string(res))
		h := resp.lastHeaders("api:exec:smart.transactions.start")
		require.NotNil(t, h)
		assert.Equal(t, token, h["user-id"], "RabbitMQ accepted and passed on user-id = login")
		assert.True(t, strings.HasPrefix(h["reply-to"], "/reply-queue/"), "RabbitMQ rewrote the temp-queue reply-to, got %q", h["reply-to"])
		assert.NotEmpty(t, h["correlation-id"])
		assert.NotEmpty(t, h["x-action"], "mutating calls carry an x-action id")
		assert.Equal(t, "application/json", h["content-type"])
		assert.JSONEq(t, `{"pid":"STX_ONE","sid":"demo"}`, h["body"])
	})

	t.Run("concurrent requests are matched by correlation-id", func(t *testing.T) {
		// The responder holds the batch and answers it in reverse order.
		const n = batchSize
		var wg sync.WaitGroup
		got := make([]string, n)
		errsOut := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				res, err := do(c, ctx, &api.Request{Resource: "smart.checkins", Op: api.Get, ID: fmt.Sprintf("BATCH_%02d", i)})
				errsOut[i] = err
				var obj struct{ ID string }
				_ = json.Unmarshal(res, &obj)
				got[i] = obj.ID
			}(i)
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			require.NoError(t, errsOut[i])
			assert.Equal(t, fmt.Sprintf("BATCH_%02d", i), got[i])
		}
		assert.Equal(t, 0, c.inFlight())
	})

	t.Run("error envelope becomes the typed API error", func(t *testing.T) {
		_, err := do(c, ctx, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_MISSING"})
		require.Error(t, err)
		e := errs.As(err)
		assert.Equal(t, errs.API, e.Kind)
		assert.Equal(t, "ProductNotFoundException", e.ErrorName)
		assert.Equal(t, "2002", e.Code)
		assert.Equal(t, "no such transaction", e.Details)
	})

	t.Run("a message without correlation-id is a push event", func(t *testing.T) {
		require.NoError(t, resp.push(`{"object":"event.pushs","id":"EPS_RABBIT1","created":"2026-01-01T10:00:00+01:00",`+
			`"target":"general.notifications","type":"display","data":{"text":"Bitte Karte einstecken"}}`))
		testkit.WaitFor(t, 10*time.Second, "the push event", func() bool { return len(ev.pushes()) > 0 })
		p := ev.pushes()[0]
		assert.Equal(t, "EPS_RABBIT1", p.ID)
		assert.Equal(t, "general.notifications", p.Target)
		assert.Equal(t, "display", p.Type)
		assert.JSONEq(t, `{"text":"Bitte Karte einstecken"}`, string(p.Data))
	})

	t.Run("heart-beats keep an idle connection and the session is refreshed", func(t *testing.T) {
		before := resp.refreshCount()
		statesBefore := len(ev.states())
		time.Sleep(3500 * time.Millisecond) // idle for more than 2x the 1 s heart-beat
		assert.True(t, c.Connected())
		assert.Equal(t, statesBefore, len(ev.states()), "no connection state change while idle: %v", ev.states())
		assert.GreaterOrEqual(t, resp.refreshCount()-before, 2, "auth.sessions refresh after each idle interval")
	})

	t.Run("reconnect after the broker closes every connection", func(t *testing.T) {
		reconnects := c.Reconnects()
		gen := resp.generation()
		rabbit.ctl(t, "close_all_connections", "libsecucard conformance test")
		testkit.WaitFor(t, 20*time.Second, "the client to reconnect", func() bool { return c.Reconnects() > reconnects && c.Connected() })
		testkit.WaitFor(t, 20*time.Second, "the responder to resubscribe", func() bool { return resp.generation() > gen })
		// connected, then disconnected with the broker's reason, one
		// reconnecting per attempt (the first may time out while the
		// responder is not back yet), connected.
		var reasons []string
		var states []string
		for _, e := range ev.All() {
			if e.Kind == event.KindConnection {
				states = append(states, e.State)
				reasons = append(reasons, e.Reason)
			}
		}
		i := lastIndex(states, event.Disconnected)
		require.Greater(t, i, 0, "states: %v", states)
		assert.NotEmpty(t, reasons[i], "disconnected carries the reason")
		after := states[i+1:]
		require.GreaterOrEqual(t, len(after), 2, "states: %v", states)
		for _, s := range after[:len(after)-1] {
			assert.Equal(t, event.Reconnecting, s, "states: %v", states)
		}
		assert.Equal(t, event.Connected, after[len(after)-1], "states: %v", states)
		res, err := do(c, ctx, &api.Request{Resource: "smart.transactions", Op: api.Get, ID: "STX_AFTER"})
		require.NoError(t, err)
		assert.JSONEq(t, `{"object":"smart.transactions","id":"STX_AFTER"}`, string(res))
	})

	require.NoError(t, c.Close(ctx))
	assert.False(t, c.Connected())
	assert.Equal(t, event.Disconnected, ev.states()[len(ev.states())-1])
}

// rabbitMQ runs the rabbitmqctl of the broker under test.
type rabbitMQ struct {
	ctlPath string
	addr    string
}

func run(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// provideRabbitMQ returns the broker named by the environment. The test
// provisions nothing itself: `make test-rabbitmq` starts a private node
// (.ci/rabbitmq-node) and passes its STOMP address and a rabbitmqctl bound to
// it. The test only builds with -tags rabbitmq, so a plain `go test ./...`
// neither needs nor touches a broker; asked for explicitly, it fails, never
// skips, when the broker is missing.
func provideRabbitMQ(t *testing.T) *rabbitMQ {
	t.Helper()
	addr := os.Getenv("SECUCARD_TEST_RABBITMQ_STOMP")
	ctl := os.Getenv("SECUCARD_TEST_RABBITMQCTL")
	if addr == "" || ctl == "" {
		t.Fatal("SECUCARD_TEST_RABBITMQ_STOMP and SECUCARD_TEST_RABBITMQCTL must name a broker; " +
			"run `make test-rabbitmq`, which starts a private RabbitMQ node for this test")
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err, "the RabbitMQ STOMP listener at %s", addr)
	_ = c.Close()
	return &rabbitMQ{ctlPath: ctl, addr: addr}
}

// ctl runs rabbitmqctl, retrying while the node finishes booting.
func (r *rabbitMQ) ctl(t *testing.T, args ...string) {
	t.Helper()
	var out string
	var err error
	for i := 0; i < 10; i++ {
		if out, err = run(t, 30*time.Second, r.ctlPath, args...); err == nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("rabbitmqctl %s: %v\n%s", args[0], err, out)
}

func (r *rabbitMQ) ctlQuiet(args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = exec.CommandContext(ctx, r.ctlPath, args...).Run()
}

// declareExchange creates connect.api (a topic exchange; its real type is
// unknown) through rabbitmqctl import_definitions, which needs no
// management plugin.
func (r *rabbitMQ) declareExchange(t *testing.T) {
	t.Helper()
	// Not in t.TempDir(): rabbitmqctl runs as the rabbitmq user, which
	// cannot enter that 0700 directory.
	f, err := os.CreateTemp("", "libsecucard-definitions-*.json")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	_, err = f.WriteString(`{"exchanges":[{"name":"connect.api","vhost":"/","type":"topic",` +
		`"durable":false,"auto_delete":false,"internal":false,"arguments":{}}]}`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.Chmod(f.Name(), 0o644))
	r.ctl(t, "import_definitions", f.Name())
}

// batchSize is how many BATCH_ requests the responder holds before answering.
const batchSize = 16

// responder plays the secucard backend: it consumes everything routed
// through connect.api and answers on the rewritten reply-to. It reconnects
// when the broker closes its connection.
type responder struct {
	t    *testing.T
	addr string // the broker's STOMP listener

	mu        sync.Mutex
	conn      *gostomp.Conn
	gen       int
	refreshes int
	replyTo   string
	headers   map[string]map[string]string // last headers (and "body") by routing key
	batch     []*gostomp.Message
}

func startResponder(t *testing.T, addr string) *responder {
	r := &responder{t: t, addr: addr, headers: map[string]map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		r.mu.Lock()
		if r.conn != nil {
			_ = r.conn.Disconnect()
		}
		r.mu.Unlock()
		<-done
	})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			r.serveOnce(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	testkit.WaitFor(t, 30*time.Second, "the responder to subscribe to connect.api", func() bool { return r.generation() > 0 })
	return r
}

func (r *responder) serveOnce(ctx context.Context) {
	conn, err := gostomp.Dial("tcp", r.addr, gostomp.ConnOpt.Login("guest", "guest"), gostomp.ConnOpt.Host("/"),
		gostomp.ConnOpt.HeartBeat(0, 0), gostomp.ConnOpt.Logger(quietLogger{}))
	if err != nil {
		return
	}
	sub, err := conn.Subscribe("/exchange/connect.api/#", gostomp.AckAuto)
	if err != nil {
		_ = conn.Disconnect() // the exchange may not be declared yet (import is asynchronous)
		return
	}
	// Subscribe does not wait for the broker, and a request published to
	// the exchange before the binding exists is dropped unrouted. RabbitMQ
	// handles one connection's frames in order, so a probe sent after the
	// SUBSCRIBE comes back only once the binding is in place.
	probe := "probe-" + call.RandomID()
	if err := conn.Send("/exchange/connect.api/"+probe, "text/plain", []byte("probe")); err != nil {
		_ = conn.Disconnect()
		return
	}
	deadline := time.After(5 * time.Second)
	for bound := false; !bound; {
		select {
		case <-ctx.Done():
			_ = conn.Disconnect()
			return
		case <-deadline:
			_ = conn.Disconnect()
			return
		case msg, ok := <-sub.C:
			if !ok || msg.Err != nil {
				return
			}
			if bound = strings.HasSuffix(msg.Destination, "/"+probe); !bound {
				r.handle(conn, msg) // routed after the binding, before the probe
			}
		}
	}
	r.mu.Lock()
	r.conn = conn
	r.gen++
	r.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-sub.C:
			if !ok || msg.Err != nil {
				return
			}
			r.handle(conn, msg)
		}
	}
}

func (r *responder) handle(conn *gostomp.Conn, msg *gostomp.Message) {
	key := msg.Destination[strings.LastIndex(msg.Destination, "/")+1:]
	if strings.HasPrefix(key, "probe-") {
		return // a late readiness probe of an earlier subscription
	}
	h := map[string]string{"body": string(msg.Body)}
	for i := 0; i < msg.Header.Len(); i++ {
		k, v := msg.Header.GetAt(i)
		if _, seen := h[k]; !seen {
			h[k] = v
		}
	}
	var body struct{ PID string }
	_ = json.Unmarshal(msg.Body, &body)
	replyTo := msg.Header.Get("reply-to")
	corr := msg.Header.Get("correlation-id")
	reply := func(m *gostomp.Message, payload string) {
		_ = conn.Send(m.Header.Get("reply-to"), "application/json", []byte(payload),
			gostomp.SendOpt.Header("correlation-id", m.Header.Get("correlation-id")))
	}
	r.mu.Lock()
	r.headers[key] = h
	switch {
	case key == "api:exec:auth.sessions.refresh":
		r.refreshes++
		r.replyTo = replyTo
		r.mu.Unlock()
		reply(msg, `{"status":"ok","data":{"result":true}}`)
	case strings.HasPrefix(body.PID, "BATCH_"):
		r.batch = append(r.batch, msg)
		var ready []*gostomp.Message
		if len(r.batch) == batchSize {
			ready, r.batch = r.batch, nil
		}
		r.mu.Unlock()
		for i := len(ready) - 1; i >= 0; i-- {
			var b struct{ PID string }
			_ = json.Unmarshal(ready[i].Body, &b)
			reply(ready[i], `{"status":"ok","data":{"object":"smart.checkins","id":"`+b.PID+`"}}`)
		}
	case body.PID == "STX_MISSING":
		r.mu.Unlock()
		reply(msg, `{"status":"error","error":"ProductNotFoundException","error_details":"no such transaction",`+
			`"error_user":"Nicht gefunden","code":2002,"supportId":"abc123"}`)
	case key == "api:exec:smart.transactions.start":
		r.mu.Unlock()
		reply(msg, `{"status":"ok","data":{"object":"smart.transactions","id":"`+body.PID+`","status":"ok"}}`)
	default:
		r.mu.Unlock()
		reply(msg, `{"status":"ok","data":{"object":"smart.transactions","id":"`+body.PID+`"}}`)
	}
	_ = corr
}

// push sends an event to the client's reply queue without correlation-id.
func (r *responder) push(body string) error {
	r.mu.Lock()
	conn, dest := r.conn, r.replyTo
	r.mu.Unlock()
	if conn == nil || dest == "" {
		return fmt.Errorf("the responder has no client reply queue yet")
	}
	return conn.Send(dest, "application/json", []byte(body))
}

func (r *responder) refreshCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refreshes
}

func (r *responder) generation() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen
}

func (r *responder) lastHeaders(key string) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[key]
}

func lastIndex(list []string, v string) int {
	for i := len(list) - 1; i >= 0; i-- {
		if list[i] == v {
			return i
		}
	}
	return -1
}

// quietLogger keeps go-stomp's connection log out of the test output.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{})   {}
func (quietLogger) Infof(string, ...interface{})    {}
func (quietLogger) Warningf(string, ...interface{}) {}
func (quietLogger) Errorf(string, ...interface{})   {}
func (quietLogger) Debug(string)                    {}
func (quietLogger) Info(string)                     {}
func (quietLogger) Warning(string)                  {}
func (quietLogger) Error(string)                    {}
