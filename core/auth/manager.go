package auth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/core/store"
)

// Manager owns one credential identity's token: it hands out a valid access
// token, refreshing or re-authenticating when needed, and persists it.
type Manager struct {
	cfg      Config
	http     *http.Client
	log      *logging.Logger
	store    store.Store
	pipeline call.Pipeline // token requests: the one repeat decision (call.Decide)

	mu           sync.Mutex
	creds        *Credentials  // resolved credentials; nil until configured or provided
	tok          *oauth2.Token // current token; nil when none
	rejected     bool          // the API refused tok (Invalidate); refresh before handing it out again
	loaded       bool          // the store was consulted for this identity
	cleared      bool          // Clear ran and no token was obtained since
	gen          uint64        // bumped by Clear so a flight in progress cannot resurrect a cleared token
	flight       *flight       // the one token acquisition in progress
	deviceCancel context.CancelCauseFunc
	listeners    map[uint64]func(*oauth2.Token)
	nextListener uint64

	storeReadWarned  atomic.Bool // a store read problem is logged once per manager
	storeWriteWarned atomic.Bool // likewise a write problem
	tokenRequests    atomic.Int64
	refreshes        atomic.Int64

	joinHook func() // tests: called when a caller joins a flight in progress
}

// flight is one token acquisition that concurrent callers share.
type flight struct {
	done        chan struct{}
	interactive chan struct{} // closed when the flight starts a device or appuser grant
	tok         *oauth2.Token // result, valid after done
	err         error
	gaveUp      bool // err came from the leader's context ending, not from the endpoint
}

// NewManager validates cfg and returns a manager. Nothing is sent until the
// first Token call.
func NewManager(cfg Config) (*Manager, error) {
	if strings.TrimSpace(cfg.TokenURL) == "" {
		return nil, errs.Invalid("oauth_url", "is required")
	}
	u, err := url.Parse(cfg.TokenURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errs.Invalid("oauth_url", "must be an absolute http(s) URL")
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"auth.refresh_margin_ms", cfg.RefreshMargin}, {"auth.wait_timeout_ms", cfg.WaitTimeout}, {"auth.time_unit", cfg.TimeUnit}} {
		if d.v < 0 {
			return nil, errs.Invalid(d.field, "must not be negative")
		}
	}
	switch {
	case cfg.WaitTimeout == 0:
		return nil, errs.Invalid("auth.wait_timeout_ms", "must be positive")
	case cfg.Policy.MaxAttempts < 1:
		return nil, errs.Invalid("retry.max_attempts", "must be at least 1")
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With("auth: "), store: cfg.Store, http: cfg.HTTPClient}
	if cfg.Credentials != nil {
		m.registerSecrets(*cfg.Credentials)
		c, err := cfg.Credentials.Normalize()
		if err != nil {
			return nil, err
		}
		m.creds = &c
	}
	if m.cfg.TimeUnit == 0 {
		m.cfg.TimeUnit = time.Second
	}
	if m.cfg.Sleep == nil {
		m.cfg.Sleep = retry.Sleep
	}
	m.pipeline = call.Pipeline{Sleep: m.cfg.Sleep, Log: m.log}
	if m.cfg.Now == nil {
		m.cfg.Now = time.Now
	}
	if m.store == nil {
		m.store = store.NewMemory()
	}
	if m.http == nil {
		m.http = &http.Client{Timeout: defaultHTTPTimeout}
	}
	// The request body holds the client secret: never replay it to wherever a
	// redirect points. A 3xx is reported as an error naming the status. The
	// copy keeps the caller's transport (TLS config) and leaves its client alone.
	noRedirect := *m.http
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	m.http = &noRedirect
	return m, nil
}

// registerSecrets makes the client's redactor mask the credentials' secrets
// from now on, before anything can echo them.
func (m *Manager) registerSecrets(c Credentials) {
	m.log.Redactor().Set("client_secret", c.ClientSecret)
	m.log.Redactor().Set("password", c.Password)
}

