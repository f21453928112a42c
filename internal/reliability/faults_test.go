package reliability

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// scenario is one row: a fault, the transport it hits, the operation it
// hits, and how to stage it.
type scenario struct {
	fault, transport, op string
	run                  func(t *testing.T, r *row)
}

// The delay row holds an answer well past the call's deadline, so the
// client gives up long before the sandbox answers, however loaded the
// machine.
const (
	deadlineMS = 1000
	heldMS     = 2500
)

func scenarios() []scenario {
	var s []scenario
	ops := []string{"create", "payment start", "get"}
	add := func(fault string, transports []string, run func(t *testing.T, r *row)) {
		for _, tr := range transports {
			for _, op := range ops {
				s = append(s, scenario{fault: fault, transport: tr, op: op, run: run})
			}
		}
	}
	both, rest, stomp := []string{REST, STOMP}, []string{REST}, []string{STOMP}
	add("5xx burst (2× 503)", both, onOp(sandbox.Fault{Status: 503, Count: 2}, 0))
	add("5xx burst (4× 503, longer than the attempts)", both, onOp(sandbox.Fault{Status: 503, Count: 4}, 0))
	add("429, Retry-After 1 s", rest, onOp(sandbox.Fault{Status: 429, RetryAfter: 1}, 0))
	add("429 (STOMP has no Retry-After)", stomp, onOp(sandbox.Fault{Status: 429}, 0))
	add("429, Retry-After 120 s", rest, onOp(sandbox.Fault{Status: 429, RetryAfter: 120}, 0))
	add(fmt.Sprintf("answer held %d ms, deadline %d ms", heldMS, deadlineMS), both, onOp(sandbox.Fault{DelayMS: heldMS}, deadlineMS))
	add("dropped before the request was read", both, onOp(sandbox.Fault{Drop: sandbox.DropBeforeRead}, 0))
	add("dropped after the request was read", both, onOp(sandbox.Fault{Drop: sandbox.DropAfterRead}, 0))
	add("answer lost after the request ran", both, onOp(sandbox.Fault{Drop: sandbox.DropAfterExecute}, 0))
	for _, f := range []struct {
		name    string
		fault   sandbox.Fault
		timeout int
	}{
		{"5xx burst (2× 503)", sandbox.Fault{Status: 503, Count: 2}, 0},
		{"429, Retry-After 1 s", sandbox.Fault{Status: 429, RetryAfter: 1}, 0},
		{fmt.Sprintf("answer held %d ms, deadline %d ms", heldMS, deadlineMS), sandbox.Fault{DelayMS: heldMS}, deadlineMS},
		{"dropped before the request was read", sandbox.Fault{Drop: sandbox.DropBeforeRead}, 0},
		{"dropped after the request was read", sandbox.Fault{Drop: sandbox.DropAfterRead}, 0},
		{"answer lost after the request ran", sandbox.Fault{Drop: sandbox.DropAfterExecute}, 0},
	} {
		s = append(s, scenario{fault: f.name, transport: CardPointe, op: "auth", run: onOp(f.fault, f.timeout)})
	}
	s = append(s,
		scenario{fault: "answer lost after it ran, then 429 Retry-After 120 s", transport: REST, op: "create", run: lostThen("429")},
		scenario{fault: "answer lost after it ran, then the server unreachable", transport: REST, op: "create", run: lostThen("unreachable")},
		scenario{fault: "token expired under 50 concurrent calls", transport: REST, op: "50 × create", run: tokenExpiry},
		scenario{fault: "token expired under 50 concurrent calls", transport: STOMP, op: "50 × create", run: tokenExpiry},
		scenario{fault: "access token expired, refresh token revoked", transport: REST, op: "get", run: refreshRevoked},
		scenario{fault: "STOMP connection dropped during a payment start", transport: STOMP, op: "payment start", run: dropDuringStart},
		scenario{fault: "STOMP connection dropped during a push burst", transport: STOMP, op: "200 pushes", run: dropDuringBurst},
		scenario{fault: "a push sent twice, and again by webhook", transport: STOMP, op: "push", run: redelivered},
		scenario{fault: "SQLite store corrupted", transport: REST, op: "open + get", run: damagedStore("corrupted")},
		scenario{fault: "SQLite store truncated", transport: REST, op: "open + get", run: damagedStore("truncated")},
		scenario{fault: "SQLite store read-only", transport: REST, op: "open + get", run: damagedStore("read-only")},
		scenario{fault: "TLS: certificate of an unknown CA", transport: REST, op: "open", run: wrongCA},
		scenario{fault: "TLS: certificate of an unknown CA", transport: STOMP, op: "open", run: wrongCA},
	)
	return s
}

