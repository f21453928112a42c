package reliability

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"

	"github.com/libsecucard/libsecucard/core"
	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/sandbox"
)

// row is one line of the fault table and what the row found broken.
type row struct {
	Fault, Transport, Op string

	Result    string // "ok" or the error's type (and reason)
	Retryable string // "true" / "false" / "-" (no error)
	Outcome   string // the error's outcome, "-" without error
	Next      string // what the host did as the error advised, and how it ended
	Exec      string // executions of the logical operation on the server, at the end
	Attempts  string // requests the server saw for it
	Events    string // push events sent/delivered, "-" for rows without pushes
	Note      string

	mu     sync.Mutex
	broken []string
}

// fail records a broken invariant: the row fails, the table still prints.
func (r *row) fail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.broken = append(r.broken, msg)
	r.mu.Unlock()
	t.Errorf("%s × %s × %s: %s", r.Fault, r.Transport, r.Op, msg)
}

// op is one logical operation of a row: its request, how the sandbox's
// requests for it are recognised, and how often it executed.
type op struct {
	req      core.Request // a secucard or a CardPointe request
	match    func(sandbox.RequestRecord) bool
	executed func() int // nil for reads
	mutating bool
	keyed    bool // carries an idempotency key (secucard's mutating calls)
	payment  bool
	objectID string // a secucard payment's transaction, named by its error
	// gatewaySays: "not_sent" rests on the server's word, not on this
	// machine's: CardPointe reports an auth its inquiry does not find as
	// never sent (PPS 29, as the Gateway documents; secucard.h).
	gatewaySays bool
}

// newOp builds the row's operation on a fresh object. Faults for it are
// armed on path (and method).
func newOp(t testing.TB, e *env, r *row, timeoutMS int) (o op, path, method string) {
	ref := refOf(r)
	channel := r.Transport
	switch r.Op {
	case "create":
		o.req = request(t, `{"resource":"smart.transactions","op":"create","channel":"`+channel+`","timeout_ms":`+strconv.Itoa(timeoutMS)+
			`,"data":{"transactionRef":"`+ref+`","basket_info":{"sum":1297,"currency":"EUR"}}}`)
		o.match = matchOp("POST", "/smart/transactions", "api:add:smart.transactions")
		o.executed = func() int { return e.oracle.count(ref) }
		o.mutating, o.keyed = true, true
		return o, "/smart/transactions", "POST"
	case "payment start":
		// Cash: the sandbox never declines it, so a row does not depend
		// on the demo type's random declines.
		id := e.oracle.createTx(ref)
		o.req = request(t, `{"resource":"smart.transactions","op":"execute","id":"`+id+`","action":"start","arg":"cash","channel":"`+channel+
			`","timeout_ms":`+strconv.Itoa(timeoutMS)+`}`)
		o.match = matchOp("POST", "/smart/transactions/"+id+"/start", "api:exec:smart.transactions.start")
		o.executed = func() int { return e.oracle.started(id) }
		o.mutating, o.keyed, o.payment, o.objectID = true, true, true, id
		return o, "/smart/transactions/" + id + "/start", "POST"
	case "get":
		id := e.oracle.createTx(ref)
		o.req = request(t, `{"resource":"smart.transactions","op":"get","id":"`+id+`","channel":"`+channel+`","timeout_ms":`+strconv.Itoa(timeoutMS)+`}`)
		o.match = matchOp("GET", "/smart/transactions/"+id, "api:get:smart.transactions")
		return o, "/smart/transactions/" + id, "GET"
	case "auth": // a CardPointe sale: its orderid is its identity
		o.req = request(t, `{"system":"cardpointe","op":"auth","timeout_ms":`+strconv.Itoa(timeoutMS)+
			`,"data":{"account":"4111111111111111","expiry":"1230","amount":1297,"capture":true,"orderid":"`+orderID(ref)+`"}}`)
		o.match = func(r sandbox.RequestRecord) bool { return r.Method == "POST" && r.Path == "/cardconnect/rest/auth" }
		o.executed = func() int { return e.oracle.approvals(orderID(ref)) }
		o.mutating, o.payment, o.gatewaySays = true, true, true
		return o, "/cardconnect/rest/auth", "POST"
	}
	t.Fatalf("unknown operation %q", r.Op)
	return
}

