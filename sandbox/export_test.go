package sandbox

import "time"

// SetClock replaces the sandbox clock (expiry, slow_down and scroll tests).
func (s *Server) SetClock(now func() time.Time) { s.now = now }
