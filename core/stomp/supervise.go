package stomp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/retry"
)

// refreshPlan is auth.sessions "me" refresh (spec §4.3, §4.8). It carries no
// x-action: a refresh changes nothing a repeat could double.
var refreshPlan = &call.Plan{
	Name:    "auth.sessions.execute.refresh",
	Request: &api.Request{Resource: "auth.sessions", Op: api.Execute, ID: "me", Action: "refresh"},
}

// establish opens a connection with the current token and runs the session
// refresh that must succeed before the connection is used (spec §9.1). A
// refused token (ERROR "Bad CONNECT", or a refresh refused with
// ProductSecurityException) is invalidated and the login tried once more
// with a fresh token; a second refusal is an auth error.
func (c *Channel) establish(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.life, cancel)
	defer stop()
	const op = "stomp.connect"
	retried := false
	for {
		tok, err := c.token(ctx, op)
		if err != nil {
			return nil, err
		}
		cn, err := c.dial(ctx, tok)
		if err != nil {
			var ce *connectError
			if !errors.As(err, &ce) {
				return nil, err
			}
			if !ce.badCredentials() {
				return nil, errs.New(errs.Network, op, "the broker refused the connection: %s", ce.Error())
			}
			c.cfg.Tokens.Invalidate(tok)
			if !retried {
				retried = true
				c.log.Infof("the broker refused the access token (%s); refreshing it once", ce.message)
				continue
			}
			return nil, errs.AuthError(op, errs.ReasonTokenRejected,
				"the broker refused the access token (%s) even after a token refresh", ce.Error())
		}
		refused, err := c.refreshOn(ctx, cn)
		if err == nil {
			return cn, nil
		}
		cn.close(errs.New(errs.Network, op, "the session refresh failed"))
		if refused {
			c.cfg.Tokens.Invalidate(tok)
		}
		if refused && !retried {
			retried = true
			c.log.Infof("the session refresh refused the access token; refreshing it once")
			continue
		}
		e := errs.As(err)
		if refused {
			return nil, errs.AuthError(op, errs.ReasonTokenRejected,
				"the session refresh refused the access token even after a token refresh: %s", e.Message)
		}
		out := errs.Wrap(e.Kind, op, e, "the first session refresh failed: %s", e.Message)
		out.ErrorName, out.Details, out.UserMessage, out.Code, out.SupportID = e.ErrorName, e.Details, e.UserMessage, e.Code, e.SupportID
		return nil, out
	}
}

// refreshOn runs auth.sessions refresh on cn, bounded by
// SessionRefreshTimeout. refused reports a token refusal.
func (c *Channel) refreshOn(ctx context.Context, cn *conn) (refused bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.SessionRefreshTimeout)
	defer cancel()
	out, err := c.translate(refreshPlan)
	if err != nil {
		return false, err
	}
	body, res, e := c.exchange(ctx, cn, out)
	switch res {
	case replied:
	case notSent, lost:
		return false, errs.New(errs.Network, out.op, "the connection ended during the session refresh (%s)", cn.reason())
	default:
		return false, e
	}
	o := call.Decode(refreshPlan, call.Reply{Body: body, Framed: true}, cn.token)
	if o.Answer != call.Success {
		return o.RefusedToken != "", o.Err
	}
	c.touch()
	return false, nil
}

// supervise keeps the channel connected until Close: after a drop it
// reconnects with capped, jittered exponential backoff; when the token
// changes it logs in again with the new one.
func (c *Channel) supervise() {
	defer c.wg.Done()
	defer c.guard("supervisor", func() { c.restart("supervisor", c.supervise) })
	for {
		c.mu.Lock()
		cn, down, closed := c.cur, c.lastDown, c.closed
		c.mu.Unlock()
		if closed {
			// Close clears cur before it cancels c.life; reading closed under
			// the same lock keeps a clean close from looking like a drop.
			return
		}
		if cn == nil {
			if c.life.Err() != nil {
				return
			}
			c.emit(event.Disconnected, down)
			c.reconnect()
			continue
		}
		select {
		case <-c.life.Done():
			return
		case <-cn.done:
			// forget has cleared cur; the top of the loop reports it.
		case <-c.kick:
			c.rotate(cn)
		}
	}
}

