package sandbox

import "time"

// SetClock replaces the sandbox clock (expiry, slow_down and scroll tests).
func (s *Server) SetClock(now func() time.Time) { s.now = now }

// SetQuerySteps lowers the matching work a list request may do, so a test
// reaches the limit without burning seconds of CPU.
func (s *Server) SetQuerySteps(n int) { s.querySteps = n }
