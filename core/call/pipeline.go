package call

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/core/retry"
)

// Transport sends a plan once and reports what happened. It never repeats a
// request by itself and never decides whether one may be repeated.
type Transport interface {
	Send(ctx context.Context, p *Plan) Outcome
	// Invalidate drops an access token the server refused (RefusedToken),
	// so the next Send carries a fresh one.
	Invalidate(token string)
}

// Pipeline runs plans on transports: send, Decide, wait, repeat, Finish.
type Pipeline struct {
	Sleep retry.Sleeper // nil: retry.Sleep
	Log   *logging.Logger
	// OnRetry is called before each repeat's wait (stats). It must not block.
	OnRetry func(p *Plan, attempt int, reason string)
}

// Run sends p through t until an attempt succeeds or Decide says stop, and
// returns the successful outcome or the finished error. The plan's deadline
// is taken from ctx. A refused access token is invalidated and the request
// replayed once with a fresh one; that replay is not a repeat. The error's
// outcome covers every attempt: what an earlier one may have done on the
// server, a later one cannot undo.
func (pl *Pipeline) Run(ctx context.Context, p *Plan, t Transport) (Outcome, *errs.Error) {
	if dl, ok := ctx.Deadline(); ok {
		p.Deadline = dl
	}
	replayed := false
	// before is what the earlier attempts may have done on the server: a
	// later attempt that never left, or was refused, does not undo it.
	before := ""
	for attempt := 1; ; {
		o := t.Send(ctx, p)
		if o.Answer == Success {
			return o, nil
		}
		if o.RefusedToken != "" {
			if !replayed {
				replayed = true
				before = worse(before, outcomeOf(o))
				t.Invalidate(o.RefusedToken)
				pl.Log.Debugf("%s: the token was refused; replaying once with a new one", p.Name)
				continue
			}
			o.Err = tokenRejected(o)
		}
		d := Decide(p, o, attempt)
		d.Outcome = worse(before, d.Outcome)
		before = d.Outcome
		if !d.Repeat {
			if attempt > 1 || d.Retryable {
				pl.Log.Debugf("%s: not repeated after attempt %d: %s", p.Name, attempt, d.Reason)
			}
			return o, Finish(p, o, d)
		}
		if pl.OnRetry != nil {
			pl.OnRetry(p, attempt, d.Reason)
		}
		pl.Log.Debugf("%s: repeat %d in %s: %s", p.Name, attempt, d.Delay.Round(time.Millisecond), d.Reason)
		sleep := pl.Sleep
		if sleep == nil {
			sleep = retry.Sleep
		}
		if err := sleep(ctx, d.Delay); err != nil {
			// The context ended while waiting: the last failure stands, and
			// says that it was not repeated.
			d.Repeat = false
			if e := o.Err; e != nil {
				c := *e
				c.Message += "; the call ended before it could be repeated"
				o.Err = &c
			}
			return o, Finish(p, o, d)
		}
		attempt++
	}
}

// worse is the outcome that says more may have happened on the server:
// unknown over rejected over not_sent ("" is no attempt yet). A call's
// outcome is the worst of its attempts'.
func worse(a, b string) string {
	rank := func(o string) int {
		switch o {
		case errs.OutcomeUnknown:
			return 3
		case errs.OutcomeRejected:
			return 2
		case errs.OutcomeNotSent:
			return 1
		}
		return 0
	}
	if rank(a) > rank(b) {
		return a
	}
	return b
}

// tokenRejected is the error of a request whose fresh token was refused too.
func tokenRejected(o Outcome) *errs.Error {
	var e errs.Error
	if o.Err != nil {
		e = *o.Err
	}
	e.Kind, e.Reason = errs.Auth, errs.ReasonTokenRejected
	if e.Details == "" {
		e.Message = "the API rejected a freshly issued token" + statusText(o.Status)
	}
	return &e
}

// Caller is the secucard call pipeline: it resolves requests into plans and
// runs them, and settles a payment start whose outcome is unknown by reading
// the transaction once. The core client holds one.
type Caller struct {
	Settings
	Pipeline
	// Lookup reads an object when an unknown outcome is settled (the core
	// client, so the read takes the client's routing); nil: no lookups.
	Lookup api.Doer
	// Life bounds lookups that run after the caller's deadline (the
	// client's lifetime, so Close stops them); nil: context.Background.
	Life context.Context
	// LookupGrace bounds a lookup when the call's own deadline has passed.
	LookupGrace time.Duration
}

