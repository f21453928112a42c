package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// Every grant is a form POST with the client credentials in the body and no
// HTTP Basic header (spec §2.1, §2.2).
func TestGrantRequestEncoding(t *testing.T) {
	deviceAnswers := func(n int, c tokenCall) reply {
		if c.Form.Has("uuid") {
			return ok(`{"device_code":"dc-0123456789abcdef0123456789abcd","user_code":"vfazyp5f","verification_url":"http://www.secuoffice.com","expires_in":1200,"interval":1}`)
		}
		return ok(tokenBody("at-device-123456", "rt-device-123456", 1200))
	}
	tests := []struct {
		name   string
		creds  *Credentials
		answer func(n int, c tokenCall) reply
		want   []url.Values
	}{
		{
			name:   "client_credentials",
			creds:  clientCreds(),
			answer: func(int, tokenCall) reply { return ok(tokenBody("at-cc-1234567", "", 1200)) },
			want: []url.Values{{
				"grant_type": {"client_credentials"}, "client_id": {testClientID}, "client_secret": {testClientSecret},
			}},
		},
		{
			name:   "device step 1 then step 2 without uuid",
			creds:  deviceCreds(testUUID),
			answer: deviceAnswers,
			want: []url.Values{
				{"grant_type": {"device"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "uuid": {testUUID}},
				{"grant_type": {"device"}, "client_id": {testClientID}, "client_secret": {testClientSecret}, "code": {"dc-0123456789abcdef0123456789abcd"}},
			},
		},
		{
			name: "appuser with device and deviceinfo",
			creds: &Credentials{Grant: AppUser, ClientID: "app.main.secucard", ClientSecret: testClientSecret,
				Username: "anna@example.com", Password: testPassword, DeviceID: "dev-42",
				DeviceInfo: map[string]string{"name": "till 3", "os": "linux"}},
			answer: func(int, tokenCall) reply { return ok(tokenBody("at-app-1234567", "rt-app-1234567", 1200)) },
			want: []url.Values{{
				"grant_type": {"appuser"}, "client_id": {"app.main.secucard"}, "client_secret": {testClientSecret},
				"username": {"anna@example.com"}, "password": {testPassword}, "device": {"dev-42"},
				"deviceinfo[name]": {"till 3"}, "deviceinfo[os]": {"linux"},
			}},
		},
		{
			name:   "appuser without device id",
			creds:  &Credentials{Grant: AppUser, ClientID: "app.main.secucard", Username: "anna@example.com", Password: testPassword},
			answer: func(int, tokenCall) reply { return ok(tokenBody("at-app-7654321", "", 1200)) },
			want: []url.Values{{
				"grant_type": {"appuser"}, "client_id": {"app.main.secucard"}, "client_secret": {""},
				"username": {"anna@example.com"}, "password": {testPassword},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, tt.answer)
			m := newManager(t, fe, tt.creds, nil)
			tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
			require.NoError(t, err)
			assert.NotEmpty(t, tok.AccessToken)

			calls := fe.Calls()
			require.Len(t, calls, len(tt.want))
			for i, c := range calls {
				assert.Equal(t, http.MethodPost, c.Method)
				assert.Equal(t, tt.want[i], c.Form, "form of request %d", i)
				assert.Equal(t, "application/x-www-form-urlencoded", c.Header.Get("Content-Type"))
				assert.Empty(t, c.Header.Get("Authorization"), "client credentials never travel as HTTP Basic")
				assert.Equal(t, "libsecucard-test/1.0", c.Header.Get("User-Agent"))
			}
		})
	}
}

func TestRefreshRequestEncoding(t *testing.T) {
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		if n == 0 {
			return ok(tokenBody("at-first-1234567", "rt-first-1234567", 100))
		}
		return ok(tokenBody("at-second-123456", "", 100))
	})
	clk := testkit.NewClock()
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now })
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	clk.Advance(99 * time.Second)

	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, "at-second-123456", tok.AccessToken)
	calls := fe.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {testClientID},
		"client_secret": {testClientSecret}, "refresh_token": {"rt-first-1234567"}}, calls[1].Form)
	assert.Empty(t, calls[1].Header.Get("Authorization"))
}

