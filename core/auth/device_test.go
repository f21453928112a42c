package auth

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

const testDeviceCode = "dc-0123456789abcdef0123456789abcd"

func codesBody(interval int) reply {
	return ok(`{"device_code":"` + testDeviceCode + `","user_code":"vfazyp5f","verification_url":"http://www.secuoffice.com","expires_in":1200,"interval":` +
		strconv.Itoa(interval) + `}`)
}

// deviceScript answers step 1 with codes and the polls in order; the last
// poll answer repeats.
func deviceScript(codes reply, polls ...reply) func(n int, c tokenCall) reply {
	return func(n int, c tokenCall) reply {
		if n == 0 {
			return codes
		}
		if n-1 < len(polls) {
			return polls[n-1]
		}
		return polls[len(polls)-1]
	}
}

var pending = oauthErr(401, "authorization_pending", "waiting for the user")

func TestDeviceFlowPendingSlowDownOK(t *testing.T) {
	fe := newFakeEndpoint(t, deviceScript(codesBody(1),
		pending,
		reply{status: 401}, // Java treats any 401 as pending
		oauthErr(400, "slow_down", "too fast"),
		ok(tokenBody("at-device-ok-123", "rt-device-ok-123", 1200)),
	))
	evs := newEvents()
	sl := &sleeps{}
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) {
		c.Observer = evs.observe
		c.Sleep = sl.Sleep
	})

	tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	assert.Equal(t, "at-device-ok-123", tok.AccessToken)
	assert.Equal(t, "rt-device-ok-123", tok.RefreshToken)

	assert.Equal(t, []string{StateDeviceCode, StatePending, StatePending, StatePending, StateOK}, evs.states())
	first := evs.all[0]
	assert.Equal(t, Event{State: StateDeviceCode, Grant: Device, UserCode: "vfazyp5f",
		VerificationURL: "http://www.secuoffice.com", ExpiresIn: 1200, Interval: 1}, first)
	assert.Equal(t, 6, evs.all[3].Interval, "slow_down adds 5 to the interval")
	// One poll per interval; slow_down stretches the wait from 1 to 6 units.
	assert.Equal(t, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, 6 * time.Millisecond}, sl.all())

	calls := fe.Calls()
	require.Len(t, calls, 5)
	for _, c := range calls[1:] {
		assert.False(t, c.Form.Has("uuid"), "step 2 never sends the uuid")
		assert.Equal(t, testDeviceCode, c.Form.Get("code"))
	}
	assert.Equal(t, int64(5), m.Stats().TokenRequests)
}

func TestDeviceFlowDefaultInterval(t *testing.T) {
	fe := newFakeEndpoint(t, deviceScript(codesBody(0), ok(tokenBody("at-device-int-12", "", 1200))))
	sl := &sleeps{}
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Sleep = sl.Sleep })
	_, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{5 * time.Millisecond}, sl.all(), "interval <= 0 means 5 wire seconds")
}

func TestDeviceFlowToleratesVerificationURI(t *testing.T) {
	codes := ok(`{"device_code":"` + testDeviceCode + `","user_code":"abcd1234","verification_uri":"https://example.test/device","interval":1}`)
	fe := newFakeEndpoint(t, deviceScript(codes, ok(tokenBody("at-device-uri-12", "", 1200))))
	evs := newEvents()
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Observer = evs.observe })
	_, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	assert.Equal(t, "https://example.test/device", evs.all[0].VerificationURL)
}

