// Package authkit builds token managers against a sandbox for the tests
// above core/auth (core/store/sqlite, and core/auth's own external tests).
// It imports core/auth, so it lives apart from testkit, which core/auth's
// internal tests import.
package authkit

import (
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/core/auth"
	"github.com/libsecucard/libsecucard/core/call"
	"github.com/libsecucard/libsecucard/core/retry"
	"github.com/libsecucard/libsecucard/sandbox"
)

// Credentials are srv's client credentials for grant (uuid: the device
// grant's device).
func Credentials(srv *sandbox.Server, grant auth.Grant, uuid string) *auth.Credentials {
	return &auth.Credentials{Grant: grant, ClientID: srv.ClientID(), ClientSecret: srv.ClientSecret(), DeviceUUID: uuid}
}

// Manager is a token manager for srv with fast test timings (a wire second
// lasts 10 ms, repeats wait 10-50 ms) and otherwise what a client resolves
// from an empty config. creds nil: none (the manager asks its Provider).
// mutate adjusts the config before the manager is built.
func Manager(t testing.TB, srv *sandbox.Server, creds *auth.Credentials, mutate func(*auth.Config)) *auth.Manager {
	t.Helper()
	cfg := auth.Config{
		TokenURL:      srv.URL() + "/oauth/token",
		Credentials:   creds,
		TimeUnit:      10 * time.Millisecond,
		WaitTimeout:   10 * time.Second,
		RefreshMargin: time.Minute,
		Policy:        call.Policy{MaxAttempts: 3, Backoff: retry.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}, MaxWait: 30 * time.Second},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	m, err := auth.NewManager(cfg)
	if err != nil {
		t.Fatalf("token manager: %v", err)
	}
	return m
}
