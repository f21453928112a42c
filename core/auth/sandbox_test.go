package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/internal/testkit/authkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// These tests run the manager against the local sandbox (loopback only).

func startSandbox(t *testing.T) *sandbox.Server { return startSandboxWith(t, sandbox.Options{}) }

func startSandboxWith(t *testing.T, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	if opts.TokenTTL == 0 {
		opts.TokenTTL = 2 * time.Second
	}
	if opts.DeviceInterval == 0 {
		opts.DeviceInterval = -1 // 0 on the wire: the manager's default of 5 units, no slow_down
	}
	if opts.DeviceAutoApprove == 0 {
		opts.DeviceAutoApprove = -1 // tests approve explicitly
	}
	return testkit.Sandbox(t, opts)
}

// observer records events and hands them to the test as they happen.
type observer struct {
	mu  sync.Mutex
	all []auth.Event
	ch  chan auth.Event
}

func newObserver() *observer { return &observer{ch: make(chan auth.Event, 1024)} }

func (o *observer) observe(ev auth.Event) {
	o.mu.Lock()
	o.all = append(o.all, ev)
	o.mu.Unlock()
	o.ch <- ev
}

func (o *observer) states() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, ev := range o.all {
		out = append(out, ev.State)
	}
	return out
}

func tokenStatuses(srv *sandbox.Server) []int {
	var out []int
	for _, r := range srv.Requests() {
		if r.Path == "/oauth/token" {
			out = append(out, r.Status)
		}
	}
	return out
}

// onDeviceCode runs fn with the user code once the device flow shows it.
func onDeviceCode(obs *observer, fn func(userCode string)) {
	go func() {
		for ev := range obs.ch {
			if ev.State == auth.StateDeviceCode {
				fn(ev.UserCode)
				return
			}
		}
	}()
}

func TestSandboxClientCredentials(t *testing.T) {
	srv := startSandbox(t)
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), nil)
	tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.True(t, srv.ValidToken(tok.AccessToken))
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, []string{"client_credentials"}, testkit.Grants(srv))
}

func TestSandboxWrongClientSecret(t *testing.T) {
	srv := startSandbox(t)
	c := authkit.Credentials(srv, auth.ClientCredentials, "")
	c.ClientSecret = strings.Repeat("0", 64)
	m := authkit.Manager(t, srv, c, nil)
	_, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonDenied, e.Reason)
	assert.Equal(t, "invalid_client", e.ErrorName)
	assert.Equal(t, 401, e.Status)
}

func TestSandboxDevicePendingSlowDownOK(t *testing.T) {
	// The sandbox answers slow_down to polls closer than its interval (1 s,
	// minus some slack) in real time, so one unit here is 150 ms: the second
	// poll comes too fast, and after slow_down (+5) the next one is in time.
	srv := startSandboxWith(t, sandbox.Options{DeviceInterval: 1})
	obs := newObserver()
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/17"), func(c *auth.Config) {
		c.Observer = obs.observe
		c.TimeUnit = 150 * time.Millisecond
	})
	go func() {
		var userCode string
		for ev := range obs.ch {
			switch {
			case ev.State == auth.StateDeviceCode:
				userCode = ev.UserCode
			case ev.State == auth.StatePending && ev.Interval > 1:
				assert.NoError(t, srv.ApproveDevice(userCode))
				return
			}
		}
	}()
	tok, err := m.Token(testkit.Context(t, 30*time.Second), true)
	require.NoError(t, err)
	assert.True(t, srv.ValidToken(tok.AccessToken))
	assert.Equal(t, []string{auth.StateDeviceCode, auth.StatePending, auth.StatePending, auth.StateOK}, obs.states())
	assert.Equal(t, []int{200, 401, 400, 200}, tokenStatuses(srv), "codes, pending, slow_down, token")
	assert.Equal(t, []string{"device", "device", "device", "device"}, testkit.Grants(srv))
}

func TestSandboxDeviceOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		act    func(srv *sandbox.Server, m *auth.Manager, userCode string)
		reason string
		state  string
	}{
		{name: "denied", act: func(srv *sandbox.Server, _ *auth.Manager, code string) { _ = srv.DenyDevice(code) },
			reason: errs.ReasonDenied, state: auth.StateFailed},
		{name: "expired", act: func(srv *sandbox.Server, _ *auth.Manager, code string) { _ = srv.ExpireDevice(code) },
			reason: errs.ReasonExpired, state: auth.StateFailed},
		{name: "canceled from another goroutine", act: func(_ *sandbox.Server, m *auth.Manager, _ string) { m.CancelDevice() },
			reason: errs.ReasonCanceled, state: auth.StateCanceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSandbox(t)
			obs := newObserver()
			m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/17"), func(c *auth.Config) { c.Observer = obs.observe })
			onDeviceCode(obs, func(code string) { tt.act(srv, m, code) })
			_, err := m.Token(testkit.Context(t, 30*time.Second), true)
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Auth, e.Kind)
			assert.Equal(t, tt.reason, e.Reason)
			states := obs.states()
			assert.Equal(t, tt.state, states[len(states)-1])
		})
	}
}

func TestSandboxDeviceTimeout(t *testing.T) {
	srv := startSandbox(t)
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/17"), func(c *auth.Config) { c.WaitTimeout = 300 * time.Millisecond })
	_, err := m.Token(testkit.Context(t, 30*time.Second), true)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonTimeout, e.Reason)
	assert.Greater(t, len(testkit.Grants(srv)), 1, "it polled before the deadline")
}

func TestSandboxAppUser(t *testing.T) {
	tests := []struct {
		name     string
		password string
		reason   string
	}{
		{name: "right password", password: "cashier-password"},
		{name: "wrong password", password: "not-the-password", reason: errs.ReasonInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSandbox(t)
			var asked []auth.PromptRequest
			m := authkit.Manager(t, srv, &auth.Credentials{Grant: auth.AppUser, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
				Username: "cashier", DeviceID: "till-3", DeviceInfo: map[string]string{"os": "linux"}}, func(c *auth.Config) {
				c.Provider = auth.ProviderFunc(func(_ context.Context, req auth.PromptRequest) (auth.Credentials, error) {
					asked = append(asked, req)
					return auth.Credentials{Password: tt.password}, nil
				})
			})
			tok, err := m.Token(testkit.Context(t, 30*time.Second), true)
			require.Len(t, asked, 1)
			assert.Equal(t, []string{"password"}, asked[0].Fields)
			if tt.reason == "" {
				require.NoError(t, err)
				assert.True(t, srv.ValidToken(tok.AccessToken))
				return
			}
			require.Error(t, err)
			assert.Equal(t, errs.Auth, errs.KindOf(err))
			assert.Equal(t, tt.reason, errs.As(err).Reason)
		})
	}
}

func TestSandboxProviderGivesCredentials(t *testing.T) {
	srv := startSandbox(t)
	var asks atomic.Int32
	m := authkit.Manager(t, srv, nil, func(c *auth.Config) {
		c.Provider = auth.ProviderFunc(func(context.Context, auth.PromptRequest) (auth.Credentials, error) {
			asks.Add(1)
			return auth.Credentials{ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret()}, nil
		})
	})
	tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.True(t, srv.ValidToken(tok.AccessToken))
	assert.Equal(t, int32(1), asks.Load())
}

func TestSandboxHundredCallersOneRefresh(t *testing.T) {
	srv := startSandbox(t)
	clk := testkit.OffsetClock()
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), func(c *auth.Config) { c.Now = clk.Now })
	first, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	srv.ResetRequests()

	clk.Advance(3 * time.Second) // past the 2 s lifetime
	tokens := auth.CallMany(t, m, 100, nil)
	for _, tok := range tokens {
		assert.Equal(t, tokens[0], tok)
		assert.NotEqual(t, first.AccessToken, tok)
	}
	assert.True(t, srv.ValidToken(tokens[0]))
	assert.Equal(t, []string{"refresh_token"}, testkit.Grants(srv), "exactly one token request")
	assert.Equal(t, int64(1), m.Stats().Refreshes)
}

