package call

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
)

// script is a transport that answers each Send with the next outcome.
type script struct {
	mu          sync.Mutex
	outcomes    []Outcome
	sent        []string // the idempotency key of every Send
	invalidated []string
}

func (s *script) Send(ctx context.Context, p *Plan) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, p.Safety.Key)
	o := s.outcomes[0]
	if len(s.outcomes) > 1 {
		s.outcomes = s.outcomes[1:]
	}
	return o
}

func (s *script) Invalidate(tok string) { s.invalidated = append(s.invalidated, tok) }

func ok(body string) Outcome {
	return Outcome{Answer: Success, Written: true, Result: []byte(body)}
}

func testCaller() *Caller {
	return &Caller{
		Settings: Settings{Idempotency: true, Policy: Policy{MaxAttempts: 3, Backoff: retry.Backoff{Initial: time.Millisecond, Max: time.Millisecond}, MaxWait: time.Minute}},
		Pipeline: Pipeline{Sleep: retry.NoSleep},
	}
}

func TestRunRepeatsWithTheSameKey(t *testing.T) {
	c := testCaller()
	var retries []string
	c.OnRetry = func(p *Plan, attempt int, reason string) { retries = append(retries, reason) }
	s := &script{outcomes: []Outcome{
		{Written: true, Err: errs.New(errs.Network, "x", "reset")},
		Decode(&Plan{Name: "x", Request: &api.Request{Op: api.Create}}, Reply{Status: 503}, ""),
		ok(`{"id":"STX_1"}`),
	}}
	out, err := c.Do(context.Background(), &api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)}, s)
	require.NoError(t, err)
	assert.JSONEq(t, `{"id":"STX_1"}`, string(out))
	require.Len(t, s.sent, 3)
	assert.NotEmpty(t, s.sent[0])
	assert.Equal(t, s.sent[0], s.sent[1], "a repeat carries the same idempotency key")
	assert.Equal(t, s.sent[0], s.sent[2])
	assert.Len(t, retries, 2)
}

func TestRunReplaysARefusedTokenOnce(t *testing.T) {
	c := testCaller()
	refused := Decode(&Plan{Name: "x", Request: &api.Request{Op: api.Get}}, Reply{Status: 401}, "old")
	s := &script{outcomes: []Outcome{refused, ok(`{}`)}}
	_, err := c.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List}, s)
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, s.invalidated)

	// A fresh token refused as well: token_rejected, never a loop.
	s = &script{outcomes: []Outcome{refused}}
	_, err = c.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List}, s)
	e := asErr(t, err)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonTokenRejected, e.Reason)
	assert.False(t, e.Retryable)
	assert.Len(t, s.sent, 2, "one replay, then the error")
}

func TestRunEndsWhenTheContextEndsWhileWaiting(t *testing.T) {
	c := testCaller()
	c.Sleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	s := &script{outcomes: []Outcome{{Written: false, Err: errs.New(errs.Network, "x", "refused")}}}
	_, err := c.Do(context.Background(), &api.Request{Resource: "smart.idents", Op: api.List}, s)
	e := asErr(t, err)
	assert.Equal(t, errs.Network, e.Kind)
	assert.Contains(t, e.Message, "ended before it could be repeated")
	assert.True(t, e.Retryable)
	assert.Equal(t, errs.OutcomeNotSent, e.Outcome)
	assert.Len(t, s.sent, 1)
}

// lookup is a Doer that answers a GET with a fixed object.
type lookup struct {
	obj  string
	err  error
	reqs []api.Request
}

func (l *lookup) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	l.reqs = append(l.reqs, *req)
	if l.err != nil {
		return nil, l.err
	}
	return json.RawMessage(l.obj), nil
}

func startReq() *api.Request {
	return &api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_9", Action: "start", Arg: "demo"}
}