// Normalize fills the default grant and checks that the grant's fields are
// present: the one check of credentials, from the config or from a credential
// provider. It returns a copy, so the caller's struct is never aliased, and
// has no side effect.
func (cr Credentials) Normalize() (Credentials, error) {
	c := cr
	c.Grant = Grant(strings.ToLower(strings.TrimSpace(string(c.Grant))))
	if c.Grant == "" {
		switch {
		case c.DeviceUUID != "":
			c.Grant = Device
		case c.Username != "":
			c.Grant = AppUser
		default:
			c.Grant = ClientCredentials
		}
	}
	switch c.Grant {
	case ClientCredentials, Device, AppUser:
	default:
		return Credentials{}, errs.Invalid("credentials.grant", `must be "client_credentials", "device" or "appuser"`)
	}
	if c.ClientID == "" {
		return Credentials{}, errs.Invalid("credentials.client_id", "is required")
	}
	// The app-user grant is sent with whatever client secret there is: the
	// spec shows the public app client id and does not say it has a secret.
	if c.ClientSecret == "" && c.Grant != AppUser {
		return Credentials{}, errs.Invalid("credentials.client_secret", "is required for the %s grant", c.Grant)
	}
	if c.Grant == Device && c.DeviceUUID == "" {
		return Credentials{}, errs.Invalid("credentials.device_uuid", "is required for the device grant")
	}
	if c.Grant == AppUser && c.Username == "" {
		return Credentials{}, errs.Invalid("credentials.username", "is required for the appuser grant")
	}
	if c.DeviceInfo != nil {
		info := make(map[string]string, len(c.DeviceInfo))
		for k, v := range c.DeviceInfo {
			info[k] = v
		}
		c.DeviceInfo = info
	}
	return c, nil
}

// Token returns a valid access token: from memory, else from the store, else
// by refreshing, else by running the configured grant. However many goroutines
// call at once, at most one token request is in flight. interactive=false
// never starts (and never waits for) a device or appuser flow: without a
// usable stored or refreshable token it fails with errs.Auth reason
// errs.ReasonNotAuthorized. client_credentials is never interactive.
func (m *Manager) Token(ctx context.Context, interactive bool) (*oauth2.Token, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, errs.Classify(opToken, err)
		}
		m.mu.Lock()
		if t := m.usableLocked(); t != nil {
			m.mu.Unlock()
			return t, nil
		}
		fl := m.flight
		if fl == nil {
			fl = &flight{done: make(chan struct{}), interactive: make(chan struct{})}
			m.flight = fl
			gen := m.gen
			m.mu.Unlock()
			m.lead(ctx, interactive, fl, gen)
			return copyToken(fl.tok), fl.err
		}
		m.mu.Unlock()
		if m.joinHook != nil {
			m.joinHook()
		}

		waitInteractive := fl.interactive
		if interactive {
			waitInteractive = nil // an interactive caller waits for the flow to end
		}
		select {
		case <-ctx.Done():
			return nil, errs.Classify(opToken, ctx.Err())
		case <-fl.done:
		case <-waitInteractive:
			select {
			case <-fl.done:
			default:
				return nil, notAuthorized()
			}
		}
		if fl.err == nil {
			return copyToken(fl.tok), nil
		}
		if fl.gaveUp {
			continue // the leader's caller gave up, not the endpoint: try again under our own context
		}
		if interactive && errors.Is(fl.err, &errs.Error{Kind: errs.Auth, Reason: errs.ReasonNotAuthorized}) {
			continue // a non-interactive flight could not run the grant; this caller may
		}
		return nil, fl.err
	}
}

// lead runs a flight and publishes its result, even if obtain panics (a
// panicking Provider or Observer must not leave waiters blocked forever).
func (m *Manager) lead(ctx context.Context, interactive bool, fl *flight, gen uint64) {
	defer func() {
		r := recover()
		if r != nil {
			fl.tok, fl.err = nil, errs.New(errs.Internal, opToken, "token acquisition panicked")
		}
		m.mu.Lock()
		m.flight = nil
		m.mu.Unlock()
		close(fl.done)
		if r != nil {
			panic(r)
		}
	}()
	tok, err := m.obtain(ctx, interactive, fl, gen)
	if err != nil {
		// Every waiter gets this error: mask the client's secrets once here.
		err = errs.Redact(err, m.log.Redactor())
	}
	fl.tok, fl.err = tok, err
	fl.gaveUp = fl.err != nil && ctx.Err() != nil
}

