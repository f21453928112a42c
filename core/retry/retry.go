// Package retry owns the library's backoff: capped exponential delays with full
// jitter, a sleep that respects the caller's deadline, and a switch that turns
// sleeping off in tests. Whether to repeat at all is decided by call.Decide;
// this package only decides how long to wait. Its values come from the
// config's retry section (core's defaults table), never from here.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff describes capped exponential backoff with jitter.
type Backoff struct {
	Initial time.Duration // delay before the first retry (before jitter); 0: no delay
	Max     time.Duration // cap on any single delay; 0: no cap
	Factor  float64       // growth per attempt; 2 when zero
	// Jitter is the fraction of the delay that is randomised: 1 (the default when
	// zero) is "full jitter" (uniform in [0, d]), 0.2 keeps 80 % fixed. Jitter
	// spreads reconnect storms when many tills lose the same broker.
	Jitter float64
}

// Delay returns the wait before retry number attempt (1 = first retry).
func (b Backoff) Delay(attempt int) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	initial := b.Initial
	if initial <= 0 {
		return 0
	}
	maxD := b.Max
	if maxD <= 0 {
		maxD = time.Duration(1<<63 - 1)
	}
	factor := b.Factor
	if factor < 1 {
		factor = 2
	}
	d := float64(initial)
	for i := 1; i < attempt && d < float64(maxD); i++ {
		d *= factor
	}
	if d > float64(maxD) {
		d = float64(maxD)
	}
	jitter := b.Jitter
	if jitter <= 0 || jitter > 1 {
		jitter = 1
	}
	fixed := d * (1 - jitter)
	return time.Duration(fixed + rand.Float64()*d*jitter)
}

// Sleeper waits for d or until ctx ends. Tests swap it to avoid real sleeps.
type Sleeper func(ctx context.Context, d time.Duration) error

// Sleep waits for d, returning ctx.Err() early if ctx ends first. It never
// sleeps past the deadline: if the deadline is nearer than d it returns
// context.DeadlineExceeded at once, because waiting just to fail is pointless.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NoSleep is a Sleeper that returns at once (still honouring a done context and
// the deadline rule), for tests of retry policies.
func NoSleep(ctx context.Context, d time.Duration) error {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	return ctx.Err()
}
