package stomp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-stomp/stomp/v3/frame"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
)

// writeTimeout bounds one frame write, so a peer that stopped reading cannot
// hold a request (or the heart-beat) forever.
const writeTimeout = 10 * time.Second

// conn is one physical STOMP connection, logged in with one access token.
type conn struct {
	ch      *Channel
	id      int64
	nc      net.Conn
	token   string
	session string

	wmu sync.Mutex // serialises frame writes; held only while writing
	w   *frame.Writer

	lastRead  atomic.Int64 // unix nanos
	lastWrite atomic.Int64
	sendEvery time.Duration // 0: we send no heart-beats
	readLimit time.Duration // 0: we do not watch the broker's silence

	rmu      sync.Mutex
	receipts map[string]chan *frame.Frame // receipt id -> RECEIPT (or ERROR naming it)

	inflight atomic.Int64 // requests registered on this connection

	done    chan struct{}
	endOnce sync.Once
	endErr  *errs.Error // why the connection ended; written before done is closed

	// Set by Channel.forget under the channel's mu, before done is closed:
	// installLocked, under the same lock, never installs an ended connection.
	forgotten bool
}

// connectError is a failed login: the broker answered ERROR to CONNECT.
type connectError struct {
	message string // the ERROR's message header
	body    string
}

func (e *connectError) Error() string {
	if e.body != "" {
		return e.message + ": " + e.body
	}
	return e.message
}

// badCredentials reports whether the broker refused the login itself (spec
// §4.2: "Bad CONNECT", the RabbitMQ text; "access refused" is how RabbitMQ
// words a refused user in the body).
func (e *connectError) badCredentials() bool {
	m := strings.ToLower(e.message + " " + e.body)
	return strings.Contains(m, "bad connect") || strings.Contains(m, "access refused") ||
		strings.Contains(m, "login") || strings.Contains(m, "authentic")
}

// dial opens a connection and logs in with tok. The returned conn is running
// (reader and heart-beat goroutines started).
func (c *Channel) dial(ctx context.Context, tok string) (*conn, error) {
	op := "stomp.connect"
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(ctx, "tcp", c.addr)
	if err != nil {
		return nil, dialError(op, c.addr, ctx, err)
	}
	// A cancelled ctx must interrupt the TLS handshake and the CONNECTED wait.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if c.cfg.TLS != nil {
		tc := tls.Client(nc, c.cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, dialError(op, c.addr, ctx, err)
		}
		nc = tc
	}
	cn := &conn{
		ch:       c,
		id:       c.connSeq.Add(1),
		nc:       nc,
		token:    tok,
		w:        frame.NewWriter(nc),
		receipts: map[string]chan *frame.Frame{},
		done:     make(chan struct{}),
	}
	hb := c.cfg.Heartbeat.Milliseconds()
	// frame.Writer escapes ":" "\\" CR LF in header values, which STOMP 1.2
	// does not apply to CONNECT; OAuth tokens (RFC 6750 b64token) and the
	// virtual hosts in use contain none of them.
	f := frame.New(frame.CONNECT,
		frame.AcceptVersion, "1.2",
		frame.Login, tok,
		frame.Passcode, tok,
		frame.HeartBeat, strconv.FormatInt(hb, 10)+","+strconv.FormatInt(hb, 10))
	if c.cfg.VirtualHost != "" {
		f.Header.Add(frame.Host, c.cfg.VirtualHost)
	}
	if err := cn.w.Write(f); err != nil {
		_ = nc.Close()
		return nil, dialError(op, c.addr, ctx, err)
	}
	rd := frame.NewReader(newFrameGuard(nc))
	var connected *frame.Frame
	for connected == nil {
		f, err := rd.Read()
		if err != nil {
			_ = nc.Close()
			return nil, dialError(op, c.addr, ctx, err)
		}
		if f == nil {
			continue // a heart-beat before CONNECTED is harmless
		}
		switch f.Command {
		case frame.CONNECTED:
			connected = f
		case frame.ERROR:
			_ = nc.Close()
			return nil, &connectError{message: f.Header.Get(frame.Message), body: strings.TrimSpace(string(f.Body))}
		default:
			_ = nc.Close()
			return nil, errs.New(errs.Network, op, "the broker at %s answered CONNECT with %s instead of CONNECTED", c.addr, f.Command)
		}
	}
	_ = nc.SetDeadline(time.Time{})
	if v := connected.Header.Get(frame.Version); v != "1.2" {
		// We offered 1.2 only; a server that says otherwise (or nothing, as
		// STOMP 1.0 servers do) still frames messages compatibly for what we
		// send, so carry on and say so.
		c.log.Warnf("the broker answered CONNECTED with version %q; continuing as STOMP 1.2", v)
	}
	cn.session = connected.Header.Get(frame.Session)
	cn.negotiate(connected.Header.Get(frame.HeartBeat))
	now := time.Now().UnixNano()
	cn.lastRead.Store(now)
	cn.lastWrite.Store(now)
	go cn.readLoop(rd)
	if cn.sendEvery > 0 || cn.readLimit > 0 {
		go cn.heartbeatLoop()
	}
	return cn, nil
}

