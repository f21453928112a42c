package stomp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-stomp/stomp/v3/frame"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// testTokens is a TokenSource whose tokens come from fetch. Invalidate makes
// the next Token fetch a new one; a new token is announced to listeners.
type testTokens struct {
	fetch func() (string, error)

	mu            sync.Mutex
	cur           string
	invalid       bool
	fetches       int
	invalidations int
	listeners     map[int]func(*oauth2.Token)
	next          int
}

func newTokens(fetch func() (string, error)) *testTokens {
	return &testTokens{fetch: fetch, listeners: map[int]func(*oauth2.Token){}}
}

func staticTokens(tok string) *testTokens {
	return newTokens(func() (string, error) { return tok, nil })
}

func (t *testTokens) Token(ctx context.Context, interactive bool) (*oauth2.Token, error) {
	t.mu.Lock()
	if t.cur != "" && !t.invalid {
		tok := t.cur
		t.mu.Unlock()
		return &oauth2.Token{AccessToken: tok}, nil
	}
	// One fetch at a time, like auth.Manager's single flight.
	tok, err := t.fetch()
	if err != nil {
		t.mu.Unlock()
		return nil, err
	}
	changed := tok != t.cur
	t.cur, t.invalid = tok, false
	t.fetches++
	var ls []func(*oauth2.Token)
	if changed {
		for _, l := range t.listeners {
			ls = append(ls, l)
		}
	}
	t.mu.Unlock()
	for _, l := range ls {
		l(&oauth2.Token{AccessToken: tok})
	}
	return &oauth2.Token{AccessToken: tok}, nil
}

func (t *testTokens) Invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.invalidations++
	if tok == t.cur {
		t.invalid = true
	}
}

func (t *testTokens) OnTokenChange(fn func(*oauth2.Token)) func() {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.next
	t.next++
	t.listeners[id] = fn
	return func() {
		t.mu.Lock()
		delete(t.listeners, id)
		t.mu.Unlock()
	}
}

// rotate fetches a new token now, as an auth manager's refresh would.
func (t *testTokens) rotate(ctx context.Context) (string, error) {
	t.mu.Lock()
	t.invalid = true
	t.mu.Unlock()
	tok, err := t.Token(ctx, false)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func (t *testTokens) counts() (fetches, invalidations int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fetches, t.invalidations
}

func (t *testTokens) current() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// sandboxToken gets a client_credentials token from the sandbox.
func sandboxToken(s *sandbox.Server) (string, error) {
	resp, err := http.PostForm(s.URL()+"/oauth/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "client_secret": {s.ClientSecret()},
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %d", resp.StatusCode)
	}
	return body.AccessToken, nil
}

// events collects what the channel emits (Add).
type events struct{ testkit.Log[event.Event] }

func (e *events) states() []string {
	var out []string
	for _, ev := range e.All() {
		if ev.Kind == event.KindConnection {
			out = append(out, ev.State)
		}
	}
	return out
}

func (e *events) connection() []event.Event {
	var out []event.Event
	for _, ev := range e.All() {
		if ev.Kind == event.KindConnection {
			out = append(out, ev)
		}
	}
	return out
}

func (e *events) pushes() []event.Event {
	var out []event.Event
	for _, ev := range e.All() {
		if ev.Kind == event.KindPush {
			out = append(out, ev)
		}
	}
	return out
}

// fastBackoff keeps reconnect tests quick.
var fastBackoff = retry.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Jitter: 0.5}

// sandboxSetup starts a sandbox with its STOMP endpoint.
type sandboxSetup struct {
	s      *sandbox.Server
	tokens *testTokens
	events *events
	host   string
	port   int
}

func startSandbox(t *testing.T, opts sandbox.Options) *sandboxSetup {
	t.Helper()
	s := testkit.Sandbox(t, opts)
	addr, err := s.StartSTOMP("127.0.0.1:0", nil)
	require.NoError(t, err)
	host, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	return &sandboxSetup{s: s, tokens: newTokens(func() (string, error) { return sandboxToken(s) }), events: &events{}, host: host, port: port}
}

// config is a channel config for the sandbox; adjust it before New.
func (sb *sandboxSetup) config() Config {
	return Config{
		Host: sb.host, Port: sb.port, Tokens: sb.tokens, OnEvent: sb.events.Add,
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main", Heartbeat: 30 * time.Second,
		Backoff: fastBackoff, ConnectTimeout: 5 * time.Second, ReceiptTimeout: 5 * time.Second,
		MessageTimeout: 10 * time.Second, SessionRefreshTimeout: 5 * time.Second, DisconnectTimeout: 2 * time.Second,
	}
}

// testCaller runs requests through the call pipeline, as the client does:
// idempotency on, three attempts, no real sleeping.
func testCaller(idempotency bool) *call.Caller {
	return &call.Caller{
		Settings: call.Settings{Idempotency: idempotency, Policy: call.Policy{MaxAttempts: 3, Backoff: fastBackoff, MaxWait: 30 * time.Second}},
		Pipeline: call.Pipeline{Sleep: retry.NoSleep},
	}
}

// do runs req on c with idempotency on. A request without a deadline gets
// 10 s, as the client gives every STOMP call one.
func do(c *Channel, ctx context.Context, req *api.Request) (json.RawMessage, error) {
	return doWith(testCaller(true), c, ctx, req)
}

