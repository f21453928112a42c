// Package core is the secucard connect client: one Client per configured
// credential identity, exposing every catalog resource through Call, typed
// helpers for the POS core, authentication (including the two-way device flow),
// token storage, and one ordered event stream.
//
// The C API (capi) is a thin translation of this package; Go programs may use
// it directly.
package core

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/api"
	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/cardpointe"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/event"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/product"
	"github.com/libsecucard/libsecucard/core/redact"
	"github.com/libsecucard/libsecucard/core/rest"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/core/stomp"
	"github.com/libsecucard/libsecucard/core/store"
)

// version is stamped by the build (-ldflags -X); the default names a dev build.
var version = "0.1.0-dev"

// Version returns the library version.
func Version() string { return version }

// UserAgent names the library in HTTP requests.
func UserAgent() string {
	return fmt.Sprintf("libsecucard/%s (%s/%s; %s)", version, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// Option adjusts a Client at construction.
type Option func(*options)

type options struct {
	sink       logging.Sink
	store      store.Store
	provider   auth.Provider
	httpClient *http.Client
	sleep      retry.Sleeper
	timeUnit   time.Duration
}

// WithLogSink routes the client's (redacted) log lines to sink, at the level
// of the config's log_level.
func WithLogSink(sink logging.Sink) Option { return func(o *options) { o.sink = sink } }

// WithStore uses s for tokens instead of the configured store. The client seals
// values before they reach s.
func WithStore(s store.Store) Option { return func(o *options) { o.store = s } }

// WithCredentialProvider asks p for credentials the config does not hold.
func WithCredentialProvider(p auth.Provider) Option { return func(o *options) { o.provider = p } }

// WithHTTPClient replaces the HTTP client (tests, proxies). The config's TLS
// and timeout settings are then the caller's business.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithSleeper replaces the retry sleep (tests).
func WithSleeper(s retry.Sleeper) Option { return func(o *options) { o.sleep = s } }

// WithAuthTimeUnit scales the device flow's wire seconds (tests).
func WithAuthTimeUnit(d time.Duration) Option { return func(o *options) { o.timeUnit = d } }

// stompCloseTimeout bounds Close's wait for the broker's DISCONNECT receipt.
const stompCloseTimeout = 2 * time.Second

// lookupGrace bounds the one read that settles a payment start whose answer
// was lost after the call's own deadline had passed.
const lookupGrace = 5 * time.Second

// Client states.
const (
	stateNew int32 = iota
	stateOpen
	stateClosed
)

// Client is safe for concurrent use.
type Client struct {
	cfg    *resolved
	opts   options
	log    *logging.Logger
	caller *call.Caller // resolves requests into plans and runs them
	tls    *tls.Config  // verified; tls.ca_file read once, in New
	// red is the client's redactor (its logger's): every error and event
	// leaving the client passes it, so its secrets never do.
	red *redact.Redactor

	httpClient *http.Client
	events     *event.Dispatcher
	stats      *metrics

	// closeCtx is canceled by Close; every call's context is tied to it.
	closeCtx    context.Context
	closeCancel context.CancelFunc

	// Admission and close are one decision, under lifeMu: begin admits an
	// operation only while the client is not closing, and Close marks it
	// closing under the same lock before it waits for active to reach zero,
	// so no operation can start while (or after) Close waits.
	lifeMu    sync.Mutex
	lifeIdle  sync.Cond // signalled when active drops to zero
	active    int
	closeDone chan struct{} // closed when Close has finished

	state atomic.Int32 // read without the lock by usable and Closed

	// opens holds the cancel functions of Open calls in progress, so that
	// CancelAuth also stops an Open that has not reached the device flow yet.
	opensMu sync.Mutex
	opens   map[*context.CancelCauseFunc]struct{}

	// The auth manager and channels are built on first use, so storage and
	// credential callbacks can be installed between New and Open.
	initMu   sync.Mutex
	inited   bool
	provider atomic.Pointer[providerBox]
	store    store.Store
	auth     *auth.Manager
	rest     *rest.Channel
	stomp    *stomp.Channel // nil when STOMP is disabled

	cp     *cardpointe.Client // nil without a cardpointe section
	cpHTTP *http.Client
}

type providerBox struct{ p auth.Provider }

// New validates cfg and builds a client. It does no I/O except opening a
// configured SQLite token store. Its error never repeats a secret of cfg.
func New(cfg Config, opts ...Option) (*Client, error) {
	c, err := newClient(cfg, opts...)
	if err != nil {
		raw, _ := json.Marshal(cfg)
		return nil, errs.Redact(err, redact.ForJSON(raw))
	}
	return c, nil
}

func newClient(cfg Config, opts ...Option) (*Client, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	tlsConf, err := r.tls.load()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: r, tls: tlsConf, stats: newMetrics()}
	for _, o := range opts {
		o(&c.opts)
	}
	c.log = logging.New(c.opts.sink, r.logLevel)
	c.red = c.log.Redactor()
	if cr := r.Credentials; cr != nil {
		c.red.Set("config.client_secret", cr.ClientSecret)
		c.red.Set("config.password", cr.Password)
	}
	c.red.Set("config.encryption_key", r.Store.EncryptionKey)
	if c.opts.provider != nil {
		c.provider.Store(&providerBox{c.opts.provider})
	}
	c.httpClient = c.opts.httpClient
	if c.httpClient == nil {
		c.httpClient = newHTTPClient(r.connect, tlsConf)
	}
	c.closeCtx, c.closeCancel = context.WithCancel(context.Background())
	c.lifeIdle.L = &c.lifeMu
	c.closeDone = make(chan struct{})
	c.caller = &call.Caller{
		Settings: call.Settings{
			AllowUnknown: r.AllowUnknownResources, AppID: r.AppID, Idempotency: r.idempotency, Policy: r.policy,
		},
		Pipeline: call.Pipeline{
			Sleep: c.opts.sleep,
			Log:   c.log.With("call: "),
			OnRetry: func(*call.Plan, int, string) {
				c.stats.retries.Add(1)
			},
		},
		Lookup:      c,
		Life:        c.closeCtx,
		LookupGrace: lookupGrace,
	}
	if err := c.newCardPointe(tlsConf); err != nil {
		return nil, err
	}

	if c.opts.store != nil {
		s, err := c.seal(c.opts.store)
		if err != nil {
			return nil, err
		}
		c.store = s
	} else {
		switch r.store.typ {
		case "memory":
			c.store = store.NewMemory() // process memory: sealing would protect nothing
		case "sqlite":
			key, err := c.storeKey()
			if err != nil {
				return nil, err
			}
			s, err := openSQLite(r.store.path, key, c.log)
			if err != nil {
				return nil, err
			}
			c.store = s
		case "callback":
			// installed later through SetStore
		}
	}

	c.events = event.New(event.Options{
		Redactor:     c.red,
		QueueSize:    r.Events.QueueSize,
		Dedupe:       r.Events.Dedupe == nil || *r.Events.Dedupe,
		FetchChanged: r.Events.FetchChanged,
		Fetch:        c.fetchObject,
		Logger:       c.log,
	})
	c.log.Infof("client created: %s", r)
	return c, nil
}

// storeKey is the configured sealing key or one derived from the credentials.
func (c *Client) storeKey() ([]byte, error) {
	if c.cfg.store.key != nil {
		return c.cfg.store.key, nil
	}
	cr := c.cfg.creds
	if cr == nil || cr.ClientSecret == "" {
		return nil, errs.Invalid("store.encryption_key", "is required when the client secret is not in the config (it cannot be derived)")
	}
	key, err := store.DeriveKey(cr.ClientSecret, cr.DeviceUUID)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, "store", err, "cannot derive the token sealing key")
	}
	return key, nil
}

