package stomp

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// pending is a request waiting for its reply.
type pending struct {
	reply chan []byte // capacity 1: the reader never blocks on it
}

// result of one SEND on one connection.
type result int

const (
	replied    result = iota // a reply arrived
	notSent                  // the connection was gone before the frame was written
	lost                     // the connection ended after (or while) the frame was written
	refused                  // the broker refused the SEND with an ERROR naming its receipt
	unanswered               // written, but no receipt or reply in time (or the call was canceled)
	unsent                   // the request could not be registered (nothing was written)
)

// Invalidate implements call.Transport: the server refused this access token
// (ProductSecurityException). The channel logs in again with a fresh one
// before the replay is sent.
func (c *Channel) Invalidate(tok string) {
	c.cfg.Tokens.Invalidate(tok)
	c.poke()
}

// Send sends p once and reports the outcome (call.Transport). A call before
// Connect connects first, with the non-interactive token (so a device grant
// that was never completed fails with an auth error naming open). The reply
// wait is bounded by ctx; the client gives every STOMP call a deadline.
func (c *Channel) Send(ctx context.Context, p *call.Plan) call.Outcome {
	out, err := c.translate(p)
	if err != nil {
		return call.Outcome{Err: errs.As(err)}
	}
	if !c.Started() {
		if err := c.Connect(ctx); err != nil {
			return call.Outcome{Err: errs.As(err)}
		}
	}
	cn, err := c.acquire(ctx, out.op)
	if err != nil {
		// A token error already ran its own attempts; a missing connection
		// was waited for until the deadline.
		return call.Outcome{Err: errs.As(err), Exhausted: errs.KindOf(err) == errs.Auth}
	}
	body, res, e := c.exchange(ctx, cn, out)
	switch res {
	case replied:
		o := call.Decode(p, call.Reply{Body: body, Framed: true}, cn.token)
		if o.Answer == call.Success {
			c.touch()
		}
		return o
	case notSent:
		return call.Outcome{Err: errs.New(errs.Network, out.op, "the STOMP connection ended before the request was sent (%s)", cn.reason())}
	case lost:
		if c.isClosed() {
			return call.Outcome{Written: true, Err: errs.New(errs.Closed, out.op, "the STOMP channel was closed while the request was in flight")}
		}
		why := ""
		if r := cn.reason(); r != "" {
			why = " (" + r + ")"
		}
		return call.Outcome{Written: true, Err: errs.New(errs.Network, out.op, "the STOMP connection dropped%s before the answer arrived", why)}
	case refused:
		return call.Outcome{Answer: call.Refused, Written: true, Err: e}
	case unanswered:
		return call.Outcome{Written: true, Err: e}
	}
	return call.Outcome{Err: e}
}

// acquire returns the live connection whose login is the current access
// token, waiting (bounded by ctx, never holding a lock) while the channel
// reconnects or switches to a new token.
func (c *Channel) acquire(ctx context.Context, op string) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, errs.New(errs.Closed, op, "the STOMP channel is closed")
		}
		cn, changed, down := c.cur, c.changed, c.lastDown
		c.mu.Unlock()
		if cn != nil && !cn.isDead() {
			tok, err := c.token(ctx, op)
			if err != nil {
				return nil, err
			}
			if tok == cn.token {
				return cn, nil
			}
			// The token changed since this connection logged in (spec
			// §4.10): the user-id header must equal the login, so wait for
			// the supervisor to log in again with the new one.
			down = "switching to a new access token"
			c.poke()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, notConnected(ctx, op, down)
		}
	}
}

func notConnected(ctx context.Context, op, down string) *errs.Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return errs.New(errs.Canceled, op, "the call was canceled while waiting for the STOMP connection")
	}
	why := ""
	if down != "" {
		why = " (" + down + ")"
	}
	return errs.New(errs.Network, op, "not connected to the STOMP broker before the deadline%s; the request was not sent", why)
}