// obtain is the body of a flight. It runs without m.mu held.
func (m *Manager) obtain(ctx context.Context, interactive bool, fl *flight, gen uint64) (*oauth2.Token, error) {
	creds, err := m.credentials(ctx)
	if err != nil {
		return nil, err
	}
	key := storeKey(creds)

	m.mu.Lock()
	needLoad := !m.loaded
	m.mu.Unlock()
	if needLoad {
		stored := m.load(ctx, key, creds.Grant)
		m.mu.Lock()
		installed := false
		if m.gen == gen && !m.loaded {
			m.loaded = true
			if stored != nil && m.tok == nil {
				m.tok, m.rejected, installed = stored, false, true
			}
		}
		listeners := m.listenersLocked()
		m.mu.Unlock()
		if installed {
			m.log.Debugf("using the stored token")
			notify(listeners, stored)
		}
	}

	m.mu.Lock()
	if t := m.usableLocked(); t != nil {
		m.mu.Unlock()
		return t, nil
	}
	cur := m.tok
	m.mu.Unlock()

	if cur != nil && cur.RefreshToken != "" {
		tok, err := m.refresh(ctx, creds, cur)
		if err == nil {
			m.install(ctx, gen, key, creds.Grant, tok)
			m.emit(Event{State: StateRefreshed, Grant: creds.Grant})
			return tok, nil
		}
		// Only a refusal means the refresh token is dead; a network failure
		// keeps it for the next try (Java does the same, spec §2.6).
		if errs.KindOf(err) != errs.Auth {
			return nil, err
		}
		m.log.Infof("the refresh token was refused (%v); authenticating again", err)
		m.dropToken(ctx, gen, key, cur)
	}

	if creds.Grant.interactive() {
		if !interactive {
			m.mu.Lock()
			cleared := m.cleared
			m.mu.Unlock()
			if cleared {
				return nil, errs.AuthError(opToken, errs.ReasonNotAuthorized,
					"the stored token was cleared: call Open to authorize this %s again (a call never starts an interactive authorization)", creds.Grant.subject())
			}
			return nil, notAuthorized()
		}
		close(fl.interactive)
	}
	tok, err := m.runGrant(ctx, creds)
	if err != nil {
		return nil, err
	}
	m.install(ctx, gen, key, creds.Grant, tok)
	return tok, nil
}

func notAuthorized() *errs.Error {
	return errs.AuthError(opToken, errs.ReasonNotAuthorized, "no valid token: call Open first to authenticate this device or user")
}

// usableLocked returns a copy of the current token if it can be handed out.
func (m *Manager) usableLocked() *oauth2.Token {
	t := m.tok
	if t == nil || t.AccessToken == "" || m.rejected {
		return nil
	}
	margin := m.cfg.RefreshMargin
	if life := time.Duration(t.ExpiresIn) * time.Second; life > 0 && margin > life/2 {
		margin = life / 2
	}
	if !m.cfg.Now().Before(t.Expiry.Add(-margin)) {
		return nil
	}
	return copyToken(t)
}

// install makes tok current, persists it and tells the listeners.
func (m *Manager) install(ctx context.Context, gen uint64, key string, grant Grant, tok *oauth2.Token) {
	m.mu.Lock()
	if m.gen != gen {
		// Clear ran meanwhile: the callers get this token, memory and store do not.
		m.mu.Unlock()
		return
	}
	changed := m.tok == nil || m.tok.AccessToken != tok.AccessToken
	m.tok, m.rejected, m.loaded, m.cleared = tok, false, true, false
	listeners := m.listenersLocked()
	m.mu.Unlock()
	m.save(ctx, key, grant, tok)
	if changed {
		notify(listeners, tok)
	}
}

// dropToken forgets a token whose refresh token was refused, in memory and in
// the store, so it is never offered again.
func (m *Manager) dropToken(ctx context.Context, gen uint64, key string, dead *oauth2.Token) {
	m.mu.Lock()
	if m.gen != gen || m.tok != dead {
		m.mu.Unlock()
		return
	}
	m.tok, m.rejected = nil, false
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := m.store.Delete(ctx, key); err != nil && m.storeWriteWarned.CompareAndSwap(false, true) {
		m.log.Errorf("could not delete the refused token from the store: %v", err)
	}
}

func (m *Manager) listenersLocked() []func(*oauth2.Token) {
	if len(m.listeners) == 0 {
		return nil
	}
	out := make([]func(*oauth2.Token), 0, len(m.listeners))
	for _, fn := range m.listeners {
		out = append(out, fn)
	}
	return out
}

