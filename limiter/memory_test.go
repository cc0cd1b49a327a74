package limiter_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/storetest"
)

// fakeClock is the clock the limiter's tests move by hand.
type fakeClock = storetest.Clock

func newFakeClock() *fakeClock {
	return storetest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

func TestMemoryConformance(t *testing.T) {
	t.Parallel()
	var clocks sync.Map // *testing.T → *fakeClock: each subtest has its own store and clock
	storetest.Run(t, storetest.Harness{
		TTL:        time.Minute,
		ExactClock: true,
		New: func(t *testing.T, ttl time.Duration, rules limiter.Rules) limiter.Store {
			clock := newFakeClock()
			clocks.Store(t, clock)
			m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: ttl, MaxUsers: 1000, Clock: clock.Now, Rules: rules})
			require.NoError(t, err)
			return m
		},
		Advance: func(t *testing.T, d time.Duration) {
			c, ok := clocks.Load(t)
			require.True(t, ok, "Advance before New")
			c.(*fakeClock).Advance(d)
		},
	})
}
