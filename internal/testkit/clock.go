package testkit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Clock is a settable clock for expiry tests. A fixed clock (NewClock)
// stands still until Advance moves it; an offset clock (OffsetClock)
// follows the wall clock, shifted by everything Advance added, for code
// that also waits in real time.
type Clock struct {
	mu     sync.Mutex
	start  time.Time // zero: the wall clock
	offset time.Duration
}

// Epoch is where a fixed clock starts: a plain instant far from any
// boundary a test could trip over.
var Epoch = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// NewClock returns a clock standing at Epoch.
func NewClock() *Clock { return &Clock{start: Epoch} }

// OffsetClock returns a clock that follows the wall clock.
func OffsetClock() *Clock { return &Clock{} }

// Now is the clock's time (a func() time.Time for configs and options).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() {
		return time.Now().Add(c.offset)
	}
	return c.start.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Context is a context that ends after d or with the test, whichever comes
// first: a bound on a test's calls, never a pace.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