func request(t testing.TB, s string) core.Request {
	t.Helper()
	r, err := core.ParseRequest([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return r
}

// orderID is a CardPointe orderid for ref: letters and digits, at most 19.
func orderID(ref string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(ref))
	return fmt.Sprintf("M%016x", h.Sum64())[:17]
}

// refOf is a transactionRef unique to the row.
func refOf(r *row) string {
	s := strings.NewReplacer(" ", "-", "(", "", ")", "", ",", "", "×", "x", "/", "-").Replace(r.Fault + "." + r.Transport + "." + r.Op)
	return "m-" + s
}

// known are the error types a host can act on.
var known = map[errs.Kind]bool{errs.InvalidArgument: true, errs.Auth: true, errs.API: true, errs.Declined: true,
	errs.Network: true, errs.Timeout: true, errs.Canceled: true, errs.Closed: true, errs.Storage: true}

// describe fills the row's result columns from a call's error.
func describe(r *row, err *errs.Error) {
	if err == nil {
		r.Result, r.Retryable, r.Outcome = "ok", "-", "-"
		return
	}
	r.Result = string(err.Kind)
	if err.Reason != "" {
		r.Result += " (" + err.Reason + ")"
	}
	r.Retryable, r.Outcome = strconv.FormatBool(err.Retryable), err.Outcome
}

// checkTyped: every error is typed and, for a call, says its outcome.
func checkTyped(t testing.TB, r *row, err *errs.Error) {
	t.Helper()
	if err == nil {
		return
	}
	if !known[err.Kind] {
		r.fail(t, "untyped error %q: %v", err.Kind, err)
	}
	switch err.Outcome {
	case errs.OutcomeNotSent, errs.OutcomeRejected, errs.OutcomeUnknown:
	default:
		r.fail(t, "an error without an outcome (%q): %v", err.Outcome, err)
	}
}

// judge checks one call against the invariants, then does what its error
// advises, as a host would, and checks the end state.
func judge(t testing.TB, e *env, r *row, o op, out json.RawMessage, err *errs.Error) {
	t.Helper()
	seen := e.attempts(o.match) // what the server saw when the host got the answer
	describe(r, err)
	checkTyped(t, r, err)
	e.settle()
	before := -1
	if o.executed != nil {
		before = o.executed()
	}
	switch {
	case err == nil && o.executed != nil && before != 1:
		r.fail(t, "the call succeeded, the server executed it %d times", before)
	case err == nil:
	case err.Outcome == errs.OutcomeNotSent && o.gatewaySays && before != 0:
		r.fail(t, `outcome "not_sent" (the Gateway found no such auth), but it executed %d time(s)`, before)
	case err.Outcome == errs.OutcomeNotSent && !o.gatewaySays && seen != 0:
		r.fail(t, `outcome "not_sent", but the server saw %d request(s) for it`, seen)
	case err.Outcome == errs.OutcomeRejected && before > 0:
		r.fail(t, `outcome "rejected", but the server executed it %d time(s)`, before)
	case o.payment && err.Outcome == errs.OutcomeUnknown && err.Retryable:
		r.fail(t, "a payment start that may have run is retryable")
	case o.payment && err.Outcome == errs.OutcomeUnknown && err.ObjectID != o.objectID:
		r.fail(t, "a payment start with an unknown outcome names the object %q, not %q", err.ObjectID, o.objectID)
	}
	if err != nil && o.keyed && err.IdempotencyKey == "" {
		r.fail(t, "the error of a mutating call carries no idempotency_key")
	}
	r.Next = followUp(t, e, r, o, err)
	e.settle()
	if o.executed != nil {
		n := o.executed()
		r.Exec = strconv.Itoa(n)
		if n > 1 {
			r.fail(t, "executed %d times", n)
		}
	} else {
		r.Exec = "(read)"
	}
	r.Attempts = strconv.Itoa(e.attempts(o.match))
	if out != nil && !json.Valid(out) {
		r.fail(t, "a result that is not JSON: %q", out)
	}
}

// followUp does what the error says: repeat a retryable call with its
// idempotency key; look a payment up when its outcome is unknown; open
// again when the client needs an interactive login; otherwise stop.
func followUp(t testing.TB, e *env, r *row, o op, err *errs.Error) string {
	t.Helper()
	switch {
	case err == nil:
		return "-"
	case err.Retryable:
		again := o.req
		if r, ok := o.req.(*api.Request); ok {
			c := *r
			c.IdempotencyKey = err.IdempotencyKey
			again = &c
		} // a CardPointe request repeats as it is: same orderid
		_, err2 := e.do(again)
		checkTyped(t, r, err2)
		how := "repeat with key"
		if !o.keyed {
			how = "repeat"
		}
		if err2 == nil {
			return how + " → ok"
		}
		return how + " → " + string(err2.Kind)
	case err.Outcome == errs.OutcomeUnknown && err.OrderID != "":
		_, err2 := e.call(`{"system":"cardpointe","op":"inquireByOrderid","data":{"orderid":"` + err.OrderID + `"}}`)
		if err2 != nil && err2.RespCode != "29" {
			return "look it up → " + string(err2.Kind)
		}
		return "look it up"
	case err.Outcome == errs.OutcomeUnknown && err.ObjectID != "":
		_, err2 := e.call(`{"resource":"smart.transactions","op":"get","id":"` + err.ObjectID + `"}`)
		if err2 != nil {
			return "look up → " + string(err2.Kind)
		}
		return "look it up"
	case err.Kind == errs.Auth && err.Reason == errs.ReasonNotAuthorized:
		if err := e.c.Open(contextFor(t)); err != nil {
			return "open → " + string(asError(err).Kind)
		}
		_, err2 := e.do(o.req)
		checkTyped(t, r, err2)
		if err2 == nil {
			return "open, repeat → ok"
		}
		return "open, repeat → " + string(err2.Kind)
	}
	return "stop"
}

// matrix collects the rows for the table.
type matrix struct {
	mu   sync.Mutex
	rows []*row
}

func (m *matrix) add(r *row) {
	m.mu.Lock()
	m.rows = append(m.rows, r)
	m.mu.Unlock()
}

// print writes the table, in the order the rows were declared.
func (m *matrix) print(order []string) {
	pos := map[string]int{}
	for i, k := range order {
		pos[k] = i
	}
	sort.SliceStable(m.rows, func(i, j int) bool { return pos[key(m.rows[i])] < pos[key(m.rows[j])] })
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "fault\ttransport\toperation\tresult\tretryable\toutcome\thost then\texec\tseen\tevents sent/recv\tinvariants\tnote")
	for _, r := range m.rows {
		verdict := "ok"
		if len(r.broken) > 0 {
			verdict = "BROKEN: " + strings.Join(r.broken, "; ")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Fault, r.Transport, r.Op, r.Result, r.Retryable,
			r.Outcome, r.Next, dash(r.Exec), dash(r.Attempts), dash(r.Events), verdict, r.Note)
	}
	_ = w.Flush()
}

func key(r *row) string { return r.Fault + "|" + r.Transport + "|" + r.Op }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
