package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// Transports of the matrix.
const (
	REST       = "rest"
	STOMP      = "stomp"
	CardPointe = "cardpointe" // the Gateway, HTTP Basic, no idempotency key
)

// envOptions shape one row's world: a fresh sandbox and a fresh client.
type envOptions struct {
	stomp   bool            // start the sandbox's STOMP endpoint and enable it in the client
	tls     bool            // serve REST over HTTPS
	sandbox sandbox.Options // StartDelay defaults to 20ms
	config  map[string]any  // merged into the client config, section by section
	opts    []core.Option
	noOpen  bool // do not open the client (a row that opens it itself)
	// cardpointe adds a cardpointe section for the sandbox's Gateway.
	cardpointe bool
}

// env is one row's sandbox, client and event log.
type env struct {
	t      testing.TB
	srv    *sandbox.Server
	c      *core.Client
	events *eventLog
	cfg    map[string]any
	oracle *oracle
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if o.sandbox.StartDelay == 0 {
		o.sandbox.StartDelay = 20 * time.Millisecond
	}
	var srv *sandbox.Server
	switch {
	case o.tls:
		srv = testkit.SandboxTLS(t, o.sandbox)
	case o.stomp:
		srv = testkit.SandboxSTOMP(t, o.sandbox)
	default:
		srv = testkit.Sandbox(t, o.sandbox)
	}
	cfg := testkit.ClientConfig(t, srv)
	// Fast repeats: the matrix is about what is repeated, not how slowly.
	cfg["retry"] = map[string]any{"max_attempts": 3, "initial_backoff_ms": 20, "max_backoff_ms": 100}
	if o.stomp {
		cfg["stomp"] = testkit.STOMPConfig(t, srv)
	}
	if o.cardpointe {
		cp := testkit.CardPointeConfig(srv)
		// The emulated Gateway answers at once: a 3 s answer window (the
		// real one is 33 s) keeps the recovery's rule and a row short.
		cp["timeouts"] = map[string]any{"gateway_ms": 3000, "recovery_ms": 10000}
		cfg["cardpointe"] = cp
	}
	for k, v := range o.config {
		if m, ok := v.(map[string]any); ok {
			if cur, ok := cfg[k].(map[string]any); ok {
				for kk, vv := range m {
					cur[kk] = vv
				}
				continue
			}
		}
		cfg[k] = v
	}
	e := &env{t: t, srv: srv, events: newEventLog(), cfg: cfg, oracle: &oracle{t: t, srv: srv}}
	e.c = e.client(o.opts...)
	if !o.noOpen {
		if err := e.c.Open(testkit.Context(t, 20*time.Second)); err != nil {
			t.Fatalf("open: %v", err)
		}
	}
	return e
}

// client builds a client from the env's config with the env's event log.
func (e *env) client(opts ...core.Option) *core.Client {
	e.t.Helper()
	c, err := core.NewFromJSON(testkit.JSON(e.t, e.cfg), opts...)
	if err != nil {
		e.t.Fatalf("client: %v", err)
	}
	e.t.Cleanup(func() { _ = c.Close() })
	if err := c.SetEventHandler(e.events.Add); err != nil {
		e.t.Fatalf("event handler: %v", err)
	}
	return c
}

// call runs one request; the error is the host's view of it.
func (e *env) call(req string) (json.RawMessage, *errs.Error) {
	e.t.Helper()
	r, err := core.ParseRequest([]byte(req))
	if err != nil {
		e.t.Fatalf("request %s: %v", req, err)
	}
	return e.do(r)
}

// do runs a parsed request on the system it names, as secucard_call does.
func (e *env) do(r core.Request) (json.RawMessage, *errs.Error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := e.c.Execute(ctx, r)
	if err != nil {
		return nil, asError(err)
	}
	return out, nil
}

