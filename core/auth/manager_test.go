package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/libsecucard/libsecucard/core/errs"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/internal/testkit"
)

// numbered answers client_credentials with at-cc-<n> and refreshes with
// at-refreshed-<n>, rotating the refresh token each time.
func numbered(expiresIn int) func(n int, c tokenCall) reply {
	return func(n int, c tokenCall) reply {
		switch c.Form.Get("grant_type") {
		case "refresh_token":
			return ok(tokenBody(fmt.Sprintf("at-refreshed-%d", n), fmt.Sprintf("rt-refreshed-%d", n), expiresIn))
		default:
			return ok(tokenBody(fmt.Sprintf("at-cc-%d-xyz", n), fmt.Sprintf("rt-cc-%d-xyz", n), expiresIn))
		}
	}
}

func TestTokenIsKeptInMemory(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), nil)
	first, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	second, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, second.AccessToken)
	assert.Len(t, fe.Calls(), 1)

	second.AccessToken = "tampered"
	third, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, first.AccessToken, third.AccessToken, "callers get copies")
}

func TestRefreshMargin(t *testing.T) {
	tests := []struct {
		name      string
		expiresIn int
		margin    time.Duration
		fresh     time.Duration // still handed out at this age
		stale     time.Duration // refreshed at this age
	}{
		{name: "60s", expiresIn: 1200, margin: 60 * time.Second, fresh: 1139 * time.Second, stale: 1141 * time.Second},
		{name: "10s", expiresIn: 1200, margin: 10 * time.Second, fresh: 1189 * time.Second, stale: 1191 * time.Second},
		{name: "clamped to half a short lifetime", expiresIn: 60, margin: 60 * time.Second, fresh: 29 * time.Second, stale: 31 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, numbered(tt.expiresIn))
			clk := testkit.NewClock()
			m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.RefreshMargin = tt.margin })
			_, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)

			clk.Advance(tt.fresh)
			_, err = m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, []string{"client_credentials"}, fe.grants())

			clk.Advance(tt.stale - tt.fresh)
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, []string{"client_credentials", "refresh_token"}, fe.grants())
			assert.Equal(t, "at-refreshed-1", tok.AccessToken)
		})
	}
}

// callMany runs n goroutines calling Token at once and returns the tokens.
func callMany(t *testing.T, m *Manager, n int, before func()) []string {
	t.Helper()
	ctx := testkit.Context(t, 20*time.Second)
	start := make(chan struct{})
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errsOut := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			if before != nil {
				before()
			}
			tok, err := m.Token(ctx, false)
			errsOut[i] = err
			if tok != nil {
				tokens[i] = tok.AccessToken
			}
		}(i)
	}
	close(start)
	wg.Wait()
	for i := range errsOut {
		require.NoError(t, errsOut[i])
	}
	return tokens
}

// joined closes once n callers have joined a flight in progress, so tests
// know every goroutine is waiting before the endpoint answers. Handlers wait
// on it through awaitJoined, which gives up after a while so that a broken
// single-flight fails the test instead of hanging it.
func joined(m *Manager, n int) <-chan struct{} {
	var count atomic.Int32
	ch := make(chan struct{})
	m.joinHook = func() {
		if count.Add(1) == int32(n) {
			close(ch)
		}
	}
	return ch
}

func awaitJoined(ch <-chan struct{}) {
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
	}
}

func TestSingleFlight(t *testing.T) {
	var all <-chan struct{}
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		awaitJoined(all) // answer only when the 99 others are waiting
		return ok(tokenBody(fmt.Sprintf("at-single-%d-xyz", n), "", 1200))
	})
	m := newManager(t, fe, clientCreds(), nil)
	all = joined(m, 99)
	tokens := callMany(t, m, 100, nil)
	for _, tok := range tokens {
		assert.Equal(t, "at-single-0-xyz", tok)
	}
	assert.Len(t, fe.Calls(), 1, "100 concurrent callers cause one token request")
	assert.Equal(t, int64(1), m.Stats().TokenRequests)
}

