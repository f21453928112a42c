// Package sandboxtest starts a sandbox for a test and hands out a client
// configuration pointing at it.
package sandboxtest

import (
	"testing"

	"github.com/libsecucard/libsecucard/core/sandbox"
)

// Start starts a sandbox on 127.0.0.1:0 and closes it when the test ends.
// It fails the test at once if the sandbox cannot start.
func Start(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	s, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Config is a client configuration for the sandbox:
// {"environment": "sandbox", "sandbox_url": ..., "credentials": {"client_id", "client_secret"}}.
func Config(s *sandbox.Server) map[string]any {
	return map[string]any{
		"environment": "sandbox",
		"sandbox_url": s.URL(),
		"credentials": map[string]any{
			"client_id":     s.ClientID(),
			"client_secret": s.ClientSecret(),
		},
	}
}