func notify(listeners []func(*oauth2.Token), tok *oauth2.Token) {
	for _, fn := range listeners {
		fn(copyToken(tok))
	}
}

func (m *Manager) emit(ev Event) {
	if ev.Error != nil {
		ev.Error = errs.Redact(ev.Error, m.log.Redactor())
	}
	if m.cfg.Observer != nil {
		m.cfg.Observer(ev)
	}
}

// copyToken returns a shallow copy so callers cannot change the manager's token.
func copyToken(t *oauth2.Token) *oauth2.Token {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// credentials returns the configured credentials, asking the Provider once if
// there are none. Asking is allowed for non-interactive callers too: the
// answer may be client credentials, which need nobody at the till.
func (m *Manager) credentials(ctx context.Context) (*Credentials, error) {
	m.mu.Lock()
	c := m.creds
	m.mu.Unlock()
	if c != nil {
		return c, nil
	}
	if m.cfg.Provider == nil {
		return nil, errs.AuthError(opCreds, errs.ReasonNoCredentials, "no credentials are configured and no credential provider is set")
	}
	got, err := m.cfg.Provider.Credentials(ctx, PromptRequest{
		Fields: []string{"grant", "client_id", "client_secret", "device_uuid", "username", "password"},
		Reason: "credentials are needed to authenticate with secucard connect",
	})
	if err != nil {
		return nil, declined(opCreds, "credentials", err)
	}
	m.registerSecrets(got)
	n, err := got.Normalize()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.creds == nil {
		m.creds, m.loaded = &n, false
	}
	c = m.creds
	m.mu.Unlock()
	return c, nil
}

// Invalidate tells the manager the API rejected this access token (HTTP 401).
// If it is still the current token, the next Token call refreshes (once,
// single-flight); a stale value is ignored, so N concurrent 401s for the same
// token cause one refresh.
func (m *Manager) Invalidate(accessToken string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if accessToken != "" && m.tok != nil && m.tok.AccessToken == accessToken {
		m.rejected = true
	}
}

// CancelDevice cancels a device flow in progress. It is safe from any
// goroutine and a no-op when no device flow runs.
func (m *Manager) CancelDevice() {
	m.mu.Lock()
	cancel := m.deviceCancel
	m.mu.Unlock()
	if cancel != nil {
		cancel(errDeviceCanceled)
	}
}

// Clear forgets the token in memory and deletes it from the store, so the
// next Token call authenticates from scratch.
func (m *Manager) Clear(ctx context.Context) error {
	m.mu.Lock()
	m.gen++
	m.tok, m.rejected, m.loaded, m.cleared = nil, false, true, true
	c := m.creds
	m.mu.Unlock()
	if c == nil {
		return nil // nothing was ever stored under an identity we know
	}
	if err := m.store.Delete(ctx, storeKey(c)); err != nil {
		return errs.Wrap(errs.Storage, opStore, err, "could not delete the stored token")
	}
	return nil
}

// OnTokenChange registers fn to be called (no lock held) whenever the access
// token changes: a new grant, a refresh, or a token read from the store. It
// is not called by Clear. The returned function unsubscribes.
func (m *Manager) OnTokenChange(fn func(*oauth2.Token)) (unsubscribe func()) {
	if fn == nil {
		return func() {}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listeners == nil {
		m.listeners = map[uint64]func(*oauth2.Token){}
	}
	m.nextListener++
	id := m.nextListener
	m.listeners[id] = fn
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.listeners, id)
	}
}

// Stats returns the token traffic so far.
func (m *Manager) Stats() Stats {
	return Stats{TokenRequests: m.tokenRequests.Load(), Refreshes: m.refreshes.Load()}
}

// StoreKey returns the store key of this credential identity, or "" while
// the credentials are not known yet (they come from the Provider).
func (m *Manager) StoreKey() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.creds == nil {
		return ""
	}
	return storeKey(m.creds)
}

// TokenSource adapts the manager for Go users. It never starts an interactive
// flow.
func (m *Manager) TokenSource(ctx context.Context) oauth2.TokenSource {
	return tokenSource{m: m, ctx: ctx}
}

type tokenSource struct {
	m   *Manager
	ctx context.Context
}

func (s tokenSource) Token() (*oauth2.Token, error) { return s.m.Token(s.ctx, false) }
