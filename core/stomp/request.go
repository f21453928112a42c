package stomp

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
)

// pending is a request waiting for its reply.
type pending struct {
	reply chan []byte // capacity 1: the reader never blocks on it
}

// outcome of one SEND on one connection.
type outcome int

const (
	replied outcome = iota // a reply arrived
	notSent                // the connection was gone before the frame was written
	lost                   // the connection ended after (or while) the frame was written
	failed                 // the request failed; see the error
)

// Do executes req over STOMP and implements api.Doer. It returns the object
// JSON for get/create/update/delete/execute, the normalized list for list,
// and null for a reply without data. Every error is an *errs.Error.
//
// A call before Connect connects first, with the non-interactive token (so a
// device grant that was never completed fails with an auth error naming
// open). Without a deadline on ctx (and no req.TimeoutMS) the reply wait is
// bounded by MessageTimeout.
func (c *Channel) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	if req == nil {
		return nil, errs.Invalid("request", "is required")
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	out, err := c.translate(req)
	if err != nil {
		return nil, err
	}
	var cancel context.CancelFunc
	if d := req.Timeout(); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	} else if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.cfg.MessageTimeout)
		defer cancel()
	}
	if !c.Started() {
		if err := c.Connect(ctx); err != nil {
			return nil, err
		}
	}
	return c.roundTrip(ctx, out)
}

// roundTrip sends out until it has an answer it may return: on a fresh
// connection when the first one was gone before the SEND was written, once
// more after a reconnect when the SEND was lost but carries an x-action id,
// and once more with a new token when the server refused the token.
func (c *Channel) roundTrip(ctx context.Context, out *outgoing) (json.RawMessage, error) {
	resent, replayed := false, false
	for {
		cn, err := c.acquire(ctx, out.op)
		if err != nil {
			return nil, err
		}
		body, oc, e := c.exchange(ctx, cn, out)
		switch oc {
		case failed:
			return nil, e
		case notSent:
			continue
		case lost:
			if c.isClosed() {
				return nil, errs.New(errs.Closed, out.op, "the STOMP channel was closed while the request was in flight")
			}
			if out.actionID != "" && !resent {
				// Safe to repeat: a server honouring x-action answers a
				// duplicate with the first result. Same correlation-id too,
				// as the Java SDK's resend does (spec §9.2).
				resent = true
				c.log.Infof("%s: the connection dropped before the answer; re-sending once with its x-action id after reconnecting", out.op)
				continue
			}
			return nil, lostError(out, cn.reason(), resent)
		}
		res, apiErr, refused := decodeReply(out, body)
		if refused && !replayed {
			// The server refused the token without acting: get a fresh one,
			// reconnect with it, and ask once more.
			replayed = true
			c.cfg.Tokens.Invalidate(cn.token)
			c.poke()
			out.correlation = c.cfg.NewID()
			c.log.Debugf("%s: the token was refused; replaying once with a new token", out.op)
			continue
		}
		if apiErr != nil {
			if refused {
				apiErr.Kind = errs.Auth
				apiErr.Reason = errs.ReasonTokenRejected
			}
			return nil, apiErr
		}
		c.touch()
		return res, nil
	}
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
	e := errs.New(errs.Network, op, "not connected to the STOMP broker before the deadline%s; the request was not sent", why)
	e.Retryable = true
	return e
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
func (c *Channel) exchange(ctx context.Context, cn *conn, out *outgoing) ([]byte, outcome, *errs.Error) {
	p := &pending{reply: make(chan []byte, 1)}
	c.pmu.Lock()
	if len(c.pending) >= MaxInFlight {
		c.pmu.Unlock()
		e := errs.New(errs.Network, out.op, "too many STOMP requests are waiting for replies (%d); the request was not sent", MaxInFlight)
		e.Retryable = true
		return nil, failed, e
	}
	if _, dup := c.pending[out.correlation]; dup {
		c.pmu.Unlock()
		return nil, failed, errs.New(errs.Internal, out.op, "correlation-id %s is already in use", out.correlation)
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
				return nil, failed, sendRefused(out.op, rf)
			}
			rc, receiptDue = nil, nil
		case <-receiptDue:
			e := errs.New(errs.Network, out.op, "the broker did not confirm the request with a RECEIPT within %s; it may not have reached the server", c.cfg.ReceiptTimeout)
			e.Retryable = !out.mutating || out.actionID != ""
			return nil, failed, e
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
						return nil, failed, sendRefused(out.op, rf)
					}
				default:
				}
			}
			return nil, lost, nil
		case <-ctx.Done():
			return nil, failed, waitError(ctx, out)
		}
	}
}

func waitError(ctx context.Context, out *outgoing) *errs.Error {
	if errors.Is(ctx.Err(), context.Canceled) {
		e := errs.New(errs.Canceled, out.op, "the call was canceled while waiting for the STOMP reply")
		if out.mutating {
			e.Message += "; the request was sent, so the server may act on it"
		}
		return e
	}
	e := errs.New(errs.Timeout, out.op, "no answer for correlation-id %s before the deadline", out.correlation)
	if out.mutating {
		e.Message += "; the request was sent, so the server may still act on it"
	}
	e.Retryable = !out.mutating || out.actionID != ""
	return e
}

// lostError is the error of a request whose connection ended while it waited.
func lostError(out *outgoing, reason string, resent bool) *errs.Error {
	why := ""
	if reason != "" {
		why = " (" + reason + ")"
	}
	var e *errs.Error
	switch {
	case resent:
		e = errs.New(errs.Network, out.op, "the STOMP connection dropped again%s after the request was re-sent with its x-action id; the server may have acted on it", why)
	case out.mutating:
		e = errs.New(errs.Network, out.op, "the STOMP connection dropped%s after the request was sent; it was not re-sent because it carries no x-action id, and the server may have acted on it", why)
	default:
		e = errs.New(errs.Network, out.op, "the STOMP connection dropped%s before the answer arrived; the request is safe to repeat", why)
	}
	e.Retryable = !out.mutating
	return e
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