// reconnect establishes a new connection, retrying with backoff until it
// succeeds or the channel closes. Every attempt is announced with the
// previous attempt's failure.
func (c *Channel) reconnect() {
	reason := ""
	authReported := false
	for attempt := 1; ; attempt++ {
		c.emit(event.Reconnecting, reason)
		if retry.Sleep(c.life, c.cfg.Backoff.Delay(attempt)) != nil {
			return
		}
		cn, err := c.establish(c.life)
		if err != nil {
			if c.life.Err() != nil {
				return
			}
			reason = fmt.Sprintf("attempt %d failed: %s", attempt, errs.As(err).Message)
			c.log.Warnf("reconnect %s", reason)
			if errs.KindOf(err) == errs.Auth && !authReported {
				// Once per outage: the host must act (the token is refused),
				// and the following attempts only repeat it.
				authReported = true
				c.publish(event.Background(err))
			}
			continue
		}
		if !c.install(cn) {
			return
		}
		c.reconnects.Add(1)
		c.emitReconnected()
		c.log.Infof("reconnected to %s after %d attempt(s) (session %s)", c.addr, attempt, cn.session)
		return
	}
}

// rotate logs in again when the access token changed. The new connection is
// made before the old one is given up, and the old one is closed only once
// its requests have their answers: a token refresh must not fail a payment
// that is waiting on the terminal (spec §4.10 says every SDK reconnects; the
// make-before-break order is ours).
func (c *Channel) rotate(old *conn) {
	ctx, cancel := context.WithTimeout(c.life, c.cfg.ConnectTimeout)
	tok, err := c.token(ctx, "stomp.connect")
	cancel()
	if err != nil {
		c.log.Warnf("cannot read the new access token: %v", err)
		return
	}
	if tok == old.token || old.isDead() {
		return
	}
	reason := "the access token changed"
	for attempt := 1; ; attempt++ {
		c.emit(event.Reconnecting, reason)
		cn, err := c.establish(c.life)
		if err == nil {
			if !c.install(cn) {
				return
			}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer c.guard("drain", func() { old.close(errs.New(errs.Internal, "stomp", "draining failed")) })
				old.drain()
			}()
			c.reconnects.Add(1)
			c.emitReconnected()
			c.log.Infof("logged in again with the new access token (session %s)", cn.session)
			return
		}
		if c.life.Err() != nil || old.isDead() {
			return // the supervisor's loop takes over
		}
		reason = fmt.Sprintf("attempt %d with the new token failed: %s", attempt, errs.As(err).Message)
		c.log.Warnf("%s", reason)
		if retry.Sleep(c.life, c.cfg.Backoff.Delay(attempt)) != nil {
			return
		}
	}
}

// restart runs loop again after it panicked, unless the channel is closing,
// after a backoff that grows with every restart of the channel's loops (up
// to the backoff cap): a loop that panics at once must not spin the CPU and
// flood the host with error events. Each restart is logged with its delay
// (guard has already reported the panic). It runs inside the failed
// goroutine before its wg.Done, so the count never touches zero while Close
// may wait.
func (c *Channel) restart(what string, loop func()) {
	if c.life.Err() != nil {
		return
	}
	n := c.restarts.Add(1)
	delay := c.cfg.Backoff.Delay(int(n))
	c.log.Warnf("restarting the STOMP %s in %s (restart %d)", what, delay.Round(time.Millisecond), n)
	sleep := c.sleep
	if sleep == nil {
		sleep = retry.Sleep
	}
	c.wg.Add(1)
	go func() {
		if sleep(c.life, delay) != nil {
			c.wg.Done() // closing: loop will not run to call it
			return
		}
		loop()
	}()
}

// install makes cn current unless the channel closed meanwhile.
func (c *Channel) install(cn *conn) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.close(errs.New(errs.Closed, "stomp", "the channel was closed"))
		return false
	}
	c.installLocked(cn)
	c.mu.Unlock()
	return true
}

// refresher runs auth.sessions refresh after every heart-beat interval
// without a successful reply (spec §4.8: Java restarts its sleep whenever
// another request succeeded). Failures are logged, not fatal: the connection
// is watched by the heart-beats.
func (c *Channel) refresher() {
	defer c.wg.Done()
	defer c.guard("session refresher", func() { c.restart("session refresher", c.refresher) })
	every := c.cfg.Heartbeat
	if every <= 0 {
		return
	}
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-c.life.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, c.activity.Load())) >= every && c.Connected() {
			ctx, cancel := context.WithTimeout(c.life, c.cfg.SessionRefreshTimeout)
			switch o := c.Send(ctx, refreshPlan); {
			case o.Answer == call.Success:
				c.log.Debugf("session refreshed")
			case o.RefusedToken != "":
				// Log in again with a fresh token before the next call.
				c.Invalidate(o.RefusedToken)
				c.log.Infof("the session refresh refused the access token; logging in again with a fresh one")
			case c.life.Err() == nil:
				c.log.Warnf("session refresh failed: %v", o.Err)
			}
			cancel()
		}
		next := every - time.Since(time.Unix(0, c.activity.Load()))
		if next <= 0 {
			next = every
		}
		t.Reset(next)
	}
}