// The one error mapping: what the host sees for each kind of endpoint failure.
func TestTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name       string
		answer     reply
		kind       errs.Kind
		reason     string
		errName    string
		details    string
		status     int
		retryable  bool
		wantCalls  int
		msgContain string
	}{
		{name: "invalid_client", answer: oauthErr(401, "invalid_client", "The client credentials are invalid"),
			kind: errs.Auth, reason: errs.ReasonDenied, errName: "invalid_client", details: "The client credentials are invalid", status: 401, wantCalls: 1,
			msgContain: "invalid_client"},
		{name: "unauthorized_client", answer: oauthErr(400, "unauthorized_client", "not allowed"),
			kind: errs.Auth, reason: errs.ReasonDenied, errName: "unauthorized_client", details: "not allowed", status: 400, wantCalls: 1},
		{name: "invalid_request", answer: oauthErr(400, "invalid_request", "missing parameter"),
			kind: errs.Auth, reason: errs.ReasonDenied, errName: "invalid_request", details: "missing parameter", status: 400, wantCalls: 1},
		{name: "access_denied", answer: oauthErr(401, "access_denied", "no"),
			kind: errs.Auth, reason: errs.ReasonDenied, errName: "access_denied", details: "no", status: 401, wantCalls: 1},
		{name: "invalid_grant", answer: oauthErr(400, "invalid_grant", "Invalid grant"),
			kind: errs.Auth, reason: errs.ReasonInvalidGrant, errName: "invalid_grant", details: "Invalid grant", status: 400, wantCalls: 1},
		{name: "expired_token", answer: oauthErr(400, "expired_token", "code expired"),
			kind: errs.Auth, reason: errs.ReasonExpired, errName: "expired_token", details: "code expired", status: 400, wantCalls: 1},
		{name: "401 without body", answer: reply{status: 401},
			kind: errs.Auth, reason: errs.ReasonDenied, status: 401, wantCalls: 1},
		{name: "400 unknown error code", answer: oauthErr(400, "unsupported_grant_type", "nope"),
			kind: errs.Auth, reason: "", errName: "unsupported_grant_type", details: "nope", status: 400, wantCalls: 1},
		{name: "404 wrong url", answer: reply{status: 404, body: "not here"},
			kind: errs.API, status: 404, wantCalls: 1, msgContain: "HTTP 404"},
		{name: "200 without access_token", answer: ok(`{"token_type":"bearer"}`),
			kind: errs.Auth, status: 200, wantCalls: 1},
		{name: "200 not json", answer: reply{status: 200, body: "<html>"},
			kind: errs.Auth, status: 200, wantCalls: 1},
		{name: "503 after all attempts", answer: oauthErr(503, "temporarily_unavailable", "maintenance"),
			kind: errs.API, errName: "temporarily_unavailable", details: "maintenance", status: 503, retryable: true, wantCalls: 3},
		{name: "429 after all attempts", answer: reply{status: 429},
			kind: errs.API, status: 429, retryable: true, wantCalls: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, func(int, tokenCall) reply { return tt.answer })
			m := newManager(t, fe, clientCreds(), nil)
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.Error(t, err)
			assert.Nil(t, tok)
			var e *errs.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tt.kind, e.Kind)
			assert.Equal(t, tt.reason, e.Reason)
			assert.Equal(t, tt.errName, e.ErrorName)
			assert.Equal(t, tt.details, e.Details)
			assert.Equal(t, tt.status, e.Status)
			assert.Equal(t, tt.retryable, e.Retryable)
			assert.Len(t, fe.Calls(), tt.wantCalls)
			assert.Equal(t, int64(tt.wantCalls), m.Stats().TokenRequests)
			if tt.msgContain != "" {
				assert.Contains(t, e.Error(), tt.msgContain)
			}
			assert.NotContains(t, e.Error(), testClientSecret)
		})
	}
}

// An OAuth error name or description holding a card number or a token is
// not repeated: every field of the error passes the redactor.
func TestTokenEndpointErrorFieldsAreRedacted(t *testing.T) {
	fe := newFakeEndpoint(t, func(int, tokenCall) reply {
		return oauthErr(400, "4111111111111111", "refresh_token=Rt12Rt34Rt56 is bad")
	})
	m := newManager(t, fe, clientCreds(), nil)
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.Error(t, err)
	b, _ := json.Marshal(err)
	for _, s := range []string{"4111111111111111", "Rt12Rt34Rt56"} {
		assert.NotContains(t, string(b), s)
		assert.NotContains(t, err.Error(), s)
	}
}

// The form carries the client secret, so a redirect is never followed.
func TestRedirectIsNotFollowed(t *testing.T) {
	elsewhere := newFakeEndpoint(t, func(int, tokenCall) reply { return ok(tokenBody("at-elsewhere-123", "", 1200)) })
	fe := newFakeEndpoint(t, func(int, tokenCall) reply {
		return reply{status: http.StatusTemporaryRedirect, header: map[string]string{"Location": elsewhere.URL()}}
	})
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.HTTPClient = &http.Client{} })
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, http.StatusTemporaryRedirect, e.Status)
	assert.Empty(t, elsewhere.Calls(), "the client secret never went to the redirect target")
}