// Do resolves req and runs it on t. A timeout_ms in the request bounds the
// whole call.
func (c *Caller) Do(ctx context.Context, req *api.Request, t Transport) (json.RawMessage, error) {
	p, err := c.Resolve(req)
	if err != nil {
		name := "request"
		if req != nil {
			name = req.Name()
		}
		return nil, Unsent(name, err)
	}
	if d := p.Request.Timeout(); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	return c.Run(ctx, p, t)
}

// Doer adapts the caller and one transport to api.Doer.
func (c *Caller) Doer(t Transport) api.Doer {
	return api.DoerFunc(func(ctx context.Context, req *api.Request) (json.RawMessage, error) {
		return c.Do(ctx, req, t)
	})
}

// Run runs a resolved plan on t.
func (c *Caller) Run(ctx context.Context, p *Plan, t Transport) (json.RawMessage, error) {
	o, e := c.Pipeline.Run(ctx, p, t)
	if e == nil {
		return paid(p, o.Result)
	}
	if p.LookUp && e.Outcome == errs.OutcomeUnknown && c.Lookup != nil && e.Kind != errs.Canceled && e.Kind != errs.Closed {
		obj, err := c.settle(ctx, p, e)
		if err != nil {
			return nil, err
		}
		return paid(p, obj)
	}
	return nil, e
}

// paid passes the answer of a payment that was made, and turns one that ended
// without a payment (failed, declined, aborted, ...) into a Declined error
// carrying the transaction: a till that checks only the status code must
// never take a decline for a payment. The error goes through Finish like
// every other: the server answered and did not pay, so the outcome is
// rejected and a repeat of the same start is not offered.
func paid(p *Plan, result []byte) (json.RawMessage, error) {
	if !p.Payment {
		return json.RawMessage(result), nil
	}
	status, unpaid := product.Unpaid(p.Request.Resource, result)
	if !unpaid {
		return json.RawMessage(result), nil
	}
	var tx struct {
		Error json.RawMessage `json:"error"`
	}
	why := ""
	if json.Unmarshal(result, &tx) == nil && len(tx.Error) > 0 && string(tx.Error) != "null" && string(tx.Error) != `""` {
		why = ": " + strings.Trim(string(tx.Error), `"`)
	}
	e := errs.New(errs.Declined, p.Name, "the payment was not made: %s %s ended with status %q%s",
		p.Request.Resource, p.Request.ID, status, why)
	e.Reason = strings.ToLower(status)
	e.ObjectID = p.Request.ID
	e.Transaction = append(json.RawMessage(nil), result...)
	o := Outcome{Answer: Refused, Written: true, Err: e}
	return nil, Finish(p, o, Decide(p, o, 1))
}

// settle reads the object of a payment whose answer was lost (timed out,
// connection dropped, a server failure): a final state is the answer the
// call would have had; anything else leaves the outcome unknown, and the
// error names the object to look up before anything is repeated.
func (c *Caller) settle(ctx context.Context, p *Plan, e *errs.Error) (json.RawMessage, error) {
	r := p.Request
	lctx := ctx
	if ctx.Err() != nil || time.Until(p.Deadline) < c.LookupGrace/4 {
		life := c.Life
		if life == nil {
			life = context.Background()
		}
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(life, c.LookupGrace)
		defer cancel()
	}
	out := *e
	out.ObjectID = r.ID
	obj, err := c.Lookup.Do(lctx, &api.Request{Resource: r.Resource, Op: api.Get, ID: r.ID})
	if err != nil {
		out.Message += "; looking it up failed too (" + errs.As(err).Message + "): look " + r.Resource + " " + r.ID + " up before repeating"
		return nil, &out
	}
	status, final := product.Settled(r.Resource, obj)
	if final {
		c.Log.Infof("%s: the answer was lost (%s); %s %s is %q, returning it", p.Name, e.Message, r.Resource, r.ID, status)
		return obj, nil
	}
	out.Message += "; " + r.Resource + " " + r.ID + " is still " + quote(status) + ": look it up again before repeating"
	return nil, &out
}

func quote(s string) string {
	if s == "" {
		return "without a status"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
