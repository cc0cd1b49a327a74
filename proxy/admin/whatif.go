package admin

import (
	"time"
)

// WhatIfLimits is how many limits the console's "what a limit would
// refuse" panel shows: 1 to WhatIfLimits.
const WhatIfLimits = 6

// The panel looks back whatIfWindow, from snapshots of the histogram
// streamgate_concurrent_sessions taken every whatIfStep.
const (
	whatIfWindow = time.Hour
	whatIfStep   = time.Minute
)

// concurrencySnapshot is the histogram's cumulative counts at one moment:
// atMost[i] starts came with at most i+1 sessions, out of total.
type concurrencySnapshot struct {
	at     time.Time
	atMost [WhatIfLimits]uint64
	total  uint64
}

// WhatIf is the answer to "if the limit were N, how many of the recent
// session starts would have been refused?", read from the histogram.
type WhatIf struct {
	// Starts is the number of sessions started in the window.
	Starts uint64 `json:"starts"`
	// WindowSeconds is how far back the counts go: an hour, or the
	// process's uptime when shorter.
	WindowSeconds int `json:"windowSeconds"`
	// Limits has one entry per limit 1 to WhatIfLimits.
	Limits []WhatIfLimit `json:"limits"`
}

// WhatIfLimit is one limit and the starts it would have refused.
type WhatIfLimit struct {
	Limit   int    `json:"limit"`
	Refused uint64 `json:"refused"`
}

// concurrencyNow reads the histogram; false without metrics.
func (m *Monitor) concurrencyNow(at time.Time) (concurrencySnapshot, bool) {
	s := concurrencySnapshot{at: at}
	if m.opts.Metrics == nil {
		return s, false
	}
	cum, total := m.opts.Metrics.ConcurrentCounts()
	if len(cum) < WhatIfLimits {
		return s, false
	}
	copy(s.atMost[:], cum)
	s.total = total
	return s, true
}

// sampleConcurrency keeps a snapshot every whatIfStep, an hour of them.
func (m *Monitor) sampleConcurrency(at time.Time) {
	m.cmu.Lock()
	defer m.cmu.Unlock()
	if m.snapN > 0 {
		last := m.snaps[(m.snapNext-1+len(m.snaps))%len(m.snaps)]
		if at.Sub(last.at) < whatIfStep && !at.Before(last.at) {
			return
		}
	}
	s, ok := m.concurrencyNow(at)
	if !ok {
		return
	}
	m.snaps[m.snapNext] = s
	m.snapNext = (m.snapNext + 1) % len(m.snaps)
	m.snapN = min(m.snapN+1, len(m.snaps))
}

// WhatIf returns the starts of the last hour that each limit from 1 to
// WhatIfLimits would have refused: those that came with more sessions than
// the limit. Nil without metrics.
func (m *Monitor) WhatIf() *WhatIf {
	now := m.opts.Clock()
	cur, ok := m.concurrencyNow(now)
	if !ok {
		return nil
	}
	// The histogram counts from zero since the process started: within its
	// first hour that is the base, not the first snapshot, which a busy
	// process may take after some starts.
	base := concurrencySnapshot{at: m.started}
	if now.Sub(m.started) > whatIfWindow {
		m.cmu.Lock()
		first := (m.snapNext - m.snapN + len(m.snaps)) % len(m.snaps)
		for i := range m.snapN {
			s := m.snaps[(first+i)%len(m.snaps)]
			if now.Sub(s.at) <= whatIfWindow {
				base = s
				break
			}
		}
		m.cmu.Unlock()
	}
	w := &WhatIf{Starts: cur.total - base.total, WindowSeconds: int(now.Sub(base.at).Seconds())}
	for n := 1; n <= WhatIfLimits; n++ {
		within := cur.atMost[n-1] - base.atMost[n-1]
		w.Limits = append(w.Limits, WhatIfLimit{Limit: n, Refused: w.Starts - min(within, w.Starts)})
	}
	return w
}