func TestSingleFlightRefreshOfExpiredStoredToken(t *testing.T) {
	var all <-chan struct{}
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		awaitJoined(all)
		return numbered(1200)(n, c)
	})
	clk := testkit.NewClock()
	mem := store.NewMemory()
	seedStore(t, mem, clientCreds(), storedToken{AccessToken: "at-old-expired-1", RefreshToken: "rt-old-stored-1",
		Expiry: clk.Now().Add(-time.Minute), Grant: ClientCredentials, ExpiresIn: 1200})
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.Store = mem })
	all = joined(m, 99)

	tokens := callMany(t, m, 100, nil)
	for _, tok := range tokens {
		assert.Equal(t, "at-refreshed-0", tok)
	}
	assert.Equal(t, []string{"refresh_token"}, fe.grants())
	assert.Equal(t, "rt-old-stored-1", fe.Calls()[0].Form.Get("refresh_token"))
	assert.Equal(t, Stats{TokenRequests: 1, Refreshes: 1}, m.Stats())
}

func TestInvalidate(t *testing.T) {
	var all <-chan struct{}
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		if c.Form.Get("grant_type") == "refresh_token" {
			awaitJoined(all) // the other 49 are waiting on this refresh
		}
		return numbered(1200)(n, c)
	})
	m := newManager(t, fe, clientCreds(), nil)
	all = joined(m, 49)
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)

	m.Invalidate("some-other-token")
	again, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken, "an unknown token is ignored")

	tokens := callMany(t, m, 50, func() { m.Invalidate(tok.AccessToken) })
	for _, got := range tokens {
		assert.Equal(t, "at-refreshed-1", got)
	}
	assert.Equal(t, []string{"client_credentials", "refresh_token"}, fe.grants(), "50 concurrent 401s cause one refresh")

	m.Invalidate(tok.AccessToken) // stale: the token was already replaced
	latest, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, "at-refreshed-1", latest.AccessToken)
	assert.Len(t, fe.Calls(), 2)
}

func TestRefreshRotation(t *testing.T) {
	tests := []struct {
		name        string
		refreshBody string
		wantRT      string
	}{
		{name: "rotated", refreshBody: tokenBody("at-rotated-12345", "rt-rotated-12345", 1200), wantRT: "rt-rotated-12345"},
		{name: "not returned keeps the old one", refreshBody: tokenBody("at-kept-rt-12345", "", 1200), wantRT: "rt-initial-12345"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
				if c.Form.Get("grant_type") == "refresh_token" {
					if n == 1 {
						return ok(tt.refreshBody)
					}
					return ok(tokenBody("at-third-1234567", "", 1200))
				}
				return ok(tokenBody("at-initial-12345", "rt-initial-12345", 1200))
			})
			evs := newEvents()
			mem := store.NewMemory()
			m := newManager(t, fe, clientCreds(), func(c *Config) { c.Observer = evs.observe; c.Store = mem })
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			m.Invalidate(tok.AccessToken)
			tok, err = m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRT, tok.RefreshToken)
			assert.Equal(t, tt.wantRT, readStored(t, mem, m.StoreKey()).RefreshToken)
			assert.Equal(t, Event{State: StateRefreshed, Grant: ClientCredentials}, evs.last(), "the refreshed event carries no token")

			m.Invalidate(tok.AccessToken)
			_, err = m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, tt.wantRT, fe.Calls()[2].Form.Get("refresh_token"))
		})
	}
}