func (c *Client) seal(s store.Store) (store.Store, error) {
	key, err := c.storeKey()
	if err != nil {
		return nil, err
	}
	sealed, err := store.NewSealed(s, key)
	if err != nil {
		return nil, errs.Wrap(errs.Internal, "store", err, "cannot seal the token store")
	}
	return sealed, nil
}

// SetStore installs host-owned token storage (store.type "callback"). It must
// happen before the client first authenticates.
func (c *Client) SetStore(s store.Store) error { return c.scrub(c.setStore(s)) }

func (c *Client) setStore(s store.Store) error {
	if err := c.usable(); err != nil {
		return err
	}
	if c.cfg.store.typ != "callback" {
		return errs.Invalid("store.type", `must be "callback" to install storage callbacks, is %q`, c.cfg.Store.Type)
	}
	sealed, err := c.seal(s)
	if err != nil {
		return err
	}
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.inited {
		return errs.Invalid("storage", "must be installed before the client authenticates (before open or the first call)")
	}
	c.store = sealed
	return nil
}

// SetCredentialProvider installs (or with nil removes) the run-time credential
// source. It takes effect for the next authentication.
func (c *Client) SetCredentialProvider(p auth.Provider) error {
	if err := c.usable(); err != nil {
		return err
	}
	if p == nil {
		c.provider.Store(nil)
	} else {
		c.provider.Store(&providerBox{p})
	}
	return nil
}