// TestFaultMatrix runs every fault against every transport and operation
// it applies to, each on a fresh sandbox and client, and prints the table
// (go test -v, or make faults). A broken invariant fails its row.
func TestFaultMatrix(t *testing.T) {
	m := &matrix{}
	var order []string
	t.Run("rows", func(t *testing.T) {
		for _, sc := range scenarios() {
			r := &row{Fault: sc.fault, Transport: sc.transport, Op: sc.op}
			order = append(order, key(r))
			m.add(r)
			t.Run(sc.fault+"/"+sc.transport+"/"+sc.op, func(t *testing.T) {
				t.Parallel()
				sc.run(t, r)
			})
		}
	})
	m.print(order)
}

func contextFor(t testing.TB) context.Context { return testkit.Context(t, 30*time.Second) }

// onOp arms f on the row's operation and runs it once.
func onOp(fault sandbox.Fault, timeoutMS int) func(t *testing.T, r *row) {
	return func(t *testing.T, r *row) {
		f := fault // each row arms its own copy
		e := newEnv(t, envOptions{stomp: r.Transport == STOMP, cardpointe: r.Transport == CardPointe})
		o, path, method := newOp(t, e, r, timeoutMS)
		f.Path, f.Method = path, method
		if r.Transport == STOMP {
			f.Channel = sandbox.ChannelSTOMP
		}
		e.srv.AddFault(f)
		out, err := e.do(o.req)
		e.srv.ClearFaults() // the host's follow-up comes later, on a healthy server
		judge(t, e, r, o, out, err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// lostThen: the first create runs on the server but its answer is lost
// (the sandbox's after_execute); the automatic repeat (same key) then
// meets then: a 429 asking for two minutes, or a server the client cannot
// reach at all (its own transport refuses both repeats before sending).
// Whatever the last attempt saw, the first ran: the outcome is unknown.
func lostThen(then string) func(t *testing.T, r *row) {
	return func(t *testing.T, r *row) {
		var opts []core.Option
		if then == "unreachable" {
			base := http.DefaultTransport.(*http.Transport).Clone()
			t.Cleanup(base.CloseIdleConnections)
			var creates atomic.Int32
			rt := roundTripper(func(req *http.Request) (*http.Response, error) {
				if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/smart/transactions") {
					if k := creates.Add(1); k == 2 || k == 3 { // both automatic repeats
						return nil, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
					}
				}
				return base.RoundTrip(req)
			})
			opts = append(opts, core.WithHTTPClient(&http.Client{Transport: rt}))
		}
		e := newEnv(t, envOptions{opts: opts})
		o, path, method := newOp(t, e, r, 0)
		e.srv.AddFault(sandbox.Fault{Path: path, Method: method, Drop: sandbox.DropAfterExecute})
		if then == "429" {
			e.srv.AddFault(sandbox.Fault{Path: path, Method: method, Status: 429, RetryAfter: 120})
		}
		out, err := e.do(o.req)
		e.srv.ClearFaults()
		judge(t, e, r, o, out, err)
	}
}

// tokenExpiry expires every token, then 50 creates race for a new one:
// one token request, every create executed exactly once.
func tokenExpiry(t *testing.T, r *row) {
	e := newEnv(t, envOptions{stomp: r.Transport == STOMP})
	before := e.tokenRequests()
	e.srv.ExpireTokens()
	const n = 50
	results := make([]*errs.Error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = e.call(fmt.Sprintf(`{"resource":"smart.transactions","op":"create","channel":%q,`+
				`"data":{"transactionRef":"%s-%d","basket_info":{"sum":100,"currency":"EUR"}}}`, r.Transport, refOf(r), i))
		}()
	}
	wg.Wait()
	tokens := e.tokenRequests() - before // before the oracle takes a token of its own
	e.settle()
	kinds := map[string]int{}
	once := 0
	for i, err := range results {
		checkTyped(t, r, err)
		k := "ok"
		if err != nil {
			k = string(err.Kind)
		}
		kinds[k]++
		switch c := e.oracle.count(fmt.Sprintf("%s-%d", refOf(r), i)); {
		case c > 1:
			r.fail(t, "create %d executed %d times", i, c)
		case err == nil && c != 1:
			r.fail(t, "create %d succeeded, executed %d times", i, c)
		case err != nil && err.Outcome == errs.OutcomeRejected && c != 0:
			r.fail(t, `create %d: outcome "rejected", executed %d times`, i, c)
		case c == 1:
			once++
		}
	}
	r.Result = summary(kinds)
	r.Retryable, r.Outcome, r.Next = "-", "-", "-"
	r.Exec = fmt.Sprintf("%d × 1", once)
	r.Attempts = fmt.Sprint(e.attempts(matchOp("POST", "/smart/transactions", "api:add:smart.transactions")))
	r.Note = fmt.Sprintf("%d token request(s) after the expiry", tokens)
	if tokens != 1 {
		r.fail(t, "%d token requests after the expiry; one refresh serves every caller", tokens)
	}
}

func summary(kinds map[string]int) string {
	var parts []string
	for _, k := range []string{"ok", "invalid_argument", "auth", "api", "declined", "network", "timeout", "canceled", "closed", "storage", "internal", "untyped"} {
		if kinds[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
		}
	}
	return strings.Join(parts, ", ")
}

// refreshRevoked: an appuser till's access token expires and its refresh
// token is revoked; the call fails saying to open again, and opening again
// then repeating works.
func refreshRevoked(t *testing.T, r *row) {
	e := newEnv(t, envOptions{config: map[string]any{"credentials": map[string]any{
		"grant": "appuser", "username": "cashier", "password": "cashier-password"}}})
	o, _, _ := newOp(t, e, r, 0)
	e.srv.ExpireTokens()
	e.srv.RevokeRefreshTokens()
	out, err := e.do(o.req)
	judge(t, e, r, o, out, err)
}

// waitFor polls cond without failing: for goroutines other than the test's.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}

// dropDuringStart drops the STOMP connection as soon as the first display
// event of a payment start has reached the host.
func dropDuringStart(t *testing.T, r *row) {
	e := newEnv(t, envOptions{stomp: true, sandbox: sandbox.Options{StartDelay: 150 * time.Millisecond}})
	sent := subscribeAll(t, e.srv, "general.notifications")
	o, _, _ := newOp(t, e, r, 0)
	dropped := make(chan int, 1)
	go func() {
		waitFor(20*time.Second, func() bool { return len(e.events.pushes("general.notifications")) > 0 })
		dropped <- e.srv.DropSTOMPConnections()
	}()
	out, err := e.do(o.req)
	judge(t, e, r, o, out, err)
	r.Note = fmt.Sprintf("%d connection(s) dropped", <-dropped)
	checkEvents(t, e, r, sent, "general.notifications")
}

// dropDuringBurst pushes 200 events and drops the connection after the
// host has some of them: 50 are pushed while it is down, 50 after it is
// back.
func dropDuringBurst(t *testing.T, r *row) {
	e := newEnv(t, envOptions{stomp: true})
	const target = "general.notifications"
	sent := subscribeAll(t, e.srv, target)
	push := func(from, to int) {
		for i := from; i < to; i++ {
			e.srv.Push(sandbox.Event{ID: fmt.Sprintf("EPS_BURST%03d", i), Target: target, Type: "display",
				Data: []byte(fmt.Sprintf(`{"text":"burst %d"}`, i))})
		}
	}
	push(0, 100)
	if !waitFor(20*time.Second, func() bool { return len(e.events.pushes(target)) >= 20 }) {
		r.fail(t, "the host got %d of the first 100 pushes", len(e.events.pushes(target)))
	}
	r.Note = fmt.Sprintf("%d connection(s) dropped", e.srv.DropSTOMPConnections())
	push(100, 150)
	testkit.WaitFor(t, 20*time.Second, "the client to reconnect", func() bool {
		s := e.c.Stats().STOMP
		return s.Connected && s.Reconnects >= 1
	})
	push(150, 200)
	testkit.WaitFor(t, 20*time.Second, "the sandbox to publish every push", func() bool { return sent.count() >= 200 })
	// The last pushes reach a reconnected client unless they raced its
	// subscription; either way the check below holds.
	waitFor(5*time.Second, func() bool { return hasPush(e, "EPS_BURST199") })
	r.Result, r.Retryable, r.Outcome, r.Next, r.Exec, r.Attempts = "-", "-", "-", "-", "-", "-"
	checkEvents(t, e, r, sent, target)
}

// redelivered: the broker delivers one push twice (a redelivery, or the
// same event on an old and a new connection during a token change) and the
// host hands the same event in once more as a webhook. It reaches the host
// once.
func redelivered(t *testing.T, r *row) {
	e := newEnv(t, envOptions{stomp: true})
	const target = "general.notifications"
	sent := subscribeAll(t, e.srv, target)
	ev := sandbox.Event{ID: "EPS_TWICE", Target: target, Type: "display", Data: []byte(`{"text":"Bitte Karte einstecken"}`)}
	e.srv.Push(ev)
	e.srv.Push(ev)
	testkit.WaitFor(t, 10*time.Second, "the sandbox to publish both", func() bool { return sent.count() == 2 })
	if err := e.c.HandleWebhook([]byte(`{"object":"event.pushes","id":"EPS_TWICE","target":"general.notifications","type":"display","data":{"text":"Bitte Karte einstecken"}}`)); err != nil {
		r.fail(t, "the webhook: %v", err)
	}
	// A later push shows that everything before it was handled.
	e.srv.Push(sandbox.Event{ID: "EPS_AFTER", Target: target, Type: "display", Data: []byte(`{"text":"danach"}`)})
	testkit.WaitFor(t, 10*time.Second, "the push after them", func() bool { return hasPush(e, "EPS_AFTER") })
	r.Result, r.Retryable, r.Outcome, r.Next, r.Exec, r.Attempts = "-", "-", "-", "-", "-", "-"
	checkEvents(t, e, r, sent, target)
	r.Note = fmt.Sprintf("delivered %d of EPS_TWICE (pushed twice, webhook once)", countPush(e, "EPS_TWICE")) + r.Note
}

func countPush(e *env, id string) int {
	n := 0
	for _, p := range e.events.pushes("") {
		if p.ID == id {
			n++
		}
	}
	return n
}

func hasPush(e *env, id string) bool {
	for _, p := range e.events.pushes("") {
		if p.ID == id {
			return true
		}
	}
	return false
}

// checkEvents: nothing delivered twice or invented, every loss signalled.
func checkEvents(t *testing.T, e *env, r *row, sent *sentLog, target string) {
	e.c.WaitEventsIdle()
	got := e.events.pushes(target)
	ids := sent.distinct()
	r.Events = fmt.Sprintf("%d/%d", sent.count(), len(got))
	if d := e.events.duplicates(); len(d) > 0 {
		r.fail(t, "push events delivered twice: %v", d)
	}
	for _, p := range got {
		if !ids[p.ID] {
			r.fail(t, "a push the sandbox never sent: %s", p.ID)
		}
	}
	if lost := len(ids) - len(got); lost > 0 && !e.events.lossSignalled() {
		r.fail(t, "%d of %d pushes lost without a connection, dropped or resync event", lost, len(ids))
	}
	connection := 0
	for _, ev := range e.events.All() {
		if ev.Kind == event.KindConnection {
			connection++
		}
	}
	r.Note += fmt.Sprintf(", %d connection event(s)", connection)
}

// damagedStore: a till's token store is damaged between two runs; the
// next run must still work, or fail with a typed error.
func damagedStore(how string) func(t *testing.T, r *row) {
	return func(t *testing.T, r *row) {
		path := filepath.Join(t.TempDir(), "tokens.db")
		e := newEnv(t, envOptions{noOpen: true, config: map[string]any{"store": map[string]any{"type": "sqlite", "path": path}}})
		// The till ran before: its store holds a token.
		if err := e.c.Open(contextFor(t)); err != nil {
			t.Fatalf("the first run: %v", err)
		}
		_ = e.c.Close()
		switch how {
		case "corrupted":
			if err := os.WriteFile(path, bytes.Repeat([]byte("not a database, a damaged card "), 200), 0o600); err != nil {
				t.Fatal(err)
			}
		case "truncated":
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		case "read-only":
			readOnly(t, path)
			e.srv.ExpireTokens() // the next run must store a new token
		}
		c, err := core.NewFromJSON(testkit.JSON(t, e.cfg))
		if err != nil {
			describe(r, asError(err))
			checkTyped(t, r, call0(err))
			msg := asError(err).Message
			r.Outcome, r.Next, r.Note = "(no call)", "stop", "the client cannot be created: "+msg[strings.LastIndex(msg, ": ")+2:]
			return
		}
		t.Cleanup(func() { _ = c.Close() })
		e.c = c
		if err := c.Open(contextFor(t)); err != nil {
			describe(r, asError(err))
			checkTyped(t, r, asError(err))
			r.Next = "stop"
			return
		}
		r.Op = "open + get"
		o, _, _ := newOp(t, e, &row{Fault: r.Fault, Transport: r.Transport, Op: "get"}, 0)
		out, callErr := e.do(o.req)
		judge(t, e, r, o, out, callErr)
		if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) > 0 {
			r.Note = "moved aside, started empty"
		}
	}
}