func TestRefreshRefusedRunsGrantAgain(t *testing.T) {
	clk := testkit.NewClock()
	t.Run("client_credentials", func(t *testing.T) {
		fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
			if c.Form.Get("grant_type") == "refresh_token" {
				return oauthErr(400, "invalid_grant", "refresh token revoked")
			}
			return ok(tokenBody(fmt.Sprintf("at-cc-%d-fallback", n), "rt-fresh-123456", 1200))
		})
		mem := store.NewMemory()
		seedStore(t, mem, clientCreds(), storedToken{AccessToken: "at-dead-1234567", RefreshToken: "rt-dead-1234567",
			Expiry: clk.Now().Add(-time.Hour), Grant: ClientCredentials})
		m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.Store = mem })
		tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.NoError(t, err)
		assert.Equal(t, "at-cc-1-fallback", tok.AccessToken)
		assert.Equal(t, []string{"refresh_token", "client_credentials"}, fe.grants())
		assert.Equal(t, "at-cc-1-fallback", readStored(t, mem, m.StoreKey()).AccessToken)
	})
	t.Run("device, non-interactive: stored token deleted, Open needed", func(t *testing.T) {
		fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
			return oauthErr(400, "invalid_grant", "refresh token revoked")
		})
		mem := store.NewMemory()
		creds := deviceCreds(testUUID)
		seedStore(t, mem, creds, storedToken{AccessToken: "at-dead-device-1", RefreshToken: "rt-dead-device-1",
			Expiry: clk.Now().Add(-time.Hour), Grant: Device})
		m := newManager(t, fe, creds, func(c *Config) { c.Now = clk.Now; c.Store = mem })
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		assert.Equal(t, errs.ReasonNotAuthorized, errs.As(err).Reason)
		_, err = mem.Get(context.Background(), m.StoreKey())
		assert.ErrorIs(t, err, store.ErrNotFound, "the refused refresh token is deleted")

		_, err = m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		assert.Equal(t, []string{"refresh_token"}, fe.grants(), "a dead refresh token is not tried twice")
	})
	t.Run("device, interactive: device flow runs", func(t *testing.T) {
		fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
			switch {
			case c.Form.Get("grant_type") == "refresh_token":
				return oauthErr(400, "invalid_grant", "refresh token revoked")
			case c.Form.Has("uuid"):
				return codesBody(1)
			}
			return ok(tokenBody("at-new-device-12", "rt-new-device-12", 1200))
		})
		mem := store.NewMemory()
		creds := deviceCreds(testUUID)
		seedStore(t, mem, creds, storedToken{AccessToken: "at-dead-device-2", RefreshToken: "rt-dead-device-2",
			Expiry: clk.Now().Add(-time.Hour), Grant: Device})
		m := newManager(t, fe, creds, func(c *Config) { c.Now = clk.Now; c.Store = mem })
		tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
		require.NoError(t, err)
		assert.Equal(t, "at-new-device-12", tok.AccessToken)
		assert.Equal(t, []string{"refresh_token", "device", "device"}, fe.grants())
	})
}

func TestRefreshNetworkFailureKeepsRefreshToken(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		if fail.Load() {
			return reply{status: 503}
		}
		return ok(tokenBody("at-after-outage-1", "", 1200))
	})
	clk := testkit.NewClock()
	mem := store.NewMemory()
	seedStore(t, mem, clientCreds(), storedToken{AccessToken: "at-expired-kept-1", RefreshToken: "rt-kept-1234567",
		Expiry: clk.Now().Add(-time.Minute), Grant: ClientCredentials})
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.Store = mem; c.Policy.MaxAttempts = 1 })
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.Error(t, err)
	assert.Equal(t, errs.API, errs.KindOf(err))
	assert.Equal(t, "rt-kept-1234567", readStored(t, mem, m.StoreKey()).RefreshToken)

	fail.Store(false)
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, "at-after-outage-1", tok.AccessToken)
	assert.Equal(t, []string{"refresh_token", "refresh_token"}, fe.grants())
}

func seedStore(t *testing.T, s store.Store, creds *Credentials, st storedToken) {
	t.Helper()
	c, err := creds.Normalize()
	require.NoError(t, err)
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, s.Put(context.Background(), storeKey(&c), raw))
}

func readStored(t *testing.T, s store.Store, key string) storedToken {
	t.Helper()
	raw, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	var st storedToken
	require.NoError(t, json.Unmarshal(raw, &st))
	return st
}

func TestStorePersistsToken(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	clk := testkit.NewClock()
	mem := store.NewMemory()
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.Store = mem })
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)

	raw, err := mem.Get(context.Background(), m.StoreKey())
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	assert.Equal(t, "at-cc-0-xyz", fields["access_token"])
	assert.Equal(t, "rt-cc-0-xyz", fields["refresh_token"])
	assert.Equal(t, "bearer", fields["token_type"])
	assert.Equal(t, "https://scope.secucard.com/e/api", fields["scope"])
	assert.Equal(t, "client_credentials", fields["grant"])
	expiry, err := time.Parse(time.RFC3339, fields["expiry"].(string))
	require.NoError(t, err)
	assert.True(t, tok.Expiry.Equal(expiry))

	// A new manager (the till restarted) uses the stored token without a request.
	m2 := newManager(t, fe, clientCreds(), func(c *Config) { c.Now = clk.Now; c.Store = mem })
	tok2, err := m2.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, tok2.AccessToken)
	assert.Len(t, fe.Calls(), 1)
	assert.Equal(t, "https://scope.secucard.com/e/api", tok2.Extra("scope"))
}