// SetLogSink replaces the log sink and level (nil sink stops logging).
func (c *Client) SetLogSink(sink logging.Sink, level logging.Level) {
	c.log.SetSink(sink)
	c.log.SetLevel(level)
}

// providerFunc forwards to the currently installed provider.
func (c *Client) providerFunc(ctx context.Context, req auth.PromptRequest) (auth.Credentials, error) {
	box := c.provider.Load()
	if box == nil {
		return auth.Credentials{}, errs.AuthError("auth", errs.ReasonNoCredentials,
			"no credentials in the config and no credential callback is set (needed: %s)", strings.Join(req.Fields, ", "))
	}
	return box.p.Credentials(ctx, req)
}

// init builds the auth manager and channels once.
func (c *Client) init() error {
	c.initMu.Lock()
	defer c.initMu.Unlock()
	if c.inited {
		return nil
	}
	if c.store == nil {
		return errs.Invalid("storage", `store.type is "callback" but no storage callbacks are installed`)
	}
	// Every component gets the client's logger and adds its own prefix.
	am, err := auth.NewManager(auth.Config{
		TokenURL:      c.cfg.oauthURL,
		HTTPClient:    c.httpClient,
		UserAgent:     UserAgent(),
		Credentials:   c.cfg.creds,
		Provider:      auth.ProviderFunc(c.providerFunc),
		Store:         c.store,
		Observer:      c.onAuthEvent,
		Logger:        c.log,
		RefreshMargin: c.cfg.margin,
		WaitTimeout:   c.cfg.waitTimeout,
		Policy:        c.cfg.policy,
		TimeUnit:      c.opts.timeUnit,
		Sleep:         c.opts.sleep,
	})
	if err != nil {
		return err
	}
	rc, err := rest.New(rest.Config{
		BaseURL:      c.cfg.restURL,
		HTTPClient:   c.httpClient,
		Tokens:       am,
		Language:     c.cfg.Language,
		UserAgent:    UserAgent(),
		MaxBodyBytes: rest.MaxBodyBytes,
		Logger:       c.log,
	})
	if err != nil {
		return err
	}
	var sc *stomp.Channel
	if c.cfg.stompEnabled {
		var tlsConf *tls.Config
		if c.cfg.stompTLS {
			tlsConf = c.tls.Clone() // verified, min TLS 1.2, tls.ca_file
		}
		st := c.cfg.stomp
		sc, err = stomp.New(stomp.Config{
			Host: c.cfg.stompHost, Port: c.cfg.stompPort, TLS: tlsConf,
			VirtualHost: c.cfg.STOMP.VirtualHost, Destination: c.cfg.STOMP.Destination, ReplyQueue: c.cfg.STOMP.ReplyQueue,
			Heartbeat: st.heartbeat, ConnectTimeout: st.connect, MessageTimeout: st.message,
			SessionRefreshTimeout: st.sessionRefresh,
			ReceiptTimeout:        stomp.ReceiptTimeout, DisconnectTimeout: stomp.DisconnectTimeout,
			Tokens:  am,
			OnEvent: c.events.Publish, // only enqueues: safe from the STOMP reader
			Logger:  c.log,
			Backoff: c.cfg.policy.Backoff,
		})
		if err != nil {
			return err
		}
	}
	c.auth, c.rest, c.stomp = am, rc, sc
	c.inited = true
	return nil
}