func TestDeviceFlowEndsWithTypedError(t *testing.T) {
	tests := []struct {
		name    string
		poll    reply
		reason  string
		errName string
	}{
		{name: "denied", poll: oauthErr(400, "access_denied", "the user said no"), reason: errs.ReasonDenied, errName: "access_denied"},
		{name: "denied with 401", poll: oauthErr(401, "access_denied", "the user said no"), reason: errs.ReasonDenied, errName: "access_denied"},
		{name: "expired", poll: oauthErr(400, "expired_token", "too late"), reason: errs.ReasonExpired, errName: "expired_token"},
		{name: "invalid_grant", poll: oauthErr(400, "invalid_grant", "unknown code"), reason: errs.ReasonInvalidGrant, errName: "invalid_grant"},
		{name: "invalid_client", poll: oauthErr(401, "invalid_client", "bad client"), reason: errs.ReasonDenied, errName: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, deviceScript(codesBody(1), pending, tt.poll))
			evs := newEvents()
			m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Observer = evs.observe; c.Sleep = nil })
			_, err := m.Token(testkit.Context(t, 20*time.Second), true)
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Auth, e.Kind)
			assert.Equal(t, tt.reason, e.Reason)
			assert.Equal(t, tt.errName, e.ErrorName)
			assert.Equal(t, []string{StateDeviceCode, StatePending, StateFailed}, evs.states())
			last := evs.last()
			require.NotNil(t, last.Error)
			assert.Equal(t, tt.reason, last.Error.Reason)
			assert.Len(t, fe.Calls(), 3, "the flow stops polling")
		})
	}
}

