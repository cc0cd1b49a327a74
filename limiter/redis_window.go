package limiter

import (
	"context"
	"sync"
)

// A loss that breaks no connection (FLUSHALL, a failover that kept them) is
// noticed by the next marker check, up to markerCheckEvery later. Meanwhile
// Redis starts sessions against an empty table: the fourth device of a
// household whose three play is started, and the re-seed then writes the
// three back beside it. So a replica remembers the sessions Redis started
// for it that its mirror did not know, since the last check that found the
// marker. When a check finds it gone, those are undone in Redis and left out
// of the re-seed (provisional, as the failure policy's are), and each one's
// next request is decided again: by the failure policy during the grace, by
// the re-seeded Redis after it. A loss that a new connection shows (a
// restart) needs none of this: the admissions it could touch wait for the
// check (reseeder.ready), and the starts before it were answered by the
// Redis that still had its sessions, over the connections it broke. So only
// the starts answered since the last new connection are undone.

// maxWindowStarts bounds the starts remembered while no check succeeds: a
// start past it is not undone should a loss be found, as before.
const maxWindowStarts = 1 << 16

// windowStart is a session Redis started that the mirror did not know.
type windowStart struct {
	userID, sessionID string
	network           Network
	at                int64  // monoNow when Redis's answer came
	gen               uint64 // the reseeder's gen then
}

// windowStarts are the starts since the last check that found the marker.
type windowStarts struct {
	mu   sync.Mutex
	list []windowStart
}

// note remembers req's start.
func (w *windowStarts) note(req Request, gen uint64) {
	w.mu.Lock()
	if len(w.list) < maxWindowStarts {
		w.list = append(w.list, windowStart{userID: req.UserID, sessionID: req.SessionID, network: req.Network, at: monoNow(), gen: gen})
	}
	w.mu.Unlock()
}

// checked forgets the starts whose answer came before a check that began
// at began found the marker: Redis had its sessions when it decided them.
func (w *windowStarts) checked(began int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for i < len(w.list) && w.list[i].at < began {
		i++
	}
	w.list = append(w.list[:0], w.list[i:]...)
	if cap(w.list) > 1024 && len(w.list) < cap(w.list)/4 {
		w.list = append([]windowStart(nil), w.list...) // a burst's array goes with it
	}
}

// take returns and forgets every start remembered.
func (w *windowStarts) take() []windowStart {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// noteStart remembers a session Redis started, unless the mirror knew it
// (a playing session that an emptied Redis took for new), and reports
// whether it did.
func (s *reseeder) noteStart(ctx context.Context, req Request) bool {
	if s.mirror.Load() == nil || s.knows(ctx, req) {
		return false
	}
	s.window.note(req, s.gen.Load())
	return true
}

// undoWindow undoes the starts of the window before a check of gen found
// a loss, and leaves them out of the re-seed. It runs before the re-seed
// pass.
func (s *reseeder) undoWindow(ctx context.Context, m mirror, gen uint64) {
	starts := s.window.take()
	n, failed := 0, 0
	for _, st := range starts {
		if st.gen != gen {
			continue // answered over a connection made before the loss was shown
		}
		n++
		m.unconfirm(st.userID, st.sessionID)
		req := Request{UserID: st.userID, SessionID: st.sessionID, Network: st.network}
		if err := s.r.undoStart(ctx, req); err != nil {
			failed++
		}
	}
	if n > 0 {
		s.r.logger.Warn("redis lost its sessions: sessions it started since the last check are decided again",
			"sessions", n, "not_undone", failed)
	}
}