func TestSandboxConcurrentInvalidateOneRefresh(t *testing.T) {
	srv := startSandbox(t)
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), nil)
	stale, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	srv.ExpireTokens() // the API now answers 401 to this token
	srv.ResetRequests()

	tokens := auth.CallMany(t, m, 50, func() { m.Invalidate(stale.AccessToken) })
	for _, tok := range tokens {
		assert.NotEqual(t, stale.AccessToken, tok)
		assert.True(t, srv.ValidToken(tok))
	}
	assert.Equal(t, []string{"refresh_token"}, testkit.Grants(srv), "50 concurrent 401s cause one refresh")
}

func TestSandboxRefreshRotation(t *testing.T) {
	srv := startSandbox(t)
	clk := testkit.OffsetClock()
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), func(c *auth.Config) { c.Now = clk.Now })
	first, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		clk.Advance(3 * time.Second)
		tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
		require.NoError(t, err)
		assert.NotEqual(t, first.RefreshToken, tok.RefreshToken, "the rotated refresh token is kept")
	}
	// The sandbox kills a refresh token on first use: a second refresh with
	// the old one would have failed and fallen back to client_credentials.
	assert.Equal(t, []string{"client_credentials", "refresh_token", "refresh_token"}, testkit.Grants(srv))
}

func TestSandboxRevokedRefreshTokenRunsGrantAgain(t *testing.T) {
	srv := startSandbox(t)
	clk := testkit.OffsetClock()
	mem := store.NewMemory()
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), func(c *auth.Config) { c.Now = clk.Now; c.Store = mem })
	first, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	srv.RevokeRefreshTokens()
	srv.ResetRequests()
	clk.Advance(3 * time.Second)

	tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.True(t, srv.ValidToken(tok.AccessToken))
	assert.Equal(t, []string{"refresh_token", "client_credentials"}, testkit.Grants(srv))
	raw, err := mem.Get(context.Background(), m.StoreKey())
	require.NoError(t, err)
	assert.NotContains(t, string(raw), first.RefreshToken, "the refused refresh token is gone from the store")
	assert.Contains(t, string(raw), tok.RefreshToken)
}

func TestSandboxRevokedRefreshTokenNeedsOpenForDevice(t *testing.T) {
	srv := startSandbox(t)
	clk := testkit.OffsetClock()
	obs := newObserver()
	mem := store.NewMemory()
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/17"), func(c *auth.Config) {
		c.Now = clk.Now
		c.Store = mem
		c.Observer = obs.observe
	})
	onDeviceCode(obs, func(code string) { _ = srv.ApproveDevice(code) })
	_, err := m.Token(testkit.Context(t, 30*time.Second), true)
	require.NoError(t, err)
	srv.RevokeRefreshTokens()
	clk.Advance(3 * time.Second)

	_, err = m.Token(testkit.Context(t, 30*time.Second), false)
	require.Error(t, err)
	assert.Equal(t, errs.ReasonNotAuthorized, errs.As(err).Reason)
	_, err = mem.Get(context.Background(), m.StoreKey())
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestSandboxStoreKeyedByDevice(t *testing.T) {
	srv := startSandbox(t)
	mem := store.NewMemory()
	var tokens []string
	var keys []string
	for _, uuid := range []string{"/vendor/acme/pos/1", "/vendor/acme/pos/2"} {
		obs := newObserver()
		m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, uuid), func(c *auth.Config) { c.Store = mem; c.Observer = obs.observe })
		onDeviceCode(obs, func(code string) { _ = srv.ApproveDevice(code) })
		tok, err := m.Token(testkit.Context(t, 30*time.Second), true)
		require.NoError(t, err)
		tokens = append(tokens, tok.AccessToken)
		keys = append(keys, m.StoreKey())
	}
	assert.NotEqual(t, keys[0], keys[1])
	assert.NotEqual(t, tokens[0], tokens[1])
	stored, err := mem.Keys(context.Background(), "token/")
	require.NoError(t, err)
	assert.ElementsMatch(t, keys, stored)

	// A restarted till finds its own device's token.
	srv.ResetRequests()
	again := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/2"), func(c *auth.Config) { c.Store = mem })
	tok, err := again.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, tokens[1], tok.AccessToken)
	assert.Empty(t, testkit.Grants(srv))
}