func TestNetworkErrorIsRetriedThenNetworkKind(t *testing.T) {
	fe := newFakeEndpoint(t, func(int, tokenCall) reply { return ok("{}") })
	url := fe.URL()
	fe.srv.Close() // nothing listens any more: connection refused
	var waits int
	cfg := testConfig(url)
	cfg.Credentials, cfg.Sleep = clientCreds(), noSleepCount(&waits)
	m, err := NewManager(cfg)
	require.NoError(t, err)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false)
	require.Error(t, err)
	assert.Equal(t, errs.Network, errs.KindOf(err))
	assert.True(t, errs.As(err).Retryable)
	assert.Equal(t, errs.OutcomeNotSent, errs.As(err).Outcome)
	assert.Equal(t, int64(3), m.Stats().TokenRequests, "a token request is repeated on network errors")
	assert.Equal(t, 2, waits, "one backoff wait between attempts")
}

func noSleepCount(n *int) func(ctx context.Context, d time.Duration) error {
	return func(ctx context.Context, d time.Duration) error { *n++; return ctx.Err() }
}

func TestRetryAfterIsHonoured(t *testing.T) {
	tests := []struct {
		name      string
		first     reply
		wantSleep time.Duration
	}{
		{name: "503 with Retry-After seconds", first: reply{status: 503, header: map[string]string{"Retry-After": "2"}}, wantSleep: 2 * time.Second},
		{name: "429 with Retry-After seconds", first: reply{status: 429, header: map[string]string{"Retry-After": "1"}}, wantSleep: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
				if n == 0 {
					return tt.first
				}
				return ok(tokenBody("at-after-retry-1", "", 1200))
			})
			var waits []time.Duration
			m := newManager(t, fe, clientCreds(), func(c *Config) {
				c.Sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
			})
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, "at-after-retry-1", tok.AccessToken)
			assert.Equal(t, []time.Duration{tt.wantSleep}, waits)
			assert.Equal(t, int64(2), m.Stats().TokenRequests)
		})
	}
}

// A Retry-After beyond the caller's deadline ends the call at once with the
// server's error instead of waiting just to fail.
func TestRetryAfterBeyondDeadlineFailsFast(t *testing.T) {
	fe := newFakeEndpoint(t, func(int, tokenCall) reply {
		return reply{status: 503, header: map[string]string{"Retry-After": "10"}}
	})
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Sleep = nil }) // the real retry.Sleep
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	start := time.Now()
	_, err := m.Token(ctx, false)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.API, e.Kind)
	assert.Equal(t, 503, e.Status)
	ra, ok := e.RetryAfter()
	assert.True(t, ok)
	assert.Equal(t, 10*time.Second, ra)
	assert.True(t, e.Retryable)
	assert.Len(t, fe.Calls(), 1)
	assert.Less(t, time.Since(start), 4*time.Second, "returned before the 8 s deadline instead of sleeping into it")
}

func TestExpiresInDefaultsTo1200(t *testing.T) {
	tests := []struct {
		name string
		body string
		want time.Duration
	}{
		{name: "absent", body: `{"access_token":"at-no-expiry-1"}`, want: 1200 * time.Second},
		{name: "zero", body: `{"access_token":"at-no-expiry-2","expires_in":0}`, want: 1200 * time.Second},
		{name: "string", body: `{"access_token":"at-no-expiry-3","expires_in":"600"}`, want: 600 * time.Second},
		{name: "number", body: `{"access_token":"at-no-expiry-4","expires_in":300}`, want: 300 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, func(int, tokenCall) reply { return ok(tt.body) })
			clk := testkit.NewClock()
			m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now })
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, clk.Now().Add(tt.want), tok.Expiry)
			assert.Equal(t, "bearer", tok.TokenType)
		})
	}
}

func TestTokenCarriesScopeAndGrant(t *testing.T) {
	fe := newFakeEndpoint(t, func(int, tokenCall) reply { return ok(tokenBody("at-scope-1234567", "", 1200)) })
	m := newManager(t, fe, clientCreds(), nil)
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, "https://scope.secucard.com/e/api", tok.Extra("scope"))
	assert.Equal(t, "client_credentials", tok.Extra("grant"))
}

