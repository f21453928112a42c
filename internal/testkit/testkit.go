// Package testkit is what the client-side tests (core, capi) share: a
// sandbox per test, the client configuration for it, and waiting on
// observable state. The sandbox knows nothing of the client; turning its
// plain endpoints into a client config happens here, on the client side.
package testkit

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/libsecucard/libsecucard/sandbox"
	"github.com/libsecucard/libsecucard/sandbox/sandboxtest"
)

// Sandbox starts a sandbox on 127.0.0.1:0, closed when the test ends.
func Sandbox(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	return sandboxtest.Start(t, opts)
}

// SandboxTLS starts a sandbox that serves REST, OAuth and admin over TLS
// with a fresh self-signed certificate; ClientConfig trusts it through
// tls.ca_file.
func SandboxTLS(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	srv, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	conf, _, err := sandbox.SelfSignedTLS()
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	if err := srv.StartTLS("127.0.0.1:0", conf); err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("sandbox close: %v", err)
		}
	})
	return srv
}

// SandboxSTOMP starts a sandbox with its STOMP endpoint (plain TCP).
func SandboxSTOMP(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	srv := Sandbox(t, opts)
	if _, err := srv.StartSTOMP("127.0.0.1:0", nil); err != nil {
		t.Fatalf("sandbox STOMP: %v", err)
	}
	return srv
}

// ClientConfig is the client config a host would write for srv: the
// sandbox environment, its URL and its credentials (STOMP left to the
// client's default; see STOMPConfig). When srv serves TLS, its certificate
// is written to a file of the test and trusted through tls.ca_file.
func ClientConfig(t testing.TB, srv *sandbox.Server) map[string]any {
	t.Helper()
	e := srv.Endpoints()
	cfg := map[string]any{
		"environment": "sandbox",
		"sandbox_url": e.SandboxURL,
		"credentials": map[string]any{"client_id": e.ClientID, "client_secret": e.ClientSecret},
	}
	if ca := append(append([]byte(nil), e.HTTPCA...), e.STOMPCA...); len(ca) > 0 {
		file := filepath.Join(t.TempDir(), "sandbox-ca.pem")
		if err := os.WriteFile(file, ca, 0o600); err != nil {
			t.Fatalf("sandbox CA: %v", err)
		}
		cfg["tls"] = map[string]any{"ca_file": file}
	}
	return cfg
}

// STOMPConfig is the "stomp" section of a client config that uses srv's
// STOMP endpoint (TLS when it serves TLS, trusted through ClientConfig's
// tls.ca_file); the test fails if srv has none.
func STOMPConfig(t testing.TB, srv *sandbox.Server) map[string]any {
	t.Helper()
	e := srv.Endpoints()
	host, port, err := net.SplitHostPort(e.STOMPAddr)
	if err != nil {
		t.Fatalf("the sandbox has no STOMP endpoint: %v", err)
	}
	p, _ := strconv.Atoi(port)
	return map[string]any{"enabled": true, "host": host, "port": p, "tls": len(e.STOMPCA) > 0}
}

// JSON encodes a config map (for the C API and core.ParseConfig).
func JSON(t testing.TB, cfg map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return b
}

// WaitFor polls cond until it holds, failing the test with what after
// timeout. It is for state the test can observe but not be told about;
// never use it to pace a protocol.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Grants lists the grant_type of every token request srv saw, in order.
func Grants(srv *sandbox.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		if r.Path == "/oauth/token" {
			out = append(out, r.GrantType)
		}
	}
	return out
}

// Log keeps what a callback is handed (events, auth progress), in order;
// safe for concurrent use. Embed it in a recorder with the filters a test
// needs.
type Log[T any] struct {
	mu  sync.Mutex
	all []T
}

// Add records v (pass it as the callback).
func (l *Log[T]) Add(v T) {
	l.mu.Lock()
	l.all = append(l.all, v)
	l.mu.Unlock()
}

// All returns a copy of everything recorded so far.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.all...)
}

// CardPointeConfig is the "cardpointe" section of a client config that uses
// srv's CardPointe Gateway emulation (its URL, Basic credentials and MID).
func CardPointeConfig(srv *sandbox.Server) map[string]any {
	e := srv.Endpoints()
	return map[string]any{
		"url": e.CardPointeURL, "username": e.CardPointeUsername,
		"password": e.CardPointePassword, "merchid": e.CardPointeMerchID,
	}
}