// negotiate applies the STOMP heart-beat rules to the broker's CONNECTED
// value: each side uses the larger of what one offers and the other wants,
// and 0 on either side switches that direction off. The broker is declared
// dead after twice its interval without any byte.
func (cn *conn) negotiate(serverHB string) {
	ours := cn.ch.cfg.Heartbeat
	if ours <= 0 {
		return
	}
	var sx, sy time.Duration
	if serverHB != "" {
		var err error
		if sx, sy, err = frame.ParseHeartBeat(serverHB); err != nil {
			cn.ch.log.Warnf("ignoring the broker's malformed heart-beat header %q", serverHB)
			sx, sy = 0, 0
		}
	}
	if sy > 0 {
		cn.sendEvery = max(ours, sy)
	}
	if sx > 0 {
		cn.readLimit = 2 * max(ours, sx)
	}
}

func dialError(op, addr string, ctx context.Context, err error) *errs.Error {
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return errs.Wrap(errs.Timeout, op, err, "no STOMP session with %s within the connect timeout: %s", addr, err.Error())
		}
		return errs.Wrap(errs.Canceled, op, err, "connecting to %s was canceled", addr)
	}
	if errs.IsCertificate(err) {
		e := errs.Wrap(errs.Network, op, err, "the TLS handshake with the STOMP broker failed (its certificate or TLS setup was refused): %s", err.Error())
		e.Reason = errs.ReasonCertificate
		return e
	}
	return errs.Wrap(errs.Network, op, err, "cannot connect to the STOMP broker at %s: %s", addr, err.Error())
}

// readLoop is the connection's only reader. It never blocks on anybody: a
// reply goes to the request's buffered channel, a push to OnEvent (which
// only enqueues), a receipt to its waiter's buffered channel.
func (cn *conn) readLoop(rd *frame.Reader) {
	defer cn.ch.guard("reader", func() { cn.close(errs.New(errs.Internal, "stomp", "the reader failed")) })
	for {
		f, err := rd.Read()
		if err != nil {
			cn.close(errs.Wrap(errs.Network, "stomp", err, "the connection to the broker was lost: %s", readErrText(err)))
			return
		}
		cn.lastRead.Store(time.Now().UnixNano())
		if f == nil {
			continue // heart-beat
		}
		switch f.Command {
		case frame.MESSAGE:
			cn.ch.onMessage(cn, f)
		case frame.RECEIPT:
			cn.deliverReceipt(f.Header.Get(frame.ReceiptId), f)
		case frame.ERROR:
			// The broker closes the connection after ERROR (STOMP 1.2). A
			// receipt-id names the SEND that caused it.
			if id := f.Header.Get(frame.ReceiptId); id != "" {
				cn.deliverReceipt(id, f)
			}
			cn.close(errs.New(errs.Network, "stomp", "the broker closed the connection with ERROR %q%s",
				f.Header.Get(frame.Message), api.Excerpt(f.Body)))
			return
		default:
			cn.ch.log.Debugf("ignoring an unexpected %s frame", f.Command)
		}
	}
}

func readErrText(err error) string {
	if errors.Is(err, net.ErrClosed) {
		return "closed"
	}
	return err.Error()
}

// heartbeatLoop sends an EOL when we have been silent for half our interval
// (so the broker sees one well within each interval) and declares the
// broker dead after 2x its interval of silence.
func (cn *conn) heartbeatLoop() {
	defer cn.ch.guard("heart-beat", func() { cn.close(errs.New(errs.Internal, "stomp", "the heart-beat failed")) })
	tick := cn.sendEvery / 2
	if cn.readLimit > 0 && (tick == 0 || cn.readLimit/4 < tick) {
		tick = cn.readLimit / 4
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
		}
		now := time.Now()
		if cn.readLimit > 0 {
			if silent := now.Sub(time.Unix(0, cn.lastRead.Load())); silent > cn.readLimit {
				cn.close(errs.New(errs.Network, "stomp", "the broker sent nothing (not even a heart-beat) for %s", silent.Round(time.Millisecond)))
				return
			}
		}
		if cn.sendEvery > 0 && now.Sub(time.Unix(0, cn.lastWrite.Load())) >= cn.sendEvery/2 {
			if err := cn.write(nil); err != nil {
				return // write closed the connection
			}
		}
	}
}

