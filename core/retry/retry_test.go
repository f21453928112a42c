package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDelayGrowsAndCaps(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Factor: 2, Jitter: 0.000001}
	assert.InDelta(t, 100*time.Millisecond, b.Delay(1), float64(time.Millisecond))
	assert.InDelta(t, 200*time.Millisecond, b.Delay(2), float64(time.Millisecond))
	assert.InDelta(t, 800*time.Millisecond, b.Delay(4), float64(time.Millisecond))
	assert.InDelta(t, time.Second, b.Delay(30), float64(time.Millisecond))
}

func TestFullJitterStaysInRange(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	seen := map[time.Duration]bool{}
	for i := 0; i < 200; i++ {
		d := b.Delay(3)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, 400*time.Millisecond)
		seen[d] = true
	}
	assert.Greater(t, len(seen), 50, "delays must be randomised")
}

func TestSleepRespectsDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Sleep(ctx, 5*time.Second)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.Less(t, time.Since(start), 40*time.Millisecond, "must not wait just to fail")

	assert.NoError(t, Sleep(context.Background(), time.Millisecond))
	c2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	assert.ErrorIs(t, Sleep(c2, time.Second), context.Canceled)
	assert.ErrorIs(t, NoSleep(c2, time.Second), context.Canceled)
}