func doWith(cl *call.Caller, c *Channel, ctx context.Context, req *api.Request) (json.RawMessage, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return cl.Do(ctx, req, c)
}

// open builds and connects a channel, closed at the end of the test.
func open(t *testing.T, cfg Config) *Channel {
	t.Helper()
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	return c
}

// fakeBroker is a scripted STOMP server for behaviour the sandbox does not
// misbehave with: missing receipts, ERROR frames, silence. handle runs for
// every frame after CONNECT and returns the frames to send (nil: none).
type fakeBroker struct {
	t    *testing.T
	ln   net.Listener
	port int

	// connected answers CONNECT; nil: CONNECTED with version, session and
	// heart-beat 0,0.
	connected func(n int, f *frame.Frame) *frame.Frame
	handle    func(n int, f *frame.Frame) []*frame.Frame

	mu     sync.Mutex
	frames []*frame.Frame // everything received, CONNECT included
	conns  []net.Conn
	count  int
	beats  int // heart-beat EOLs received
}

func newFakeBroker(t *testing.T) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &fakeBroker{t: t, ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	t.Cleanup(func() {
		_ = ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			_ = c.Close()
		}
		b.mu.Unlock()
	})
	return b
}

func (b *fakeBroker) start() {
	go func() {
		for {
			nc, err := b.ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.count++
			n := b.count
			b.conns = append(b.conns, nc)
			b.mu.Unlock()
			go b.serve(n, nc)
		}
	}()
}

func (b *fakeBroker) serve(n int, nc net.Conn) {
	defer nc.Close()
	rd, w := frame.NewReader(nc), frame.NewWriter(nc)
	var wmu sync.Mutex
	send := func(fs ...*frame.Frame) bool {
		wmu.Lock()
		defer wmu.Unlock()
		for _, f := range fs {
			if err := w.Write(f); err != nil {
				return false
			}
		}
		return true
	}
	for {
		f, err := rd.Read()
		if err != nil {
			return
		}
		if f == nil {
			b.mu.Lock()
			b.beats++
			b.mu.Unlock()
			continue
		}
		b.mu.Lock()
		b.frames = append(b.frames, f)
		b.mu.Unlock()
		if f.Command == frame.CONNECT || f.Command == frame.STOMP {
			reply := frame.New(frame.CONNECTED, frame.Version, "1.2", frame.Session, fmt.Sprintf("fake-%d", n), frame.HeartBeat, "0,0")
			if b.connected != nil {
				reply = b.connected(n, f)
			}
			if !send(reply) || reply.Command == frame.ERROR {
				return
			}
			continue
		}
		var out []*frame.Frame
		if b.handle != nil {
			out = b.handle(n, f)
		}
		if !send(out...) {
			return
		}
		for _, o := range out {
			if o.Command == frame.ERROR {
				return
			}
		}
	}
}

// received returns the frames with command cmd.
func (b *fakeBroker) received(cmd string) []*frame.Frame {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*frame.Frame
	for _, f := range b.frames {
		if f.Command == cmd {
			out = append(out, f)
		}
	}
	return out
}

func (b *fakeBroker) heartbeats() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.beats
}

func (b *fakeBroker) config(tokens TokenSource, ev *events) Config {
	return Config{
		Host: "127.0.0.1", Port: b.port, Tokens: tokens, OnEvent: ev.Add, Backoff: fastBackoff,
		Destination: "/exchange/connect.api/", ReplyQueue: "/temp-queue/main",
		ConnectTimeout: 3 * time.Second, ReceiptTimeout: 3 * time.Second, MessageTimeout: 5 * time.Second,
		SessionRefreshTimeout: 3 * time.Second, Heartbeat: -1, DisconnectTimeout: 200 * time.Millisecond,
	}
}

// receiptFor and replyFor build the usual answers to a SEND.
func receiptFor(f *frame.Frame) *frame.Frame {
	return frame.New(frame.RECEIPT, frame.ReceiptId, f.Header.Get(frame.Receipt))
}

func replyFor(f *frame.Frame, body string) *frame.Frame {
	m := frame.New(frame.MESSAGE, frame.Destination, "/temp-queue/main", frame.MessageId, "m-"+f.Header.Get("correlation-id"),
		"correlation-id", f.Header.Get("correlation-id"), frame.ContentLength, strconv.Itoa(len(body)))
	m.Body = []byte(body)
	return m
}

// okBroker answers every SEND with a receipt and {"status":"ok","data":data}.
func okHandler(data string) func(int, *frame.Frame) []*frame.Frame {
	return func(_ int, f *frame.Frame) []*frame.Frame {
		switch f.Command {
		case frame.SEND:
			return []*frame.Frame{receiptFor(f), replyFor(f, `{"status":"ok","data":`+data+`}`)}
		case frame.DISCONNECT:
			return []*frame.Frame{frame.New(frame.RECEIPT, frame.ReceiptId, f.Header.Get(frame.Receipt))}
		}
		return nil
	}
}

func isRefresh(f *frame.Frame) bool {
	return strings.HasSuffix(f.Header.Get(frame.Destination), "api:exec:auth.sessions.refresh")
}
