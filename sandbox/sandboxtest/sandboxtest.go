// Package sandboxtest starts a sandbox for one Go test. It knows nothing of
// any client: Server.Endpoints gives the plain values (URLs, credentials,
// STOMP address) a client side turns into its own configuration.
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
