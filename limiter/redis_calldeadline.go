package limiter

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// errStoreSilent ends a call when Redis has sent nothing for -store-timeout.
var errStoreSilent = fmt.Errorf("redis sent nothing within the store timeout: %w", context.DeadlineExceeded)

// errStoreTooLong ends a call that outlived its hard deadline.
var errStoreTooLong = fmt.Errorf("redis call outlived its hard deadline: %w", context.DeadlineExceeded)

// hardDeadline bounds a call whose deadline was extended because Redis kept
// answering: max(hardDeadlineFactor × timeout, minHardDeadline).
const (
	hardDeadlineFactor = 10
	minHardDeadline    = time.Second
)

// epoch makes readings of the monotonic clock into integers.
var epoch = time.Now()

func monoNow() int64 { return int64(time.Since(epoch)) }

// deadline is the deadline of one store call, measured against Redis, not
// against this process's scheduler. A plain context deadline counts every
// moment the caller, the client's writer or its reader wait for a CPU: on
// saturated cores 12% of calls to an idle Redis timed out at 100 ms
// (BenchmarkRedisSaturatedCPU) and the failure policy decided them. Here a
// call fails after the timeout only if Redis sent nothing on any connection
// during the last timeout; while replies keep arriving, the call waits on,
// up to the hard deadline. A Redis that is stopped, hung or cut off sends
// nothing, and its calls still fail after the timeout.
type deadline struct {
	timer  atomic.Pointer[time.Timer]
	cancel context.CancelCauseFunc
	hard   int64
	due    int64 // when check should run (monoNow)
	second bool  // the next check is the second look at a silent Redis
	r      *Redis
}

// withDeadline returns the context of one call and its release.
func (r *Redis) withDeadline(ctx context.Context) (context.Context, func()) {
	cctx, cancel := context.WithCancelCause(ctx)
	now := monoNow()
	d := &deadline{cancel: cancel, hard: now + int64(max(hardDeadlineFactor*r.timeout, minHardDeadline)), due: now + int64(r.timeout), r: r}
	// The context has no deadline of its own, so the client never turns it
	// into a socket deadline that would close the connection on expiry.
	t := time.AfterFunc(time.Hour, d.check)
	d.timer.Store(t)
	t.Reset(r.timeout)
	return cctx, func() {
		t.Stop()
		cancel(nil)
	}
}

func (d *deadline) check() {
	now := monoNow()
	if now >= d.hard {
		d.cancel(errStoreTooLong)
		return
	}
	// A check that runs late shows the scheduler is behind: the client's
	// reader may be just as late to read what Redis sent, so it gets the
	// same grace.
	late := max(now-d.due, 0)
	next := min(d.r.timeout, time.Duration(d.hard-now))
	if now-d.r.gate.lastRead.Load() >= int64(d.r.timeout)+late {
		// Before failing, a second look a little later: on a saturated
		// machine the reader may be runnable with Redis's reply in its
		// socket. A hung Redis costs the call timeout × 9/8.
		if d.second {
			d.cancel(errStoreSilent)
			return
		}
		d.second = true
		runtime.Gosched()
		next = min(max(d.r.timeout/8, time.Millisecond), time.Duration(d.hard-now))
	} else {
		d.second = false
	}
	d.due = now + int64(next)
	d.timer.Load().Reset(next)
}

// callError is the error of a call whose context was cctx: the deadline's
// cause rather than the bare "context canceled" the client reports.
func callError(cctx context.Context, err error) error {
	if cause := context.Cause(cctx); errors.Is(err, context.Canceled) && cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