// call0 gives an error of client creation (not a call) the outcome a call
// before sending has, so checkTyped applies.
func call0(err error) *errs.Error {
	e := *asError(err)
	if e.Outcome == "" {
		e.Outcome = errs.OutcomeNotSent
	}
	return &e
}

// wrongCA: the server's certificate is signed by a CA the till does not
// trust. Nothing is sent; repeating cannot help.
func wrongCA(t *testing.T, r *row) {
	_, other, err := sandbox.SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(wrong, other, 0o600); err != nil {
		t.Fatal(err)
	}
	var e *env
	if r.Transport == REST {
		e = newEnv(t, envOptions{tls: true, noOpen: true, config: map[string]any{"tls": map[string]any{"ca_file": wrong}}})
	} else {
		srv := testkit.Sandbox(t, sandbox.Options{})
		conf, _, err := sandbox.SelfSignedTLS()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.StartSTOMP("127.0.0.1:0", conf); err != nil {
			t.Fatal(err)
		}
		cfg := testkit.ClientConfig(t, srv)
		cfg["stomp"] = testkit.STOMPConfig(t, srv)
		cfg["tls"] = map[string]any{"ca_file": wrong}
		e = &env{t: t, srv: srv, events: newEventLog(), cfg: cfg, oracle: &oracle{t: t, srv: srv}}
		e.c = e.client()
	}
	err = e.c.Open(contextFor(t))
	x := asError(err)
	if err == nil {
		r.fail(t, "opened despite a certificate of an unknown CA")
		x = nil
	}
	describe(r, x)
	checkTyped(t, r, x)
	seen := 0
	if r.Transport == REST {
		seen = e.tokenRequests()
	} else {
		for _, s := range e.srv.STOMPSessions() {
			seen += int(s.Frames)
		}
	}
	if x != nil && x.Outcome == errs.OutcomeNotSent && seen != 0 {
		r.fail(t, `outcome "not_sent", but the server saw %d request(s)`, seen)
	}
	if x != nil && x.Retryable {
		r.fail(t, "a refused certificate is retryable; repeating cannot help")
	}
	r.Next, r.Exec, r.Attempts = "stop", "-", fmt.Sprint(seen)
}