// asError keeps a foreign error visible as such: errs.As would classify it.
func asError(err error) *errs.Error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return &errs.Error{Kind: "untyped", Message: fmt.Sprintf("%T: %v", err, err)}
	}
	return e
}

// settle waits until no request the sandbox saw is still running: every
// record has its status, or was dropped or aborted by its fault.
func (e *env) settle() {
	e.t.Helper()
	testkit.WaitFor(e.t, 30*time.Second, "the sandbox to finish every request", func() bool {
		for _, r := range e.srv.Requests() {
			if r.Status == 0 && !strings.Contains(r.Fault, "drop") && !strings.Contains(r.Fault, "aborted") {
				return false
			}
		}
		return true
	})
}

// attempts counts the requests the sandbox saw that match an operation.
func (e *env) attempts(match func(sandbox.RequestRecord) bool) int {
	n := 0
	for _, r := range e.srv.Requests() {
		if match(r) {
			n++
		}
	}
	return n
}

// tokenRequests counts the token requests the sandbox saw.
func (e *env) tokenRequests() int {
	return e.attempts(func(r sandbox.RequestRecord) bool { return r.Path == "/oauth/token" })
}

// matchOp matches the requests of one operation on either channel: REST by
// method and path prefix (under /api/v2), STOMP by its routing key.
func matchOp(method, restPath, routingKey string) func(sandbox.RequestRecord) bool {
	return func(r sandbox.RequestRecord) bool {
		if r.Method == "STOMP" {
			return strings.HasSuffix(r.Path, "/"+routingKey)
		}
		return r.Method == method && strings.HasPrefix(strings.ToLower(r.Path), strings.ToLower("/api/v2"+restPath))
	}
}

// oracle reads the sandbox's state directly (Dispatch, no HTTP): it is not
// the client under test and leaves no request records.
type oracle struct {
	t   testing.TB
	srv *sandbox.Server
	mu  sync.Mutex
	tok string
}

// token is a fresh token of the sandbox's client, taken in process.
func (o *oracle) token() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.tok != "" && o.srv.ValidToken(o.tok) {
		return o.tok
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {o.srv.ClientID()}, "client_secret": {o.srv.ClientSecret()}}
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	o.srv.Handler().ServeHTTP(rec, req)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
		o.t.Fatalf("oracle token: HTTP %d %s", rec.Code, rec.Body)
	}
	o.tok = body.AccessToken
	return o.tok
}

func (o *oracle) dispatch(r sandbox.DispatchRequest) json.RawMessage {
	o.t.Helper()
	r.Token = o.token()
	resp := o.srv.Dispatch(context.Background(), r)
	if resp.Status/100 != 2 {
		o.t.Fatalf("oracle %s %s.%s %s: HTTP %d %s", r.Op, r.Product, r.Resource, r.ID, resp.Status, resp.Body)
	}
	return resp.Body
}

// count is how many transactions carry transactionRef ref: how often the
// create that carried it was executed.
func (o *oracle) count(ref string) int {
	body := o.dispatch(sandbox.DispatchRequest{Op: "get", Product: "smart", Resource: "transactions",
		Query: url.Values{"q": {"transactionRef:" + ref}}})
	var page struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		o.t.Fatalf("oracle count: %v: %s", err, body)
	}
	return page.Count
}

// createTx creates a transaction ready to start, behind the client's back.
func (o *oracle) createTx(ref string) string {
	body := o.dispatch(sandbox.DispatchRequest{Op: "add", Product: "smart", Resource: "transactions",
		Body: json.RawMessage(`{"transactionRef":"` + ref + `","basket_info":{"sum":1297,"currency":"EUR"}}`)})
	var tx struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &tx); err != nil || tx.ID == "" {
		o.t.Fatalf("oracle create: %v: %s", err, body)
	}
	return tx.ID
}