// write sends one frame (nil: a heart-beat EOL). A failed write ends the
// connection, since the stream may now hold half a frame.
func (cn *conn) write(f *frame.Frame) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.isDead() {
		return errConnDead
	}
	_ = cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := cn.w.Write(f)
	if err != nil {
		cn.close(errs.Wrap(errs.Network, "stomp", err, "writing to the broker failed: %s", err.Error()))
		return err
	}
	cn.lastWrite.Store(time.Now().UnixNano())
	return nil
}

// errConnDead is write's answer on a connection that had already ended, so
// nothing was written.
var errConnDead = errors.New("stomp: connection already closed")

func (cn *conn) isDead() bool {
	select {
	case <-cn.done:
		return true
	default:
		return false
	}
}

// close ends the connection once, recording why.
func (cn *conn) close(why *errs.Error) {
	cn.endOnce.Do(func() {
		cn.endErr = why
		// Leave the channel's bookkeeping first, so whoever wakes on done
		// already sees the channel without this connection.
		cn.ch.forget(cn, why.Message)
		close(cn.done)
		_ = cn.nc.Close()
	})
}

// reason is why the connection ended ("" while it is up).
func (cn *conn) reason() string {
	if !cn.isDead() || cn.endErr == nil {
		return ""
	}
	return cn.endErr.Message
}

// expectReceipt registers a receipt id; the channel receives the RECEIPT, or
// the ERROR that names it.
func (cn *conn) expectReceipt(id string) chan *frame.Frame {
	ch := make(chan *frame.Frame, 1)
	cn.rmu.Lock()
	cn.receipts[id] = ch
	cn.rmu.Unlock()
	return ch
}

func (cn *conn) dropReceipt(id string) {
	cn.rmu.Lock()
	delete(cn.receipts, id)
	cn.rmu.Unlock()
}

func (cn *conn) deliverReceipt(id string, f *frame.Frame) {
	cn.rmu.Lock()
	ch := cn.receipts[id]
	delete(cn.receipts, id)
	cn.rmu.Unlock()
	if ch == nil {
		cn.ch.log.Debugf("%s for an unknown receipt %q ignored", f.Command, id)
		return
	}
	select {
	case ch <- f:
	default:
	}
}

// disconnect ends the session cleanly: DISCONNECT with a receipt, a bounded
// wait for the RECEIPT, then close (spec §4.11).
func (cn *conn) disconnect(ctx context.Context, wait time.Duration) {
	if cn.isDead() {
		return
	}
	id := "disconnect-" + cn.ch.cfg.NewID()
	rc := cn.expectReceipt(id)
	if err := cn.write(frame.New(frame.DISCONNECT, frame.Receipt, id)); err == nil {
		t := time.NewTimer(wait)
		select {
		case <-rc:
		case <-t.C:
			cn.ch.log.Debugf("no RECEIPT for DISCONNECT within %s; closing anyway", wait)
		case <-cn.done:
		case <-ctx.Done():
		}
		t.Stop()
	}
	cn.close(errs.New(errs.Closed, "stomp", "disconnected"))
}

// drainGrace lets a request that picked the old connection just before the
// switch register before drain looks at the count.
const drainGrace = 100 * time.Millisecond

// drain closes a connection that was replaced after a token change once its
// last request finished (bounded by the longest wait a request can have).
func (cn *conn) drain() {
	deadline := time.Now().Add(cn.ch.cfg.MessageTimeout + cn.ch.cfg.ReceiptTimeout)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	grace := time.NewTimer(drainGrace)
	defer grace.Stop()
	select {
	case <-cn.done:
		return
	case <-cn.ch.life.Done():
		return
	case <-grace.C:
	}
	for cn.inflight.Load() > 0 && time.Now().Before(deadline) {
		select {
		case <-cn.done:
			return
		case <-cn.ch.life.Done():
			return
		case <-t.C:
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), cn.ch.cfg.DisconnectTimeout)
	defer cancel()
	cn.disconnect(ctx, cn.ch.cfg.DisconnectTimeout)
}

// onMessage routes a MESSAGE: with correlation-id it is a reply, without
// one a push event (spec §4.7, §5.1). Runs on the reader goroutine.
func (c *Channel) onMessage(cn *conn, f *frame.Frame) {
	corr := f.Header.Get("correlation-id")
	if corr == "" {
		ev, err := event.ParsePush(f.Body)
		if err != nil {
			c.log.Warnf("ignoring a pushed message that is not an event: %v", err)
			c.publish(event.Background(errs.Wrap(errs.KindOf(err), "stomp.push", err,
				"the broker pushed a message that is not an event: %s", errs.As(err).Message)))
			return
		}
		c.publish(ev)
		return
	}
	c.pmu.Lock()
	p := c.pending[corr]
	c.pmu.Unlock()
	if p == nil {
		c.late.Add(1)
		c.log.Debugf("discarding a reply for %s: its request is no longer waiting", corr)
		return
	}
	select {
	case p.reply <- f.Body:
	default:
		c.log.Warnf("discarding a second reply for %s", corr)
	}
}