func TestDeviceFlowRejectsIncompleteCodes(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "no device_code", body: `{"user_code":"abcd1234","verification_url":"http://x"}`},
		{name: "no user_code", body: `{"device_code":"` + testDeviceCode + `","verification_url":"http://x"}`},
		{name: "no verification_url", body: `{"device_code":"` + testDeviceCode + `","user_code":"abcd1234"}`},
		{name: "not json", body: `<html>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, deviceScript(ok(tt.body), pending))
			evs := newEvents()
			m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Observer = evs.observe })
			_, err := m.Token(testkit.Context(t, 20*time.Second), true)
			require.Error(t, err)
			assert.Equal(t, errs.Auth, errs.KindOf(err))
			assert.Len(t, fe.Calls(), 1, "no poll without valid codes")
			assert.Equal(t, []string{StateFailed}, evs.states())
		})
	}
}

func TestDeviceFlowKeepsPollingThroughServerErrors(t *testing.T) {
	fe := newFakeEndpoint(t, deviceScript(codesBody(1),
		reply{status: 503},
		pending,
		ok(tokenBody("at-device-503-12", "", 1200)),
	))
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Policy.MaxAttempts = 1; c.Sleep = nil })
	tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	assert.Equal(t, "at-device-503-12", tok.AccessToken)
	assert.Len(t, fe.Calls(), 4)
}

func TestDeviceFlowTimeout(t *testing.T) {
	tests := []struct {
		name   string
		codes  reply
		mutate func(*Config)
	}{
		{name: "WaitTimeout", codes: codesBody(1), mutate: func(c *Config) { c.WaitTimeout = 50 * time.Millisecond }},
		{name: "expires_in shorter than WaitTimeout",
			codes:  ok(`{"device_code":"` + testDeviceCode + `","user_code":"abcd1234","verification_url":"http://x","expires_in":1,"interval":1}`),
			mutate: func(c *Config) { c.WaitTimeout = time.Hour }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, deviceScript(tt.codes, pending))
			evs := newEvents()
			m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) {
				c.Observer = evs.observe
				c.Sleep = nil
				c.TimeUnit = 5 * time.Millisecond
				tt.mutate(c)
			})
			_, err := m.Token(testkit.Context(t, 20*time.Second), true)
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Auth, e.Kind)
			assert.Equal(t, errs.ReasonTimeout, e.Reason)
			assert.Equal(t, StateFailed, evs.last().State)
			assert.Greater(t, len(fe.Calls()), 1, "it polled before giving up")
		})
	}
}

func TestDeviceFlowCancel(t *testing.T) {
	tests := []struct {
		name   string
		cancel func(m *Manager, cancelCtx context.CancelFunc)
	}{
		{name: "CancelDevice from another goroutine", cancel: func(m *Manager, _ context.CancelFunc) { m.CancelDevice() }},
		{name: "caller context", cancel: func(_ *Manager, cancelCtx context.CancelFunc) { cancelCtx() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, deviceScript(codesBody(1), pending))
			evs := newEvents()
			m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Observer = evs.observe; c.Sleep = nil })
			ctx, cancel := context.WithCancel(testkit.Context(t, 20*time.Second))
			defer cancel()
			go func() {
				for ev := range evs.ch {
					if ev.State == StatePending {
						tt.cancel(m, cancel)
						return
					}
				}
			}()
			_, err := m.Token(ctx, true)
			require.Error(t, err)
			e := errs.As(err)
			assert.Equal(t, errs.Auth, e.Kind)
			assert.Equal(t, errs.ReasonCanceled, e.Reason)
			last := evs.last()
			assert.Equal(t, StateCanceled, last.State)
			require.NotNil(t, last.Error)
			assert.Equal(t, errs.ReasonCanceled, last.Error.Reason)

			m.CancelDevice() // no flow runs: a no-op
		})
	}
}

func TestCancelDeviceWithoutFlowIsNoOp(t *testing.T) {
	fe := newFakeEndpoint(t, deviceScript(codesBody(1), ok(tokenBody("at-after-noop-12", "", 1200))))
	m := newManager(t, fe, deviceCreds(testUUID), nil)
	m.CancelDevice()
	tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err, "an earlier CancelDevice does not cancel a later flow")
	assert.Equal(t, "at-after-noop-12", tok.AccessToken)
}

func TestDeviceNeedsInteractiveCaller(t *testing.T) {
	fe := newFakeEndpoint(t, deviceScript(codesBody(1), pending))
	m := newManager(t, fe, deviceCreds(testUUID), nil)
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.Error(t, err)
	e := errs.As(err)
	assert.Equal(t, errs.Auth, e.Kind)
	assert.Equal(t, errs.ReasonNotAuthorized, e.Reason)
	assert.Contains(t, e.Error(), "Open")
	assert.Empty(t, fe.Calls(), "a non-interactive caller never starts a device flow")
}

// While Open waits for approval, API calls (non-interactive) fail at once
// instead of queueing behind the flow; a second Open shares the flow.
func TestCallersDuringDeviceFlow(t *testing.T) {
	approve := make(chan struct{})
	var once sync.Once
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		if n == 0 {
			return codesBody(1)
		}
		select {
		case <-approve:
			return ok(tokenBody("at-shared-flow-1", "", 1200))
		default:
			return pending
		}
	})
	evs := newEvents()
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) { c.Observer = evs.observe; c.Sleep = nil })
	ctx := testkit.Context(t, 20*time.Second)

	type result struct {
		tok string
		err error
	}
	opens := make(chan result, 2)
	open := func() {
		tok, err := m.Token(ctx, true)
		r := result{err: err}
		if tok != nil {
			r.tok = tok.AccessToken
		}
		opens <- r
	}
	go open()
	require.Equal(t, StateDeviceCode, (<-evs.ch).State)
	go open()

	_, err := m.Token(ctx, false)
	require.Error(t, err)
	assert.Equal(t, errs.ReasonNotAuthorized, errs.As(err).Reason)

	once.Do(func() { close(approve) })
	for i := 0; i < 2; i++ {
		r := <-opens
		require.NoError(t, r.err)
		assert.Equal(t, "at-shared-flow-1", r.tok)
	}
	step1 := 0
	for _, c := range fe.Calls() {
		if c.Form.Has("uuid") {
			step1++
		}
	}
	assert.Equal(t, 1, step1, "both Open calls shared one device flow")

	tok, err := m.Token(ctx, false)
	require.NoError(t, err)
	assert.Equal(t, "at-shared-flow-1", tok.AccessToken)
}
