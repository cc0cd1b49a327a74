package admin_test

import (
	"time"

	"github.com/streamgate/streamgate/limiter/storetest"
)

const testTTL = time.Minute

// testClock is a clock the tests move by hand.
type testClock = storetest.Clock

func newTestClock() *testClock {
	return storetest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
}
