// Package stomp owns the STOMP channel to the secucard connect broker (spec
// secucard-wire.md §4): request/reply by correlation-id on a RabbitMQ
// temp-queue, receipts, the auth.sessions refresh, heart-beats, reconnects
// with backoff, and push events (§5).
//
// Frames are encoded and decoded by go-stomp's frame package; the connection
// logic is our own. go-stomp's Conn does not fit this protocol: it delivers
// MESSAGE frames only to subscriptions it created with SUBSCRIBE, while our
// replies (and pushes) arrive on the RabbitMQ temp-queue that the broker
// subscribes us to implicitly when a SEND names reply-to:/temp-queue/main
// (§4.7), so Conn would drop every one of them; it also delivers messages
// from its reader goroutine into channels a slow consumer can fill (its BUG
// note), and has no hook for the token-bound reconnect of §4.10.
//
// The shape of one Channel:
//
//   - one live connection at a time (plus, briefly, a predecessor that is
//     being drained after a token change, see supervise);
//   - one reader goroutine per connection that never blocks: replies go to
//     a buffered per-request channel, pushes to Config.OnEvent (the client's
//     Dispatcher.Publish, which only enqueues);
//   - requests register their correlation-id, write their SEND and wait
//     without holding any lock, each bounded by its own context;
//   - a supervisor goroutine that reconnects with capped exponential backoff
//     and jitter after a drop and reconnects when the token changes;
//   - a refresher goroutine that runs auth.sessions "me" refresh after every
//     idle heart-beat interval (§4.8).
//
// The channel is a call.Transport: it sends a plan once and reports what
// happened (not sent, written and lost, refused, answered). Whether a request
// is sent again is decided by call.Decide, by the same rule as over REST: one
// whose SEND never reached the socket, or one that carries an x-action id the
// server deduplicates by.
//
// Frames from the broker are bounded (frameguard.go): go-stomp's frame.Reader
// would allocate whatever a content-length header announces, so a frame over
// 32 MiB of body or 64 KiB of headers ends the connection with a Network
// error instead of exhausting the host's memory.
package stomp

import (
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
)

// TokenSource supplies access tokens; *auth.Manager implements it. The
// channel only ever asks non-interactively.
type TokenSource interface {
	Token(ctx context.Context, interactive bool) (*oauth2.Token, error)
	Invalidate(accessToken string)
	OnTokenChange(fn func(*oauth2.Token)) (unsubscribe func())
}

// Protocol timing that is not configurable (the configurable values come
// resolved from the client's config).
const (
	// ReceiptTimeout bounds the wait for the RECEIPT of a SEND (Java re-sends
	// after 15 s, spec §9.2).
	ReceiptTimeout = 15 * time.Second
	// DisconnectTimeout bounds the wait for the RECEIPT of DISCONNECT.
	DisconnectTimeout = 2 * time.Second
	// MaxInFlight bounds the requests waiting for a reply, so replies that
	// never come cannot grow memory without limit.
	MaxInFlight = 4096
)

// Config configures a Channel with values the client resolved from its
// config; New checks them and fills in nothing.
type Config struct {
	Host string
	Port int
	// TLS is used as given (verification stays on; MinVersion is raised to
	// TLS 1.2; ServerName defaults to Host). nil means plain TCP, which the
	// client allows only for loopback hosts (the sandbox).
	TLS         *tls.Config
	VirtualHost string // CONNECT host header, sent only when set (spec §4.1)
	Destination string // request prefix, e.g. /exchange/connect.api/
	ReplyQueue  string // reply-to, e.g. /temp-queue/main

	// Heartbeat is announced as heart-beat:<ms>,<ms> and is the idle interval
	// after which the session is refreshed. Negative disables both.
	Heartbeat             time.Duration
	ConnectTimeout        time.Duration // TCP + TLS + CONNECTED
	MessageTimeout        time.Duration // the longest a request may wait (bounds draining an old connection)
	SessionRefreshTimeout time.Duration // reply wait for auth.sessions refresh
	ReceiptTimeout        time.Duration // RECEIPT wait after each SEND (ReceiptTimeout in production)
	DisconnectTimeout     time.Duration // RECEIPT wait for DISCONNECT on Close (DisconnectTimeout in production)

	Tokens TokenSource
	// OnEvent receives push events and connection events. It MUST NOT block
	// (the client passes Dispatcher.Publish): pushes are handed over from the
	// connection's reader goroutine. nil drops them.
	OnEvent func(event.Event)
	Logger  *logging.Logger
	Backoff retry.Backoff                                                     // reconnect delays
	NewID   func() string                                                     // correlation-ids and receipts; nil: random
	Dial    func(ctx context.Context, network, addr string) (net.Conn, error) // nil: a TCP dialer
}

