package sandbox

import (
	"context"
	"time"
)

// idemEntry is one X-Action id: in flight until done is closed, then the
// answer every duplicate gets.
type idemEntry struct {
	done     chan struct{}
	resp     DispatchResponse // written before done is closed
	finished time.Time
}

// idempotent runs a mutating call once per (client, X-Action) within the
// window (IdempotencyWindow after the first call finished) and answers every
// duplicate — also one arriving while the first still runs — with the first
// answer. The real server's semantics are unknown (spec §9.2); this is what
// the Java offline resend path presumes.
func (s *Server) idempotent(ctx context.Context, client, xAction, lang string, run func() DispatchResponse) DispatchResponse {
	key := client + "\x00" + xAction
	now := time.Now()
	s.mu.Lock()
	for k, e := range s.idem {
		if !e.finished.IsZero() && now.Sub(e.finished) > s.opts.IdempotencyWindow {
			delete(s.idem, k)
		}
	}
	if e := s.idem[key]; e != nil {
		s.mu.Unlock()
		select {
		case <-e.done:
			return e.resp
		case <-ctx.Done():
			return s.errorResponse(errConflict("a request with this X-Action is still being processed"), lang)
		case <-s.life.Done():
			return s.errorResponse(errConflict("a request with this X-Action is still being processed"), lang)
		}
	}
	e := &idemEntry{done: make(chan struct{})}
	s.idem[key] = e
	s.mu.Unlock()

	resp := run()
	s.mu.Lock()
	e.resp = resp
	e.finished = time.Now()
	s.mu.Unlock()
	close(e.done)
	return resp
}
