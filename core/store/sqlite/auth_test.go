package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/logging"
	"github.com/libsecucard/libsecucard/core/store"
	"github.com/libsecucard/libsecucard/core/store/sqlite"
	"github.com/libsecucard/libsecucard/internal/testkit"
	"github.com/libsecucard/libsecucard/internal/testkit/authkit"
	"github.com/libsecucard/libsecucard/sandbox"
)

// These tests run the token manager on a real SQLite file against the local
// sandbox: what a till does across restarts.

var (
	keyA = bytes.Repeat([]byte{0xa1}, store.KeySize)
	keyB = bytes.Repeat([]byte{0xb2}, store.KeySize)
)

type lineLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) logger() *logging.Logger {
	return logging.New(logging.SinkFunc(func(lv logging.Level, msg string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, lv.String()+" "+msg)
	}), logging.Debug)
}

func (l *lineLog) count(prefix, contains string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, prefix) && strings.Contains(line, contains) {
			n++
		}
	}
	return n
}

// newManager is the sandbox's client_credentials manager on store s.
func newManager(t *testing.T, srv *sandbox.Server, s store.Store, mutate func(*auth.Config)) *auth.Manager {
	return authkit.Manager(t, srv, authkit.Credentials(srv, auth.ClientCredentials, ""), func(c *auth.Config) {
		c.Store = s
		if mutate != nil {
			mutate(c)
		}
	})
}

func TestSealedFileHoldsNoTokenInClear(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{TokenTTL: 2 * time.Second, DeviceInterval: -1, DeviceAutoApprove: 0})
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := sqlite.OpenSealed(path, keyA, nil)
	require.NoError(t, err)
	defer s.Close()
	clk := testkit.OffsetClock()
	m := newManager(t, srv, s, func(c *auth.Config) {
		c.Credentials = &auth.Credentials{Grant: auth.Device, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), DeviceUUID: "/vendor/acme/pos/17"}
		c.Now = clk.Now
	})
	first, err := m.Token(testkit.Context(t, 30*time.Second), true) // the sandbox approves at once
	require.NoError(t, err)
	clk.Advance(3 * time.Second)
	second, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	require.NotEqual(t, first.AccessToken, second.AccessToken, "refreshed")

	for _, p := range []string{path} { // the rollback journal is gone after each commit
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NotEmpty(t, raw)
		for _, secret := range []string{first.AccessToken, first.RefreshToken, second.AccessToken, second.RefreshToken} {
			assert.False(t, bytes.Contains(raw, []byte(secret)), "%s holds a token in clear", filepath.Base(p))
		}
	}

	// The till restarts: the sealed token is read back without a request.
	require.NoError(t, s.Close())
	s2, err := sqlite.OpenSealed(path, keyA, nil)
	require.NoError(t, err)
	defer s2.Close()
	srv.ResetRequests()
	m2 := newManager(t, srv, s2, func(c *auth.Config) {
		c.Credentials = &auth.Credentials{Grant: auth.Device, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), DeviceUUID: "/vendor/acme/pos/17"}
		c.Now = clk.Now
	})
	tok, err := m2.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, second.AccessToken, tok.AccessToken)
	assert.Empty(t, testkit.Grants(srv))
}

func TestCorruptedFileLeadsToReauthentication(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{TokenTTL: time.Minute})
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := sqlite.OpenSealed(path, keyA, nil)
	require.NoError(t, err)
	first, err := newManager(t, srv, s, nil).Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("garbage!"), 1024), 0o600))
	srv.ResetRequests()

	var lg lineLog
	s, err = sqlite.OpenSealed(path, keyA, lg.logger())
	require.NoError(t, err, "a corrupted file never stops the till")
	defer s.Close()
	tok, err := newManager(t, srv, s, nil).Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, tok.AccessToken)
	assert.Equal(t, []string{"client_credentials"}, testkit.Grants(srv), "authenticated again")
	assert.Equal(t, 1, lg.count("warn", "moved it to"))
}

func TestUndecryptableEntryLeadsToReauthentication(t *testing.T) {
	srv := testkit.Sandbox(t, sandbox.Options{TokenTTL: time.Minute})
	path := filepath.Join(t.TempDir(), "tokens.db")
	s, err := sqlite.OpenSealed(path, keyA, nil)
	require.NoError(t, err)
	first, err := newManager(t, srv, s, nil).Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	srv.ResetRequests()

	// The host configured another encryption key.
	var lg lineLog
	s, err = sqlite.OpenSealed(path, keyB, nil)
	require.NoError(t, err)
	defer s.Close()
	m := newManager(t, srv, s, func(c *auth.Config) { c.Logger = lg.logger() })
	tok, err := m.Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.NotEqual(t, first.AccessToken, tok.AccessToken)
	assert.Equal(t, []string{"client_credentials"}, testkit.Grants(srv))
	assert.Equal(t, 1, lg.count("warn", "could not be read"), "logged once")

	// The new token replaced the unreadable one, sealed with the new key.
	srv.ResetRequests()
	again, err := newManager(t, srv, s, nil).Token(testkit.Context(t, 30*time.Second), false)
	require.NoError(t, err)
	assert.Equal(t, tok.AccessToken, again.AccessToken)
	assert.Empty(t, testkit.Grants(srv))
}