func TestStoreKeyedByIdentity(t *testing.T) {
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		if c.Form.Has("uuid") {
			return ok(`{"device_code":"dc-for-` + strings.ReplaceAll(c.Form.Get("uuid"), "/", "-") + `","user_code":"abcd1234","verification_url":"http://x","interval":1}`)
		}
		return ok(tokenBody("at-"+c.Form.Get("code"), "", 1200))
	})
	mem := store.NewMemory()
	a := newManager(t, fe, deviceCreds("/vendor/acme/pos/1"), func(c *Config) { c.Store = mem })
	b := newManager(t, fe, deviceCreds("/vendor/acme/pos/2"), func(c *Config) { c.Store = mem })
	ta, err := a.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	tb, err := b.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	assert.NotEqual(t, a.StoreKey(), b.StoreKey())
	assert.NotEqual(t, ta.AccessToken, tb.AccessToken)
	assert.Equal(t, ta.AccessToken, readStored(t, mem, a.StoreKey()).AccessToken)
	assert.Equal(t, tb.AccessToken, readStored(t, mem, b.StoreKey()).AccessToken)
	keys, err := mem.Keys(context.Background(), "token/")
	require.NoError(t, err)
	assert.Len(t, keys, 2)

	// The same client id with another grant is another identity too.
	cc := newManager(t, fe, clientCreds(), nil)
	assert.NotEqual(t, a.StoreKey(), cc.StoreKey())
}

// failingStore fails Get and/or Put with an I/O-like error.
type failingStore struct {
	store.Memory
	getErr, putErr error
}

func (s *failingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.getErr != nil {
		return nil, s.getErr
	}
	return s.Memory.Get(ctx, key)
}

func (s *failingStore) Put(ctx context.Context, key string, v []byte) error {
	if s.putErr != nil {
		return s.putErr
	}
	return s.Memory.Put(ctx, key, v)
}

func TestUnreadableStoreMeansReauthenticate(t *testing.T) {
	key1 := make([]byte, store.KeySize)
	key2 := make([]byte, store.KeySize)
	key2[0] = 1
	tests := []struct {
		name  string
		setup func(t *testing.T) store.Store
	}{
		{name: "not JSON", setup: func(t *testing.T) store.Store {
			mem := store.NewMemory()
			c, _ := clientCreds().Normalize()
			require.NoError(t, mem.Put(context.Background(), storeKey(&c), []byte("{garbage")))
			return mem
		}},
		{name: "sealed with another key", setup: func(t *testing.T) store.Store {
			mem := store.NewMemory()
			other, err := store.NewSealed(mem, key1)
			require.NoError(t, err)
			seedStore(t, other, clientCreds(), storedToken{AccessToken: "at-other-key-123", Expiry: time.Now().Add(time.Hour), Grant: ClientCredentials})
			mine, err := store.NewSealed(mem, key2)
			require.NoError(t, err)
			return mine
		}},
		{name: "I/O error", setup: func(t *testing.T) store.Store {
			return &failingStore{getErr: errors.New("disk on fire")}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := newFakeEndpoint(t, numbered(1200))
			var lg logs
			s := tt.setup(t)
			m := newManager(t, fe, clientCreds(), func(c *Config) { c.Store = s; c.Logger = lg.logger(logging.Warn) })
			tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, "at-cc-0-xyz", tok.AccessToken)
			assert.Equal(t, 1, lg.count(logging.Warn), "logged once: %s", lg.text())
			assert.Contains(t, lg.text(), "authenticating again")

			m.Invalidate(tok.AccessToken)
			_, err = m.Token(testkit.Context(t, 20*time.Second), false)
			require.NoError(t, err)
			assert.Equal(t, 1, lg.count(logging.Warn), "still once")
		})
	}
}

func TestStoreWriteFailureKeepsTokenInMemory(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	var lg logs
	s := &failingStore{putErr: errors.New("read-only file system")}
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Store = s; c.Logger = lg.logger(logging.Warn) })
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	again, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken)
	m.Invalidate(tok.AccessToken)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, 1, lg.count(logging.Error), "logged once: %s", lg.text())
	assert.Contains(t, lg.text(), "kept in memory")
}