func TestNewManagerValidation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{name: "no url", cfg: Config{}, field: "oauth_url"},
		{name: "relative url", cfg: Config{TokenURL: "/oauth/token"}, field: "oauth_url"},
		{name: "ftp url", cfg: Config{TokenURL: "ftp://x/oauth/token"}, field: "oauth_url"},
		{name: "negative margin", cfg: Config{RefreshMargin: -1}, field: "auth.refresh_margin_ms"},
		{name: "negative wait", cfg: Config{WaitTimeout: -1}, field: "auth.wait_timeout_ms"},
		{name: "no wait: the manager defaults nothing", cfg: Config{WaitTimeout: 0}, field: "auth.wait_timeout_ms"},
		{name: "no attempts", cfg: Config{Policy: call.Policy{MaxAttempts: 0}}, field: "retry.max_attempts"},
		{name: "unknown grant", cfg: Config{Credentials: &Credentials{Grant: "password", ClientID: "a", ClientSecret: "b"}}, field: "credentials.grant"},
		{name: "no client id", cfg: Config{Credentials: &Credentials{ClientSecret: "b"}}, field: "credentials.client_id"},
		{name: "no client secret", cfg: Config{Credentials: &Credentials{ClientID: "a"}}, field: "credentials.client_secret"},
		{name: "device without uuid", cfg: Config{Credentials: &Credentials{Grant: Device, ClientID: "a", ClientSecret: "b"}}, field: "credentials.device_uuid"},
		{name: "appuser without username", cfg: Config{Credentials: &Credentials{Grant: AppUser, ClientID: "a"}}, field: "credentials.username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from a valid config and break one thing.
			cfg := testConfig("https://x/oauth/token")
			if tt.cfg.TokenURL != "" || tt.field == "oauth_url" {
				cfg.TokenURL = tt.cfg.TokenURL
			}
			if tt.cfg.RefreshMargin != 0 {
				cfg.RefreshMargin = tt.cfg.RefreshMargin
			}
			if tt.field == "auth.wait_timeout_ms" {
				cfg.WaitTimeout = tt.cfg.WaitTimeout
			}
			if tt.field == "retry.max_attempts" {
				cfg.Policy = tt.cfg.Policy
			}
			cfg.Credentials = tt.cfg.Credentials
			m, err := NewManager(cfg)
			require.Error(t, err)
			assert.Nil(t, m)
			e := errs.As(err)
			assert.Equal(t, errs.InvalidArgument, e.Kind)
			assert.Equal(t, tt.field, e.Field)
		})
	}
}

func TestGrantInferredFromCredentials(t *testing.T) {
	tests := []struct {
		name  string
		creds Credentials
		want  Grant
	}{
		{name: "plain", creds: Credentials{ClientID: "a", ClientSecret: "b"}, want: ClientCredentials},
		{name: "uuid", creds: Credentials{ClientID: "a", ClientSecret: "b", DeviceUUID: testUUID}, want: Device},
		{name: "username", creds: Credentials{ClientID: "a", Username: "u"}, want: AppUser},
		{name: "case", creds: Credentials{Grant: "Device", ClientID: "a", ClientSecret: "b", DeviceUUID: testUUID}, want: Device},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("https://x/oauth/token")
			cfg.Credentials, cfg.Store = &tt.creds, store.NewMemory()
			m, err := NewManager(cfg)
			require.NoError(t, err)
			want := storeKey(&Credentials{Grant: tt.want, ClientID: tt.creds.ClientID, DeviceUUID: tt.creds.DeviceUUID, Username: tt.creds.Username})
			assert.Equal(t, want, m.StoreKey())
			assert.True(t, strings.HasPrefix(m.StoreKey(), "token/"))
			assert.Len(t, m.StoreKey(), len("token/")+32)
		})
	}
}

// tlsServer is an HTTPS server whose certificate nobody trusts; it counts
// the TLS connections clients open.
func tlsServer(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, &conns
}

// A certificate the client does not trust is never retried: a repeat cannot
// succeed (the token endpoint used to try three times).
func TestCertificateFailureIsNotRetried(t *testing.T) {
	url, conns := tlsServer(t)
	cfg := testConfig(url + "/oauth/token")
	cfg.Credentials = clientCreds()
	cfg.Sleep = retry.NoSleep
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	m, err := NewManager(cfg)
	require.NoError(t, err)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false)
	e := errs.As(err)
	require.NotNil(t, e)
	assert.Equal(t, errs.Network, e.Kind)
	assert.Equal(t, errs.ReasonCertificate, e.Reason)
	assert.False(t, e.Retryable)
	assert.Contains(t, e.Message, "certificate")
	assert.Equal(t, int64(1), m.Stats().TokenRequests)
	assert.Equal(t, int32(1), conns.Load(), "one handshake, no repeat")
}