func (c *Client) onAuthEvent(e auth.Event) {
	c.events.Publish(event.Event{
		Kind: event.KindAuth, State: e.State, Grant: string(e.Grant), UserCode: e.UserCode,
		VerificationURL: e.VerificationURL, ExpiresIn: e.ExpiresIn, Interval: e.Interval, Error: e.Error,
	})
}

// scrub passes an error leaving the client through its redactor.
func (c *Client) scrub(err error) error {
	if err == nil {
		return nil
	}
	return errs.Redact(err, c.red)
}

// usable fails once the client is closed.
func (c *Client) usable() error {
	if c.state.Load() == stateClosed {
		return errs.New(errs.Closed, "", "the client is closed")
	}
	return nil
}

// callContext ties ctx to the client's lifetime and applies the call timeout.
func (c *Client) callContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if ctx == context.Background() {
		// Nothing but Close can end it (the C ABI's calls): one context
		// instead of a timeout plus a close watcher.
		return context.WithTimeout(c.closeCtx, timeout)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	stop := context.AfterFunc(c.closeCtx, cancel)
	return ctx, func() { stop(); cancel() }
}

// begin admits an operation, unless Close has begun; every admitted
// operation must call end. Close waits for all of them.
func (c *Client) begin() error {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.state.Load() == stateClosed {
		return errs.New(errs.Closed, "", "the client is closed")
	}
	c.active++
	return nil
}

// end releases an operation admitted by begin.
func (c *Client) end() {
	c.lifeMu.Lock()
	c.active--
	if c.active == 0 {
		c.lifeIdle.Broadcast()
	}
	c.lifeMu.Unlock()
}

// Open authenticates interactively (this may run the device flow, bounded by
// auth.wait_timeout_ms; ctx bounds it further) and, when STOMP is enabled,
// connects it and runs the first session refresh; Open fails if that fails.
func (c *Client) Open(ctx context.Context) error { return c.scrub(c.open(ctx)) }

func (c *Client) open(ctx context.Context) error {
	if err := c.begin(); err != nil {
		return err
	}
	defer c.end()
	if err := c.init(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.closeCtx, func() { cancel(errClientClosed) })
	defer stop()
	c.opensMu.Lock()
	if c.opens == nil {
		c.opens = map[*context.CancelCauseFunc]struct{}{}
	}
	c.opens[&cancel] = struct{}{}
	c.opensMu.Unlock()
	defer func() {
		c.opensMu.Lock()
		delete(c.opens, &cancel)
		c.opensMu.Unlock()
	}()

	// openFailed names why an Open ended early: Close wins over a host cancel.
	openFailed := func(err error) error {
		switch context.Cause(ctx) {
		case errClientClosed:
			return errs.New(errs.Closed, "open", "the client was closed while opening")
		case errAuthCanceled:
			return errs.AuthError("open", errs.ReasonCanceled, "the host canceled the authorization")
		}
		return err
	}
	if _, err := c.auth.Token(ctx, true); err != nil {
		return call.Unsent("open", openFailed(err))
	}
	if c.stomp != nil {
		if err := c.stomp.Connect(ctx); err != nil {
			return call.Unsent("open", openFailed(err))
		}
	}
	c.state.CompareAndSwap(stateNew, stateOpen)
	c.log.Infof("client open")
	return nil
}

// Call executes one request on the channel the request, the catalog and the
// config choose. It implements api.Doer. Every error carries retryable and
// outcome, and the idempotency_key of a mutating call.
func (c *Client) Call(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	start := time.Now()
	res, err := c.call(ctx, req)
	c.stats.record(err, time.Since(start))
	if err != nil {
		name := ""
		if req != nil {
			name = req.Name()
		}
		return nil, errs.Redact(call.Unsent(name, err), c.red)
	}
	return res, nil
}

// Do implements api.Doer.
func (c *Client) Do(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	return c.Call(ctx, req)
}