func TestClear(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	mem := store.NewMemory()
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Store = mem })
	require.NoError(t, m.Clear(testkit.Context(t, 20*time.Second)), "Clear before any token is fine")
	first, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)

	require.NoError(t, m.Clear(testkit.Context(t, 20*time.Second)))
	_, err = mem.Get(context.Background(), m.StoreKey())
	assert.ErrorIs(t, err, store.ErrNotFound)

	second, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, second.AccessToken)
	assert.Equal(t, []string{"client_credentials", "client_credentials"}, fe.grants(), "Clear forces a new authentication, not a refresh")
}

type deleteFailStore struct{ store.Memory }

func (s *deleteFailStore) Delete(context.Context, string) error { return errors.New("locked") }

func TestClearReportsStorageError(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), func(c *Config) { c.Store = &deleteFailStore{} })
	err := m.Clear(testkit.Context(t, 20*time.Second))
	require.Error(t, err)
	assert.Equal(t, errs.Storage, errs.KindOf(err))
}

func TestOnTokenChange(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), nil)
	var mu sync.Mutex
	var seen []string
	unsubscribe := m.OnTokenChange(func(tok *oauth2.Token) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, tok.AccessToken)
	})
	tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false) // unchanged: no call
	require.NoError(t, err)
	m.Invalidate(tok.AccessToken)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)

	unsubscribe()
	require.NoError(t, m.Clear(testkit.Context(t, 20*time.Second)))
	_, err = m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"at-cc-0-xyz", "at-refreshed-1"}, seen)
}

// The listener may call back into the manager: no lock is held.
func TestOnTokenChangeMayCallManager(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), nil)
	got := make(chan string, 1)
	m.OnTokenChange(func(*oauth2.Token) {
		tok, err := m.Token(context.Background(), false)
		if err == nil {
			got <- tok.AccessToken
		}
	})
	_, err := m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, "at-cc-0-xyz", <-got)
}

// A leader whose caller gives up does not fail the callers waiting on it.
func TestWaiterSurvivesLeaderCancel(t *testing.T) {
	arrived := make(chan struct{}, 2)
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		arrived <- struct{}{}
		if n == 0 {
			<-c.ctx.Done() // hang until the leader gives up
			return reply{status: 503}
		}
		return ok(tokenBody("at-waiter-12345", "", 1200))
	})
	m := newManager(t, fe, clientCreds(), nil)
	waiting := joined(m, 1)
	leaderCtx, cancelLeader := context.WithCancel(testkit.Context(t, 20*time.Second))
	leaderErr := make(chan error, 1)
	go func() {
		_, err := m.Token(leaderCtx, false)
		leaderErr <- err
	}()
	<-arrived
	waiter := make(chan *oauth2.Token, 1)
	go func() {
		tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		waiter <- tok
	}()
	awaitJoined(waiting)
	cancelLeader()
	assert.Equal(t, errs.Canceled, errs.KindOf(<-leaderErr))
	tok := <-waiter
	require.NotNil(t, tok)
	assert.Equal(t, "at-waiter-12345", tok.AccessToken)
}

