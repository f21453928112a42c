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
	// A sleep that cannot fit returns at once; sleeping into the deadline
	// would take 10 s. The bound leaves a loaded machine room.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := Sleep(ctx, time.Minute)
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.Less(t, time.Since(start), 5*time.Second, "must not wait just to fail")

	assert.NoError(t, Sleep(context.Background(), time.Millisecond))
	c2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	assert.ErrorIs(t, Sleep(c2, time.Second), context.Canceled)
	assert.ErrorIs(t, NoSleep(c2, time.Second), context.Canceled)
}
