package limiter

import (
	"log/slog"
	"sync"
	"time"
)

// transitionLogGap is the least time between two lines about the store's
// health, so that a store flapping between failing and answering logs a few
// lines a minute, with counts, instead of a pair per flap.
const transitionLogGap = 10 * time.Second

// transitionLog writes the store's failing and recovered lines. An outage's
// first line is written at once, and so is the recovery that ends it; a
// transition within transitionLogGap of the last line is held back, and when
// the gap has passed one line tells the state then and how many outages began
// meanwhile.
type transitionLog struct {
	logger *slog.Logger
	policy string
	gap    time.Duration

	mu          sync.Mutex
	last        time.Time // of the last line
	loggedFail  bool      // the state the last line told
	down        bool      // the state now
	outages     int       // begun since the last line
	failedCalls uint64    // during the outages held back
	since       time.Time // the current outage began
	timer       *time.Timer
	closed      bool
}

func newTransitionLog(logger *slog.Logger, policy FailurePolicy) *transitionLog {
	return &transitionLog{logger: logger, policy: string(policy), gap: transitionLogGap}
}

// failing notes that the store started failing with err.
func (l *transitionLog) failing(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.down, l.since = true, now
	if !l.loggedFail && now.Sub(l.last) >= l.gap {
		l.logger.Warn("session store failing; deciding by -store-failure until it answers again", "policy", l.policy, "err", err)
		l.wrote(now, true)
		return
	}
	l.outages++
	l.hold(now)
}

// recovered notes that the store answers again after failedCalls failed calls.
func (l *transitionLog) recovered(failedCalls uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.down = false
	if l.loggedFail && l.outages == 0 {
		l.logger.Info("session store recovered", "policy", l.policy,
			"down_for", now.Sub(l.since).Round(time.Millisecond).String(), "failed_calls", failedCalls)
		l.wrote(now, false)
		return
	}
	l.failedCalls += failedCalls
	l.hold(now)
}

func (l *transitionLog) wrote(now time.Time, failing bool) {
	l.last, l.loggedFail, l.outages, l.failedCalls = now, failing, 0, 0
}

// hold arms the line that ends the gap.
func (l *transitionLog) hold(now time.Time) {
	if l.timer != nil || l.closed {
		return
	}
	l.timer = time.AfterFunc(max(l.gap-now.Sub(l.last), 0), l.flush)
}

func (l *transitionLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer = nil
	if l.closed || (l.outages == 0 && l.down == l.loggedFail) {
		return
	}
	now := time.Now()
	if l.down {
		l.logger.Warn("session store failing; deciding by -store-failure until it answers again",
			"policy", l.policy, "outages", l.outages, "failed_calls", l.failedCalls)
	} else {
		l.logger.Info("session store recovered", "policy", l.policy, "outages", l.outages, "failed_calls", l.failedCalls)
	}
	l.wrote(now, l.down)
}

func (l *transitionLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}
