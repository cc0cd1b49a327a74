package limiter

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/rueidis"
	"golang.org/x/sync/errgroup"
)

// undoParallel is how many undos undoWindow has in flight at once.
const undoParallel = 16

// A loss that breaks no connection (FLUSHALL, a failover that kept them) is
// noticed by the next marker check, up to markerCheckEvery later. Meanwhile
// Redis starts sessions against an empty table: the fourth device of a
// household whose three play is started, and the re-seed then writes the
// three back beside it. So when Redis starts a session this replica did not
// know, the replica reads the marker after it: still the one it knows, and
// Redis had its sessions when it decided. Otherwise the start is
// remembered, and the admission waits for a check, as after a new
// connection (reseeder.suspect). When the check finds the loss, the starts
// remembered are undone in Redis and left out of the re-seed (provisional,
// as the failure policy's are), and each one is decided again: the
// admission that waited at once, a start whose admission had returned at
// its next request; by the failure policy during the grace, by the
// re-seeded Redis after it.

// maxWindowStarts bounds the starts remembered while no check succeeds: a
// start past it is not undone should a loss be found, as before.
const maxWindowStarts = 1 << 16

// windowStart is a session Redis started that the mirror did not know.
type windowStart struct {
	userID, sessionID string
	network           Network
	at                int64 // monoNow when Redis's answer came
}

// windowStarts are the starts since the last check that found the marker.
type windowStarts struct {
	mu   sync.Mutex
	list []windowStart
}

// note remembers req's start.
func (w *windowStarts) note(req Request) {
	w.mu.Lock()
	if len(w.list) < maxWindowStarts {
		w.list = append(w.list, windowStart{userID: req.UserID, sessionID: req.SessionID, network: req.Network, at: monoNow()})
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
// (a playing session that an emptied Redis took for new) or the marker
// read after the start is before, the one this replica knew before it,
// and reports whether it did: then a check is due, which the admission
// waits for. One more round trip, for the starts of sessions new to this
// replica only. The marker known before is compared, not the one known
// now: a check that found the loss meanwhile knows the new one.
func (s *reseeder) noteStart(ctx context.Context, req Request, before *string) bool {
	if s.mirror.Load() == nil || s.knows(ctx, req) {
		return false
	}
	if before != nil {
		msg, err := s.r.roundTrip(ctx, func(ctx context.Context, c rueidis.Client) rueidis.RedisResult {
			return c.Do(ctx, c.B().Get().Key(markerKey).Build())
		})
		if v, verr := msg.ToString(); err == nil && verr == nil && v == *before {
			return false
		}
	}
	s.window.note(req)
	s.suspect() // after note: the check it asks for takes this start
	return true
}

// undoWindow undoes the starts remembered when a check found a loss, and
// leaves them out of the re-seed. It runs before the re-seed pass.
func (s *reseeder) undoWindow(ctx context.Context, m mirror) {
	starts := s.window.take()
	// The undos are independent, and the re-seed waits for them: a few at
	// once, which the client pipelines, rather than a round trip each in
	// turn.
	var undos errgroup.Group
	undos.SetLimit(undoParallel)
	var failed atomic.Int64
	for _, st := range starts {
		m.unconfirm(st.userID, st.sessionID)
		req := Request{UserID: st.userID, SessionID: st.sessionID, Network: st.network}
		undos.Go(func() error {
			if err := s.r.undoStart(ctx, req); err != nil {
				failed.Add(1)
			}
			return nil
		})
	}
	_ = undos.Wait()
	if len(starts) > 0 {
		s.r.logger.Warn("redis lost its sessions: sessions it started before the loss was found are decided again",
			"sessions", len(starts), "not_undone", failed.Load())
	}
}