func (c *Client) call(ctx context.Context, req *api.Request) (json.RawMessage, error) {
	p, err := c.caller.Resolve(req)
	if err != nil {
		return nil, err
	}
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.end()
	if err := c.init(); err != nil {
		return nil, err
	}
	t, viaSTOMP, err := c.transportFor(p.Request)
	if err != nil {
		return nil, err
	}
	timeout := p.Request.Timeout()
	if timeout <= 0 {
		// STOMP calls wait as long as a terminal may take (a start runs
		// minutes), REST calls the response timeout.
		timeout = c.cfg.response
		if viaSTOMP {
			timeout = c.cfg.stomp.message
		}
	}
	ctx, cancel := c.callContext(ctx, timeout)
	defer cancel()
	out, err := c.caller.Run(ctx, p, t)
	if err != nil && c.closeCtx.Err() != nil && errs.KindOf(err) == errs.Canceled {
		e := *errs.As(err)
		e.Message = "the client was closed while the call was in flight: " + e.Message
		return nil, &e
	}
	return out, err
}

// transportFor applies DESIGN §2: an explicit request channel wins, then the
// config's routing, then the catalog's preference. With STOMP disabled the
// catalog's STOMP calls go over REST. A STOMP call before Open connects the
// channel on the spot with the stored (non-interactive) token: a till that
// restarts with a valid token needs no Open for its first payment, and one
// without a token gets the auth error that says to call Open.
func (c *Client) transportFor(r *api.Request) (t call.Transport, viaSTOMP bool, err error) {
	want := r.Channel
	if want == api.Auto {
		switch c.cfg.stomp.routing {
		case "rest":
			want = api.REST
		case "stomp":
			want = api.STOMP
		default:
			if c.cfg.stompEnabled && product.PreferSTOMP(r) {
				want = api.STOMP
			} else {
				want = api.REST
			}
		}
	}
	if want == api.STOMP {
		if !c.cfg.stompEnabled {
			return nil, false, errs.Invalid("channel", `is "stomp" but STOMP is disabled in the config`)
		}
		return c.stomp, true, nil
	}
	return c.rest, false, nil
}

// fetchObject loads one object for the event dispatcher's follow-up fetch.
func (c *Client) fetchObject(ctx context.Context, resource, id string) (json.RawMessage, error) {
	return c.Call(ctx, &api.Request{Resource: resource, Op: api.Get, ID: id})
}

// SetEventHandler routes events to h (nil: queue them for NextEvent).
func (c *Client) SetEventHandler(h func(event.Event)) error {
	if err := c.usable(); err != nil {
		return err
	}
	return c.scrub(c.events.SetHandler(h))
}

// WaitEventsIdle blocks until no event handler call is running. Never call it
// from inside the handler.
func (c *Client) WaitEventsIdle() { c.events.WaitIdle() }

// NextEvent waits for the next event while no handler is set; a Timeout error
// means none arrived before ctx ended.
func (c *Client) NextEvent(ctx context.Context) (event.Event, error) {
	e, err := c.events.Next(ctx)
	return e, c.scrub(err)
}

// HandleWebhook feeds a webhook body into the event pipeline.
func (c *Client) HandleWebhook(body []byte) error {
	// Admitted like a call: an event accepted here is queued before Close
	// stops the dispatcher, so it is delivered or counted, never lost.
	if err := c.begin(); err != nil {
		return err
	}
	defer c.end()
	e, err := event.ParsePush(body)
	if err != nil {
		return c.scrub(err)
	}
	c.events.Publish(e)
	return nil
}

// CancelAuth cancels a device authorization in progress.
//
// It also stops an Open still loading a stored token or about to request
// device codes, so a cancel pressed right after Open is never lost. A cancel
// before Open starts has no effect.
func (c *Client) CancelAuth() {
	c.opensMu.Lock()
	for cancel := range c.opens {
		(*cancel)(errAuthCanceled)
	}
	c.opensMu.Unlock()
	c.initMu.Lock()
	am := c.auth
	c.initMu.Unlock()
	if am != nil {
		am.CancelDevice()
	}
}

// Causes of an Open that ended early.
var (
	errClientClosed = errors.New("client closed")
	errAuthCanceled = errors.New("authorization canceled by the host")
)