// Channel is the STOMP channel. It is safe for concurrent use.
type Channel struct {
	cfg  Config
	addr string
	log  *logging.Logger

	mu         sync.Mutex
	cur        *conn         // the connection new requests use; nil while down
	changed    chan struct{} // closed and replaced whenever cur changes or the channel closes
	conns      map[*conn]struct{}
	started    bool          // Connect succeeded once: supervisor and refresher run
	connecting chan struct{} // non-nil while a Connect is establishing
	connectErr error         // result of the last Connect attempt (for waiters)
	closed     bool
	lastDown   string // why the channel is not connected (for error messages)
	state      string // last connection state emitted

	pmu     sync.Mutex
	pending map[string]*pending // by correlation-id

	life     context.Context // ends with Close; bounds every background attempt
	quit     context.CancelFunc
	kick     chan struct{} // token changed (capacity 1)
	unsub    func()
	wg       sync.WaitGroup
	activity atomic.Int64 // unix nanos of the last successful reply

	reconnects atomic.Int64
	late       atomic.Int64 // replies that arrived after their request gave up
	connSeq    atomic.Int64
	restarts   atomic.Int64 // background loops restarted after a panic
	// sleep waits before a restart (tests record it instead).
	sleep retry.Sleeper
}

// New checks cfg and applies defaults. It does no I/O.
func New(cfg Config) (*Channel, error) {
	if strings.TrimSpace(cfg.Host) == "" {
		return nil, errs.Invalid("stomp.host", "is required")
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, errs.Invalid("stomp.port", "must be 1..65535, got %d", cfg.Port)
	}
	if cfg.Tokens == nil {
		return nil, errs.Invalid("tokens", "a token source is required: STOMP logs in with the access token")
	}
	if cfg.TLS != nil {
		if cfg.TLS.InsecureSkipVerify {
			return nil, errs.Invalid("stomp.tls", "certificate verification cannot be switched off; trust a private CA with tls.ca_file")
		}
		t := cfg.TLS.Clone()
		if t.MinVersion < tls.VersionTLS12 {
			t.MinVersion = tls.VersionTLS12
		}
		if t.ServerName == "" {
			t.ServerName = cfg.Host
		}
		cfg.TLS = t
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"stomp.connect_timeout_ms", cfg.ConnectTimeout}, {"stomp.message_timeout_ms", cfg.MessageTimeout},
		{"stomp.session_refresh_timeout_ms", cfg.SessionRefreshTimeout},
		{"receipt_timeout", cfg.ReceiptTimeout}, {"disconnect_timeout", cfg.DisconnectTimeout},
		{"retry.initial_backoff_ms", cfg.Backoff.Initial}, {"retry.max_backoff_ms", cfg.Backoff.Max},
	} {
		if d.v <= 0 {
			return nil, errs.Invalid(d.field, "must be positive")
		}
	}
	if cfg.Heartbeat == 0 {
		return nil, errs.Invalid("stomp.heartbeat_ms", "must be set (negative disables heart-beats)")
	}
	if cfg.Heartbeat < 0 {
		cfg.Heartbeat = 0
	}
	for _, d := range []struct{ field, v string }{{"stomp.destination", cfg.Destination}, {"stomp.reply_queue", cfg.ReplyQueue}} {
		if !strings.HasPrefix(d.v, "/") {
			return nil, errs.Invalid(d.field, `must be a STOMP destination starting with "/"`)
		}
	}
	if !strings.HasSuffix(cfg.Destination, "/") {
		cfg.Destination += "/"
	}
	if cfg.NewID == nil {
		cfg.NewID = call.RandomID
	}
	if cfg.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		cfg.Dial = d.DialContext
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = func(event.Event) {}
	}
	c := &Channel{
		cfg:     cfg,
		addr:    net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		log:     cfg.Logger.With("stomp: "),
		changed: make(chan struct{}),
		conns:   map[*conn]struct{}{},
		pending: map[string]*pending{},
		kick:    make(chan struct{}, 1),
	}
	c.life, c.quit = context.WithCancel(context.Background())
	return c, nil
}

// Connect connects, logs in with the current access token and runs the first
// auth.sessions refresh, which must succeed (spec §9.1). After that the
// channel keeps itself connected until Close. Calling it again is a no-op;
// concurrent calls share one attempt.
func (c *Channel) Connect(ctx context.Context) error {
	for {
		c.mu.Lock()
		switch {
		case c.closed:
			c.mu.Unlock()
			return errs.New(errs.Closed, "stomp.connect", "the STOMP channel is closed")
		case c.started:
			c.mu.Unlock()
			return nil
		case c.connecting != nil:
			wait := c.connecting
			c.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return errs.Classify("stomp.connect", ctx.Err())
			}
			c.mu.Lock()
			err := c.connectErr
			started := c.started
			c.mu.Unlock()
			if started {
				return nil
			}
			if err != nil && ctx.Err() == nil {
				// The other caller's attempt failed for a reason that is not
				// its own context: report it rather than hammering the broker.
				if e := errs.As(err); e.Kind != errs.Canceled && e.Kind != errs.Timeout {
					return err
				}
			}
			continue
		}
		done := make(chan struct{})
		c.connecting = done
		c.mu.Unlock()

		cn, err := c.establish(ctx)

		c.mu.Lock()
		c.connecting = nil
		c.connectErr = err
		if err == nil && c.closed {
			c.mu.Unlock()
			cn.close(errs.New(errs.Closed, "stomp", "the channel was closed while connecting"))
			close(done)
			return errs.New(errs.Closed, "stomp.connect", "the STOMP channel was closed while connecting")
		}
		if err == nil {
			c.started = true
			c.installLocked(cn)
			c.wg.Add(2)
		}
		c.mu.Unlock()
		close(done)
		if err != nil {
			return err
		}
		// Emitted before the goroutines start, and Close emits only after they
		// ended, so the host sees the states in the order they happened.
		c.emit(event.Connected, "")
		c.log.Infof("connected to %s (session %s)", c.addr, cn.session)
		unsub := c.cfg.Tokens.OnTokenChange(func(*oauth2.Token) { c.poke() })
		c.mu.Lock()
		c.unsub = unsub
		c.mu.Unlock()
		go c.supervise()
		go c.refresher()
		return nil
	}
}