// token returns the current access token (never interactive) and registers
// it for redaction: it is the STOMP login, passcode and user-id.
func (c *Channel) token(ctx context.Context, op string) (string, error) {
	t, err := c.cfg.Tokens.Token(ctx, false)
	if err != nil {
		return "", errs.As(err)
	}
	if t == nil || t.AccessToken == "" {
		return "", errs.New(errs.Internal, op, "the token source returned no access token")
	}
	c.log.Redactor().Set("stomp_login", t.AccessToken)
	return t.AccessToken, nil
}

// exchange sends out once on cn and waits for its receipt and reply. It holds
// no lock while waiting.
func (c *Channel) exchange(ctx context.Context, cn *conn, out *outgoing) ([]byte, result, *errs.Error) {
	p := &pending{reply: make(chan []byte, 1)}
	c.pmu.Lock()
	if len(c.pending) >= MaxInFlight {
		c.pmu.Unlock()
		return nil, unsent, errs.New(errs.Network, out.op, "too many STOMP requests are waiting for replies (%d); the request was not sent", MaxInFlight)
	}
	if _, dup := c.pending[out.correlation]; dup {
		c.pmu.Unlock()
		return nil, unsent, errs.New(errs.Internal, out.op, "correlation-id %s is already in use", out.correlation)
	}
	c.pending[out.correlation] = p
	c.pmu.Unlock()
	cn.inflight.Add(1)
	defer func() {
		c.pmu.Lock()
		delete(c.pending, out.correlation)
		c.pmu.Unlock()
		cn.inflight.Add(-1)
	}()

	receipt := "rcpt-" + c.cfg.NewID()
	rc := cn.expectReceipt(receipt)
	defer cn.dropReceipt(receipt)

	f := frame.New(frame.SEND,
		frame.Destination, c.cfg.Destination+out.routingKey,
		"reply-to", c.cfg.ReplyQueue,
		"correlation-id", out.correlation,
		"user-id", cn.token,
		frame.ContentType, "application/json",
		frame.ContentLength, strconv.Itoa(len(out.body)),
		frame.Receipt, receipt)
	if out.actionID != "" {
		f.Header.Add("x-action", out.actionID)
	}
	if out.appID != "" {
		f.Header.Add("app-id", out.appID)
	}
	f.Body = out.body
	if c.log.Enabled(logging.Debug) {
		c.log.Debugf("SEND %s correlation-id=%s on connection %d", out.routingKey, out.correlation, cn.id)
		c.log.Tracef("SEND %s body: %s", out.routingKey, out.body)
	}
	if err := cn.write(f); err != nil {
		if errors.Is(err, errConnDead) {
			return nil, notSent, nil
		}
		return nil, lost, nil
	}

	receiptTimer := time.NewTimer(c.cfg.ReceiptTimeout)
	defer receiptTimer.Stop()
	receiptDue := receiptTimer.C
	for {
		select {
		case body := <-p.reply:
			c.log.Tracef("reply for %s: %s", out.correlation, body)
			return body, replied, nil
		case rf := <-rc:
			if rf.Command == frame.ERROR {
				return nil, refused, sendRefused(out.op, rf)
			}
			rc, receiptDue = nil, nil
		case <-receiptDue:
			return nil, unanswered, errs.New(errs.Network, out.op, "the broker did not confirm the request with a RECEIPT within %s", c.cfg.ReceiptTimeout)
		case <-cn.done:
			// The reader delivers before it ends the connection: a reply or an
			// ERROR naming this SEND that came last is already waiting.
			select {
			case body := <-p.reply:
				return body, replied, nil
			default:
			}
			if rc != nil {
				select {
				case rf := <-rc:
					if rf.Command == frame.ERROR {
						return nil, refused, sendRefused(out.op, rf)
					}
				default:
				}
			}
			return nil, lost, nil
		case <-ctx.Done():
			return nil, unanswered, waitError(ctx, out)
		}
	}
}

// waitError is the error of a request whose context ended while it waited
// for its answer.
func waitError(ctx context.Context, out *outgoing) *errs.Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return errs.New(errs.Canceled, out.op, "the call was canceled while waiting for the STOMP reply")
	}
	return errs.New(errs.Timeout, out.op, "no answer for correlation-id %s before the deadline", out.correlation)
}

func (c *Channel) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// inFlight is the number of requests waiting for replies (tests).
func (c *Channel) inFlight() int {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return len(c.pending)
}