// started is how often a start of transaction id was executed: a start
// takes a created transaction to a final status with a receipt number,
// once (the sandbox refuses a second start of the same transaction).
func (o *oracle) started(id string) int {
	body := o.dispatch(sandbox.DispatchRequest{Op: "get", Product: "smart", Resource: "transactions", ID: id})
	var tx struct {
		Status        string `json:"status"`
		ReceiptNumber string `json:"receipt_number"`
	}
	if err := json.Unmarshal(body, &tx); err != nil {
		o.t.Fatalf("oracle get: %v: %s", err, body)
	}
	if tx.Status != "created" && tx.ReceiptNumber != "" {
		return 1
	}
	return 0
}

// approvals counts the CardPointe sales of orderid that stand (approved,
// not voided), asking the Gateway emulation itself.
func (o *oracle) approvals(orderid string) int {
	o.t.Helper()
	user, pass, mid := o.srv.CardPointe().Credentials()
	req := httptest.NewRequest(http.MethodGet, "/cardconnect/rest/inquireByOrderid/"+orderid+"/"+mid, nil)
	req.SetBasicAuth(user, pass)
	rec := httptest.NewRecorder()
	o.srv.Handler().ServeHTTP(rec, req)
	var records []map[string]any
	var one map[string]any
	switch {
	case json.Unmarshal(rec.Body.Bytes(), &one) == nil:
		if one["respcode"] == "29" && one["account"] == nil {
			return 0 // not found
		}
		records = []map[string]any{one}
	case json.Unmarshal(rec.Body.Bytes(), &records) != nil:
		o.t.Fatalf("oracle inquireByOrderid: HTTP %d %s", rec.Code, rec.Body)
	}
	n := 0
	for _, r := range records {
		if r["respstat"] == "A" && r["setlstat"] != "Voided" {
			n++
		}
	}
	return n
}

// eventLog records every event the client delivers (Add), in order.
type eventLog struct{ testkit.Log[event.Event] }

func newEventLog() *eventLog { return &eventLog{} }

// pushes returns the delivered push events whose target is target.
func (l *eventLog) pushes(target string) []event.Event {
	var out []event.Event
	for _, e := range l.All() {
		if e.Kind == event.KindPush && (target == "" || e.Target == target) {
			out = append(out, e)
		}
	}
	return out
}

// duplicates lists push ids delivered more than once.
func (l *eventLog) duplicates() []string {
	seen := map[string]int{}
	var dup []string
	for _, e := range l.pushes("") {
		if e.ID == "" {
			continue
		}
		if seen[e.ID]++; seen[e.ID] == 2 {
			dup = append(dup, e.ID)
		}
	}
	return dup
}

// lossSignalled reports whether the host was told that events may have
// been lost: the connection went down, the queue dropped events, or a
// reconnect asked it to resynchronise.
func (l *eventLog) lossSignalled() bool {
	for _, e := range l.All() {
		switch {
		case e.Kind == event.KindDropped:
			return true
		case e.Kind == event.KindConnection && (e.State == event.Disconnected || e.State == event.Reconnecting):
			return true
		case e.Kind == event.KindConnection && strings.Contains(string(e.JSON()), `"resync":true`):
			return true
		}
	}
	return false
}

// sentLog counts the events the sandbox published, as an all-seeing
// subscriber gets them.
type sentLog struct {
	mu  sync.Mutex
	ids []string
}

func subscribeAll(t testing.TB, srv *sandbox.Server, target string) *sentLog {
	s := &sentLog{}
	cancel := srv.Subscribe("", func(ev sandbox.Event) {
		if target == "" || ev.Target == target {
			s.mu.Lock()
			s.ids = append(s.ids, ev.ID)
			s.mu.Unlock()
		}
	})
	t.Cleanup(cancel)
	return s
}

func (s *sentLog) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// distinct is the set of ids sent.
func (s *sentLog) distinct() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]bool{}
	for _, id := range s.ids {
		m[id] = true
	}
	return m
}

func (s *sentLog) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.ids {
		if x == id {
			return true
		}
	}
	return false
}