func TestSandboxRetryAfterFault(t *testing.T) {
	srv := startSandbox(t)
	srv.AddFault(sandbox.Fault{Path: "/oauth/token", Status: 503, RetryAfter: 1, Count: 1})
	var waits []time.Duration
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), func(c *auth.Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	})
	tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.True(t, srv.ValidToken(tok.AccessToken))
	assert.Equal(t, []time.Duration{time.Second}, waits, "Retry-After is honoured")
	assert.Equal(t, []int{503, 200}, tokenStatuses(srv))
}

// Capture everything a device flow, a refresh and a refused refresh log at
// Trace level: no secret, token, device code or password appears.
func TestSandboxLogsCarryNoSecrets(t *testing.T) {
	srv := startSandbox(t)
	var mu sync.Mutex
	var lines []string
	lg := logging.New(logging.SinkFunc(func(l logging.Level, msg string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, msg)
	}), logging.Trace)
	clk := testkit.OffsetClock()
	obs := newObserver()
	spy := &deviceCodeSpy{}
	m := authkit.Manager(t, srv, authkit.Credentials(srv, auth.Device, "/vendor/acme/pos/17"), func(c *auth.Config) {
		c.HTTPClient = &http.Client{Transport: spy}
		c.Logger = lg
		c.Now = clk.Now
		c.Observer = obs.observe
	})
	onDeviceCode(obs, func(code string) { _ = srv.ApproveDevice(code) })
	tok1, err := m.Token(testkit.Context(t, 30*time.Second), true)
	require.NoError(t, err)
	clk.Advance(3 * time.Second)
	tok2, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	srv.RevokeRefreshTokens()
	clk.Advance(3 * time.Second)
	_, err = m.Token(testkit.Context(t, 30*time.Second), false)
	require.Error(t, err)

	app := authkit.Manager(t, srv, &auth.Credentials{Grant: auth.AppUser, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(),
		Username: "cashier", Password: "cashier-password"}, func(c *auth.Config) { c.Logger = lg })
	_, err = app.Token(testkit.Context(t, 30*time.Second), true)
	require.NoError(t, err)

	mu.Lock()
	text := strings.Join(lines, "\n")
	mu.Unlock()
	require.Contains(t, text, "device code issued")
	deviceCode := spy.code()
	require.NotEmpty(t, deviceCode)
	for _, secret := range []string{srv.ClientSecret(), tok1.AccessToken, tok1.RefreshToken, tok2.AccessToken, tok2.RefreshToken,
		deviceCode, "cashier-password"} {
		assert.NotContains(t, text, secret)
	}
}

// deviceCodeSpy is a transport that notes the device_code the sandbox
// issues, so the test can look for it in the logs.
type deviceCodeSpy struct {
	mu         sync.Mutex
	deviceCode string
}

func (s *deviceCodeSpy) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	var codes struct {
		DeviceCode string `json:"device_code"`
	}
	if json.Unmarshal(body, &codes) == nil && codes.DeviceCode != "" {
		s.mu.Lock()
		s.deviceCode = codes.DeviceCode
		s.mu.Unlock()
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (s *deviceCodeSpy) code() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deviceCode
}