// ClearTokens deletes the stored token (memory and store). With the
// client_credentials grant the next call authenticates by itself; with the
// device and appuser grants only Open authorizes again (a new device
// authorization): until then calls fail with Auth reason not_authorized, since
// a payment call must never wait minutes for a person to approve a code.
func (c *Client) ClearTokens(ctx context.Context) error {
	if err := c.begin(); err != nil {
		return err
	}
	defer c.end()
	if err := c.init(); err != nil {
		return c.scrub(err)
	}
	return c.scrub(c.auth.Clear(ctx))
}

// Token returns the current access token for Go callers that need it (for
// example to hand a session to a web view). It never starts an interactive flow.
func (c *Client) Token(ctx context.Context) (*oauth2.Token, error) {
	if err := c.begin(); err != nil {
		return nil, err
	}
	defer c.end()
	if err := c.init(); err != nil {
		return nil, c.scrub(err)
	}
	tok, err := c.auth.Token(ctx, false)
	return tok, c.scrub(err)
}

// Close cancels calls in flight, waits for them, disconnects STOMP, delivers
// the events still queued to the handler (the "disconnected" of this close
// among them; without a handler they are discarded and counted), and releases
// the token store. No operation starts once Close has begun. Closing twice is
// harmless; a concurrent Close returns when the client is closed.
func (c *Client) Close() error {
	c.lifeMu.Lock()
	if c.state.Swap(stateClosed) == stateClosed {
		c.lifeMu.Unlock()
		<-c.closeDone // a concurrent Close: return when the client is closed
		return nil
	}
	c.lifeMu.Unlock()
	defer close(c.closeDone)
	c.closeCancel()
	c.CancelAuth()
	c.lifeMu.Lock()
	for c.active > 0 {
		c.lifeIdle.Wait()
	}
	c.lifeMu.Unlock()
	c.initMu.Lock()
	sc := c.stomp
	c.initMu.Unlock()
	if sc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), stompCloseTimeout)
		_ = sc.Close(ctx) // DISCONNECT, waiting briefly for its RECEIPT
		cancel()
	}
	c.events.Close()
	if cl, ok := c.store.(store.Closer); ok {
		if err := cl.Close(); err != nil {
			c.log.Warnf("closing the token store: %v", err)
		}
	}
	if t, ok := c.httpClient.Transport.(*http.Transport); ok && c.opts.httpClient == nil {
		t.CloseIdleConnections()
	}
	c.closeCardPointe()
	c.log.Infof("client closed")
	return nil
}

// Closed reports whether Close was called.
func (c *Client) Closed() bool { return c.state.Load() == stateClosed }

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	s := c.stats.snapshot()
	s.Events = c.events.Stats()
	c.initMu.Lock()
	am := c.auth
	c.initMu.Unlock()
	if am != nil {
		as := am.Stats()
		s.TokenRequests, s.TokenRefreshes = as.TokenRequests, as.Refreshes
	}
	c.initMu.Lock()
	sc := c.stomp
	c.initMu.Unlock()
	if sc != nil {
		s.STOMP = STOMPStats{Connected: sc.Connected(), Reconnects: sc.Reconnects()}
	}
	return s
}

// Typed helpers for the POS core.

// SmartTransactions returns the typed smart.transactions service.
func (c *Client) SmartTransactions() *product.SmartTransactions {
	return product.NewSmartTransactions(c)
}

// SmartIdents returns the typed smart.idents service.
func (c *Client) SmartIdents() *product.SmartIdents { return product.NewSmartIdents(c) }

// SmartCheckins returns the typed smart.checkins service.
func (c *Client) SmartCheckins() *product.SmartCheckins { return product.NewSmartCheckins(c) }

// LoyaltyMerchantCards returns the typed loyalty.merchantcards service.
func (c *Client) LoyaltyMerchantCards() *product.LoyaltyMerchantCards {
	return product.NewLoyaltyMerchantCards(c)
}

// newHTTPClient builds the transport from the config: verified TLS (min 1.2,
// optional CA file), the connect timeout, proxies from the environment.
func newHTTPClient(connect time.Duration, tlsConf *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConf.Clone(),
		TLSHandshakeTimeout:   connect,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	// No Client.Timeout: every call carries its own deadline in its context.
	return &http.Client{Transport: tr}
}