func TestPaymentStartIsSettledByOneLookup(t *testing.T) {
	lost := Outcome{Written: true, Err: errs.New(errs.Network, "x", "the connection dropped")}

	t.Run("final: the transaction is the answer", func(t *testing.T) {
		c := testCaller()
		l := &lookup{obj: `{"id":"STX_9","status":"ok","receipt":[]}`}
		c.Lookup = l
		s := &script{outcomes: []Outcome{lost}}
		out, err := c.Do(context.Background(), startReq(), s)
		require.NoError(t, err)
		assert.JSONEq(t, l.obj, string(out))
		assert.Len(t, s.sent, 1, "a payment start is never repeated")
		require.Len(t, l.reqs, 1, "one lookup")
		assert.Equal(t, api.Get, l.reqs[0].Op)
		assert.Equal(t, "STX_9", l.reqs[0].ID)
	})
	t.Run("still pending: outcome unknown with the id", func(t *testing.T) {
		c := testCaller()
		l := &lookup{obj: `{"id":"STX_9","status":"created"}`}
		c.Lookup = l
		s := &script{outcomes: []Outcome{lost}}
		_, err := c.Do(context.Background(), startReq(), s)
		e := asErr(t, err)
		assert.False(t, e.Retryable)
		assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
		assert.Equal(t, "STX_9", e.ObjectID)
		assert.NotEmpty(t, e.IdempotencyKey)
		assert.Contains(t, e.Message, `"created"`)
		assert.Len(t, s.sent, 1)
		assert.Len(t, l.reqs, 1)
	})
	t.Run("lookup fails: outcome unknown", func(t *testing.T) {
		c := testCaller()
		c.Lookup = &lookup{err: errs.New(errs.Network, "x", "down")}
		_, err := c.Do(context.Background(), startReq(), &script{outcomes: []Outcome{lost}})
		e := asErr(t, err)
		assert.Equal(t, errs.OutcomeUnknown, e.Outcome)
		assert.Equal(t, "STX_9", e.ObjectID)
		assert.Contains(t, e.Message, "looking it up failed")
	})
	t.Run("never sent: repeated, no lookup", func(t *testing.T) {
		c := testCaller()
		l := &lookup{obj: `{"status":"ok"}`}
		c.Lookup = l
		s := &script{outcomes: []Outcome{{Err: errs.New(errs.Network, "x", "refused")}, ok(`{"status":"ok","id":"STX_9"}`)}}
		_, err := c.Do(context.Background(), startReq(), s)
		require.NoError(t, err)
		assert.Len(t, s.sent, 2)
		assert.Empty(t, l.reqs)
	})
	t.Run("deadline passed: the lookup gets a grace period", func(t *testing.T) {
		c := testCaller()
		c.LookupGrace = time.Second
		var deadline time.Time
		c.Lookup = api.DoerFunc(func(ctx context.Context, req *api.Request) (json.RawMessage, error) {
			deadline, _ = ctx.Deadline()
			return json.RawMessage(`{"status":"failed"}`), ctx.Err()
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		<-ctx.Done()
		timedOut := Outcome{Written: true, Err: errs.New(errs.Timeout, "x", "no answer")}
		out, err := c.Do(ctx, startReq(), &script{outcomes: []Outcome{timedOut}})
		assert.Nil(t, out)
		e := asErr(t, err)
		assert.Equal(t, errs.Declined, e.Kind, "the settled payment was not made")
		assert.JSONEq(t, `{"status":"failed"}`, string(e.Transaction))
		assert.Equal(t, errs.OutcomeRejected, e.Outcome)
		assert.WithinDuration(t, time.Now().Add(time.Second), deadline, 500*time.Millisecond)
	})
}

func TestResolve(t *testing.T) {
	s := Settings{Idempotency: true, NewKey: func() string { return "gen" }, AppID: "APP_1"}
	p, err := s.Resolve(&api.Request{Resource: "Smart.Transactions", Op: api.Execute, Action: "diagnosis"})
	require.NoError(t, err)
	assert.Equal(t, "smart.transactions", p.Request.Resource)
	assert.Equal(t, "Diagnosis", p.Request.Action, "the catalog's spelling")
	assert.JSONEq(t, `"smart.transactions"`, string(p.Request.Data), "the Java SDK's default body")
	assert.Equal(t, "gen", p.Safety.Key)
	assert.True(t, p.Safety.KeyDedupes)
	assert.False(t, p.LookUp)

	p, err = s.Resolve(&api.Request{Resource: "smart.transactions", Op: api.Execute, ID: "STX_1", Action: "start", Arg: "demo", IdempotencyKey: "mine"})
	require.NoError(t, err)
	assert.Equal(t, "mine", p.Safety.Key, "the host's key wins")
	assert.False(t, p.Safety.KeyDedupes, "a payment start's key is not trusted to make a repeat safe")
	assert.True(t, p.LookUp)

	p, err = s.Resolve(&api.Request{Resource: "general.accounts", Op: api.Create, Data: []byte(`{}`)})
	require.NoError(t, err)
	assert.True(t, p.Request.Anonymous)

	p, err = s.Resolve(&api.Request{Resource: "general.apps", Op: api.Execute, Action: "callBackend"})
	require.NoError(t, err)
	assert.Equal(t, "APP_1", p.Request.ID)

	p, err = s.Resolve(&api.Request{Resource: "smart.idents", Op: api.Get, ID: "smi_1"})
	require.NoError(t, err)
	assert.Equal(t, Safety{}, p.Safety, "a read carries no key")

	_, err = s.Resolve(&api.Request{Resource: "smart.transaction", Op: api.List})
	e := asErr(t, err)
	assert.Equal(t, "resource", e.Field)
	assert.Contains(t, e.Message, "smart.transactions")

	off := Settings{}
	p, err = off.Resolve(&api.Request{Resource: "smart.transactions", Op: api.Create, Data: []byte(`{}`)})
	require.NoError(t, err)
	assert.Empty(t, p.Safety.Key, "idempotency off: no key")
}

// The scroll rules of spec §3.3 are applied once, in Resolve, for both
// channels.
func TestResolveNormalisesTheQuery(t *testing.T) {
	s := Settings{}
	q := &api.Query{Count: intp(5), Offset: 10, Fields: []string{"id"}, Sort: []api.SortField{{Field: "created", Order: "DESC"}}, Q: "x", ScrollID: "S1", ScrollExpire: "5m"}
	p, err := s.Resolve(&api.Request{Resource: "smart.transactions", Op: api.List, Query: q})
	require.NoError(t, err)
	assert.Equal(t, &api.Query{Q: "x", ScrollID: "S1", ScrollExpire: "5m"}, p.Request.Query)
	assert.Equal(t, 10, q.Offset, "the caller's query is not modified")

	p, err = s.Resolve(&api.Request{Resource: "smart.transactions", Op: api.List, Query: &api.Query{Count: intp(5), Offset: 10, ScrollExpire: "5m", Sort: []api.SortField{{Field: "a", Order: "Desc"}}}})
	require.NoError(t, err)
	assert.Equal(t, &api.Query{Count: intp(5), ScrollExpire: "5m", Sort: []api.SortField{{Field: "a", Order: "desc"}}}, p.Request.Query)
}

// One reading of answers: REST and STOMP give the same result and the same
// error for the same answer.
func TestDecodeIsTheSameForBothChannels(t *testing.T) {
	list := &Plan{Name: "smart.idents.list", Request: &api.Request{Op: api.List}}
	get := &Plan{Name: "smart.idents.get", Request: &api.Request{Op: api.Get}}
	cases := []struct {
		name string
		p    *Plan
		data string
		want string
	}{
		{"object", get, `{"id":"smi_1"}`, `{"id":"smi_1"}`},
		{"null object", get, `null`, `null`},
		{"list", list, `{"count":"2","data":[{"id":1},{"id":2}]}`, `{"count":2,"data":[{"id":1},{"id":2}]}`},
		{"list with null data", list, `{"count":0,"data":null}`, `{"count":0,"data":[]}`},
		{"bare array", list, `[{"id":1}]`, `{"count":1,"data":[{"id":1}]}`},
		{"empty list", list, ``, `{"count":0,"data":[]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Decode(tc.p, Reply{Status: 200, Body: []byte(tc.data)}, "")
			framed := `{"status":"ok","data":` + tc.data + `}`
			if tc.data == "" {
				framed = `{"status":"ok"}`
			}
			s := Decode(tc.p, Reply{Framed: true, Body: []byte(framed)}, "")
			require.Equal(t, Success, r.Answer)
			require.Equal(t, Success, s.Answer)
			assert.JSONEq(t, tc.want, string(r.Result))
			assert.JSONEq(t, tc.want, string(s.Result))
		})
	}
	env := `{"status":"error","error":"ProductNotAllowedException","error_details":"bad state","error_user":"nope","code":"3003","supportId":"s1"}`
	r := Decode(get, Reply{Status: 400, Body: []byte(env)}, "")
	s := Decode(get, Reply{Framed: true, Body: []byte(env)}, "")
	assert.Equal(t, Refused, r.Answer)
	assert.Equal(t, Refused, s.Answer)
	for _, e := range []*errs.Error{r.Err, s.Err} {
		assert.Equal(t, errs.API, e.Kind)
		assert.Equal(t, "ProductNotAllowedException", e.ErrorName)
		assert.Equal(t, "bad state", e.Details)
		assert.Equal(t, "nope", e.UserMessage)
		assert.Equal(t, "3003", e.Code)
		assert.Equal(t, "s1", e.SupportID)
	}
	assert.Equal(t, Unreadable, Decode(get, Reply{Status: 200, Body: []byte(`<html>`)}, "").Answer)
	assert.Equal(t, Unreadable, Decode(get, Reply{Framed: true, Body: []byte(`<html>`)}, "").Answer)
	notFound := `{"status":"error","error":"ProductNotFoundException"}`
	assert.JSONEq(t, `{"count":0,"data":[]}`, string(Decode(list, Reply{Framed: true, Body: []byte(notFound)}, "").Result),
		"STOMP lists answer an empty result with ProductNotFoundException (spec §4.7)")
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"2", 2 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format("Mon, 02 Jan 2006 15:04:05 GMT"), 90 * time.Second, true},
		{now.Add(-time.Minute).Format("Mon, 02 Jan 2006 15:04:05 GMT"), 0, true},
		{"99999999999", 24 * time.Hour, true},
		// Found by FuzzRESTAnswer: a date far ahead gave retry_after_ms of
		// 292 years (the duration's limit); it is capped like the seconds.
		{"Wed, 01 Oct 7000 00:00:00 GMT", 24 * time.Hour, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			h := map[string][]string{"Retry-After": {tc.in}}
			d, ok := RetryAfter(h, now)
			assert.Equal(t, tc.want, d)
			assert.Equal(t, tc.ok, ok)
		})
	}
}

// A 2xx REST body that is an error envelope must not pass for success, in
// any spelling encoding/json matches; an object without a status key is
// checked for validity without the probe's decode.
func TestDecodeFindsAnErrorEnvelopeInA2xx(t *testing.T) {
	get := &Plan{Name: "smart.idents.get", Request: &api.Request{Resource: "smart.idents", Op: api.Get, ID: "smi_1"}}
	for _, body := range []string{
		`{"status":"error","error":"ProductNotAllowedException"}`,
		`{"Status":"ERROR","error":"ProductNotAllowedException"}`,
		`{"\u0073tatus":"error","error":"ProductNotAllowedException"}`,
		` {"id":"x", "STATUS" : "error","error":"ProductNotAllowedException"}`,
	} {
		o := Decode(get, Reply{Status: 200, Body: []byte(body)}, "")
		assert.NotEqual(t, Success, o.Answer, body)
	}
	ok := Decode(get, Reply{Status: 200, Body: []byte(`{"object":"smart.idents","id":"smi_1","type":"card"}`)}, "")
	assert.Equal(t, Success, ok.Answer)
	assert.Equal(t, Unreadable, Decode(get, Reply{Status: 200, Body: []byte(`{"id":"smi_1",}`)}, "").Answer)
	assert.Equal(t, Success, Decode(get, Reply{Status: 200, Body: []byte(`{"status":"accepted"}`)}, "").Answer)
}
