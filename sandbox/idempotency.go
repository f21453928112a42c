package sandbox

import (
	"context"
	"net/http"
	"time"
)

// idemEntry is the first execution of one X-Action id.
type idemEntry struct {
	done chan struct{} // closed when resp is set
	resp DispatchResponse
	at   time.Time
}

// idempotent runs fn once per (client, X-Action) within IdempotencyWindow
// and answers repeats, even concurrent ones, with the first result (same
// status and body). The real server's semantics are unknown (spec §9.2); this
// is what a client retrying a timed-out create or start needs. Errors are
// remembered too, except that authorization is checked before, so a 401
// from an expired token never sticks to the id.
func (s *Server) idempotent(ctx context.Context, client, xAction string, fn func() DispatchResponse) DispatchResponse {
	key := client + "\x00" + xAction
	now := s.now()
	s.mu.Lock()
	if e, ok := s.idem[key]; ok && now.Sub(e.at) < IdempotencyWindow {
		s.mu.Unlock()
		select {
		case <-e.done:
			return DispatchResponse{Status: e.resp.Status, Body: append([]byte(nil), e.resp.Body...)}
		case <-ctx.Done():
		case <-s.ctx.Done():
		}
		return s.envelope(http.StatusServiceUnavailable, excInternal, codeUnavailable,
			"gave up waiting for the first request with this X-Action", "Please try again.")
	}
	e := &idemEntry{done: make(chan struct{}), at: now}
	s.idem[key] = e
	if len(s.idem)%64 == 0 {
		s.pruneIdemLocked(now)
	}
	s.mu.Unlock()
	defer close(e.done)
	e.resp = s.envelope(http.StatusInternalServerError, excInternal, codeUnavailable, "the request failed inside the sandbox", "Please try again.")
	e.resp = fn()
	return e.resp
}

func (s *Server) pruneIdemLocked(now time.Time) {
	for k, e := range s.idem {
		if now.Sub(e.at) >= IdempotencyWindow {
			select {
			case <-e.done:
				delete(s.idem, k)
			default:
			}
		}
	}
}