func TestProvider(t *testing.T) {
	t.Run("asked once for missing credentials", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		var asks []PromptRequest
		m := newManager(t, fe, nil, func(c *Config) {
			c.Provider = ProviderFunc(func(_ context.Context, req PromptRequest) (Credentials, error) {
				asks = append(asks, req)
				return *clientCreds(), nil
			})
		})
		assert.Empty(t, m.StoreKey(), "no identity before the provider answered")
		tok, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.NoError(t, err)
		assert.Equal(t, "at-cc-0-xyz", tok.AccessToken)
		require.Len(t, asks, 1)
		assert.Equal(t, []string{"grant", "client_id", "client_secret", "device_uuid", "username", "password"}, asks[0].Fields)
		assert.NotEmpty(t, asks[0].Reason)
		assert.Equal(t, testClientID, fe.Calls()[0].Form.Get("client_id"))
		assert.NotEmpty(t, m.StoreKey())

		m.Invalidate(tok.AccessToken)
		_, err = m.Token(testkit.Context(t, 20*time.Second), false)
		require.NoError(t, err)
		assert.Len(t, asks, 1, "credentials are kept for refreshes")
	})
	t.Run("declined", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		m := newManager(t, fe, nil, func(c *Config) {
			c.Provider = ProviderFunc(func(context.Context, PromptRequest) (Credentials, error) {
				return Credentials{}, errors.New("cashier pressed cancel")
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		e := errs.As(err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Equal(t, errs.ReasonCanceled, e.Reason)
		assert.Empty(t, fe.Calls())
	})
	t.Run("provider's own auth reason kept", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		m := newManager(t, fe, nil, func(c *Config) {
			c.Provider = ProviderFunc(func(context.Context, PromptRequest) (Credentials, error) {
				return Credentials{}, errs.AuthError("host", errs.ReasonNoCredentials, "nobody to ask")
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		assert.Equal(t, errs.ReasonNoCredentials, errs.As(err).Reason, "a provider that has nothing says so; it did not decline")
		assert.Empty(t, fe.Calls())
	})
	t.Run("incomplete answer", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		m := newManager(t, fe, nil, func(c *Config) {
			c.Provider = ProviderFunc(func(context.Context, PromptRequest) (Credentials, error) {
				return Credentials{ClientID: testClientID}, nil
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		assert.Equal(t, "credentials.client_secret", errs.As(err).Field)
	})
	t.Run("no provider", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		m := newManager(t, fe, nil, nil)
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		e := errs.As(err)
		assert.Equal(t, errs.Auth, e.Kind)
		assert.Equal(t, errs.ReasonNoCredentials, e.Reason)
	})
}

func TestAppUserPasswordPrompt(t *testing.T) {
	creds := &Credentials{Grant: AppUser, ClientID: "app.main.secucard", ClientSecret: testClientSecret, Username: "anna@example.com"}
	t.Run("asked for the password and not keeping it", func(t *testing.T) {
		fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
			return ok(tokenBody(fmt.Sprintf("at-app-%d-xyzxyz", n), "", 1200))
		})
		var asks []PromptRequest
		evs := newEvents()
		m := newManager(t, fe, creds, func(c *Config) {
			c.Observer = evs.observe
			c.Provider = ProviderFunc(func(_ context.Context, req PromptRequest) (Credentials, error) {
				asks = append(asks, req)
				return Credentials{Password: testPassword}, nil
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), true)
		require.NoError(t, err)
		require.Len(t, asks, 1)
		assert.Equal(t, PromptRequest{Grant: AppUser, Fields: []string{"password"}, Reason: asks[0].Reason}, asks[0])
		assert.NotContains(t, asks[0].Reason, testPassword)
		assert.Equal(t, testPassword, fe.Calls()[0].Form.Get("password"))
		assert.Equal(t, []string{StateOK}, evs.states())

		require.NoError(t, m.Clear(testkit.Context(t, 20*time.Second)))
		_, err = m.Token(testkit.Context(t, 20*time.Second), true)
		require.NoError(t, err)
		assert.Len(t, asks, 2, "a prompted password is not kept")
	})
	t.Run("non-interactive never prompts", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		asked := false
		m := newManager(t, fe, creds, func(c *Config) {
			c.Provider = ProviderFunc(func(context.Context, PromptRequest) (Credentials, error) {
				asked = true
				return Credentials{Password: testPassword}, nil
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), false)
		require.Error(t, err)
		assert.Equal(t, errs.ReasonNotAuthorized, errs.As(err).Reason)
		assert.False(t, asked)
		assert.Empty(t, fe.Calls())
	})
	t.Run("declined", func(t *testing.T) {
		fe := newFakeEndpoint(t, numbered(1200))
		evs := newEvents()
		m := newManager(t, fe, creds, func(c *Config) {
			c.Observer = evs.observe
			c.Provider = ProviderFunc(func(context.Context, PromptRequest) (Credentials, error) {
				return Credentials{}, errors.New("no")
			})
		})
		_, err := m.Token(testkit.Context(t, 20*time.Second), true)
		require.Error(t, err)
		assert.Equal(t, errs.ReasonCanceled, errs.As(err).Reason)
		assert.Equal(t, []string{StateCanceled}, evs.states())
		assert.Empty(t, fe.Calls())
	})
	t.Run("bad password", func(t *testing.T) {
		fe := newFakeEndpoint(t, func(int, tokenCall) reply { return oauthErr(401, "invalid_grant", "wrong password") })
		evs := newEvents()
		withPW := *creds
		withPW.Password = testPassword
		m := newManager(t, fe, &withPW, func(c *Config) { c.Observer = evs.observe })
		_, err := m.Token(testkit.Context(t, 20*time.Second), true)
		require.Error(t, err)
		assert.Equal(t, errs.Auth, errs.KindOf(err))
		assert.Equal(t, []string{StateFailed}, evs.states())
	})
}

func TestTokenSource(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), nil)
	tok, err := m.TokenSource(testkit.Context(t, 20*time.Second)).Token()
	require.NoError(t, err)
	assert.Equal(t, "at-cc-0-xyz", tok.AccessToken)

	dm := newManager(t, fe, deviceCreds(testUUID), nil)
	_, err = dm.TokenSource(testkit.Context(t, 20*time.Second)).Token()
	require.Error(t, err)
	assert.Equal(t, errs.ReasonNotAuthorized, errs.As(err).Reason, "the token source is never interactive")
}

func TestCanceledContext(t *testing.T) {
	fe := newFakeEndpoint(t, numbered(1200))
	m := newManager(t, fe, clientCreds(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Token(ctx, false)
	require.Error(t, err)
	assert.Equal(t, errs.Canceled, errs.KindOf(err))
	assert.Empty(t, fe.Calls())
}

// No secret reaches a log line: a full device flow, a refresh, a refused
// refresh and an app-user login, all at Trace level.
func TestLogsNeverCarrySecrets(t *testing.T) {
	const (
		access1  = "at-device-secret-aaaaaaaaaaaa"
		refresh1 = "rt-device-secret-bbbbbbbbbbbb"
		access2  = "at-refreshed-secret-cccccccccc"
		refresh2 = "rt-refreshed-secret-dddddddddd"
	)
	fe := newFakeEndpoint(t, func(n int, c tokenCall) reply {
		switch {
		case c.Form.Get("grant_type") == "refresh_token" && c.Form.Get("refresh_token") == refresh1:
			return ok(tokenBody(access2, refresh2, 1200))
		case c.Form.Get("grant_type") == "refresh_token":
			return oauthErr(400, "invalid_grant", "refresh token "+c.Form.Get("refresh_token")+" is unknown")
		case c.Form.Get("grant_type") == "appuser":
			return oauthErr(401, "invalid_grant", "password "+c.Form.Get("password")+" is wrong")
		case c.Form.Has("uuid"):
			return codesBody(1)
		case n < 3:
			return pending
		}
		return ok(tokenBody(access1, refresh1, 1200))
	})
	var lg logs
	evs := newEvents()
	m := newManager(t, fe, deviceCreds(testUUID), func(c *Config) {
		c.Logger = lg.logger(logging.Trace)
		c.Observer = evs.observe
		c.Sleep = nil
	})
	var collected []string
	tok, err := m.Token(testkit.Context(t, 20*time.Second), true)
	require.NoError(t, err)
	m.Invalidate(tok.AccessToken)
	tok, err = m.Token(testkit.Context(t, 20*time.Second), false)
	require.NoError(t, err)
	require.Equal(t, access2, tok.AccessToken)
	m.Invalidate(tok.AccessToken)
	_, err = m.Token(testkit.Context(t, 20*time.Second), false) // refresh refused -> not_authorized
	require.Error(t, err)
	collected = append(collected, err.Error())

	app := newManager(t, fe, &Credentials{Grant: AppUser, ClientID: testClientID, ClientSecret: testClientSecret,
		Username: "anna@example.com", Password: testPassword}, func(c *Config) {
		c.Logger = lg.logger(logging.Trace)
		c.Observer = evs.observe
	})
	_, err = app.Token(testkit.Context(t, 20*time.Second), true)
	require.Error(t, err)
	collected = append(collected, err.Error())
	for _, ev := range evs.all {
		b, err := json.Marshal(ev)
		require.NoError(t, err)
		collected = append(collected, string(b))
	}

	text := lg.text()
	require.NotEmpty(t, text)
	assert.Contains(t, text, "device code issued", "the flow was logged")
	all := text + "\n" + strings.Join(collected, "\n")
	for _, secret := range []string{testClientSecret, access1, refresh1, access2, refresh2, testDeviceCode, testPassword} {
		assert.NotContains(t, all, secret)
	}
}
