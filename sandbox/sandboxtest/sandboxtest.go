// Package sandboxtest starts a sandbox for one test.
package sandboxtest

import (
	"testing"

	"github.com/libsecucard/libsecucard/sandbox"
)

// Start starts a sandbox on 127.0.0.1:0 and closes it when the test ends.
// It fails the test at once if the sandbox cannot start.
func Start(t testing.TB, opts sandbox.Options) *sandbox.Server {
	t.Helper()
	s, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sandbox close: %v", err)
		}
	})
	return s
}

// Config is a client config map for the sandbox (JSON-encode it for the C
// API, or decode it into core.Config).
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