// Started reports whether Connect has succeeded (the channel then keeps
// itself connected until Close).
func (c *Channel) Started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started && !c.closed
}

// Connected reports whether a connection is up right now.
func (c *Channel) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && !c.cur.isDead()
}

// Reconnects counts successful reconnections (after drops and token changes).
func (c *Channel) Reconnects() int64 { return c.reconnects.Load() }

// Close sends DISCONNECT (waiting up to DisconnectTimeout, or ctx, for its
// RECEIPT), closes every connection and stops the background goroutines.
// Requests still waiting fail with a Closed error. Closing twice is harmless.
func (c *Channel) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	c.cur = nil
	conns := make([]*conn, 0, len(c.conns))
	for cn := range c.conns {
		conns = append(conns, cn)
	}
	started := c.started
	c.signalLocked()
	c.mu.Unlock()

	c.quit()
	c.wg.Wait()
	c.mu.Lock()
	unsub := c.unsub // set by Connect before the goroutines that wg waited for
	c.unsub = nil
	c.mu.Unlock()
	if unsub != nil {
		unsub()
	}
	if cur != nil {
		cur.disconnect(ctx, c.cfg.DisconnectTimeout)
	}
	for _, cn := range conns {
		cn.close(errs.New(errs.Closed, "stomp", "the channel was closed"))
	}
	if started {
		c.emit(event.Disconnected, "closed")
		c.log.Infof("disconnected from %s", c.addr)
	}
	return nil
}

// installLocked makes cn the connection new requests use. A connection can
// drop between its login and this call; one that already did is reported as
// down instead, so the supervisor reconnects rather than watch a dead one.
func (c *Channel) installLocked(cn *conn) {
	if cn.forgotten {
		c.cur, c.lastDown = nil, cn.endErr.Message // written before forget ran
	} else {
		c.cur = cn
		c.conns[cn] = struct{}{}
		c.lastDown = ""
	}
	c.touch()
	c.signalLocked()
}

// signalLocked wakes everybody waiting for cur to change.
func (c *Channel) signalLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// forget drops a finished connection from the bookkeeping.
func (c *Channel) forget(cn *conn, why string) {
	c.mu.Lock()
	cn.forgotten = true
	delete(c.conns, cn)
	if c.cur == cn {
		c.cur = nil
		c.lastDown = why
		c.signalLocked()
	}
	c.mu.Unlock()
}

// poke asks the supervisor to check the token (OnTokenChange, or a request
// that saw a newer token than its connection's).
func (c *Channel) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// touch records activity that makes a session refresh unnecessary.
func (c *Channel) touch() { c.activity.Store(time.Now().UnixNano()) }

// publish hands an event to OnEvent. A panicking OnEvent is contained here,
// so it can neither kill the reader nor lose the connection.
func (c *Channel) publish(e event.Event) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Errorf("the event callback panicked on a %s event: %v", e.Kind, r)
		}
	}()
	c.cfg.OnEvent(e)
}

// guard is deferred first by every background goroutine: a panic there is a
// bug of ours and must not take the till's process down (DESIGN §3). It is
// logged, reported as an error event, and then after runs (to close a
// connection or restart a loop).
func (c *Channel) guard(what string, after func()) {
	r := recover()
	if r == nil {
		return
	}
	c.log.Errorf("the STOMP %s failed: %v", what, r)
	c.publish(event.Background(errs.New(errs.Internal, "stomp", "the STOMP %s failed: %v", what, r)))
	if after != nil {
		after()
	}
}

// emit reports a connection state. "reconnecting" may repeat (each attempt
// carries the previous failure); the other states are reported on change.
func (c *Channel) emit(state, reason string) { c.emitEvent(event.Connection(state, reason)) }

// emitReconnected reports "connected" after a reconnect, with resync: pushes
// sent while the connection was down are lost (a temp-queue lives and dies
// with its connection), so the host re-reads what it watches.
func (c *Channel) emitReconnected() { c.emitEvent(event.Reconnected()) }

func (c *Channel) emitEvent(e event.Event) {
	c.mu.Lock()
	if e.State == c.state && e.State != event.Reconnecting {
		c.mu.Unlock()
		return
	}
	c.state = e.State
	c.mu.Unlock()
	c.publish(e)
}
