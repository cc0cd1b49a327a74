package limiter

import (
	"context"
	"sync"
	"time"
)

// provisional holds the sessions Guard started by its failure policy while
// the store could not be asked. They are in the local table (the local
// policy counts them, the gauges show them) but the store never admitted
// them: an empty Redis is not re-seeded with them, so that after an outage
// such a session still needs a free slot in Redis, as every replica sees it.
// A session leaves the set when the store admits it, when it ends, or one TTL
// after the policy last admitted it.
type provisional struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[provisionalKey]time.Time
}

type provisionalKey struct{ user, session string }

func newProvisional(ttl time.Duration) provisional {
	return provisional{ttl: ttl}
}

func (p *provisional) add(user, session string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[provisionalKey]time.Time)
	}
	now := time.Now()
	if len(p.m) > 0 && len(p.m)%1024 == 0 {
		p.dropOld(now)
	}
	p.m[provisionalKey{user, session}] = now
}

// confirm removes a session the store admitted; it costs one map lookup
// while nothing is provisional.
func (p *provisional) confirm(user, session string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) > 0 {
		delete(p.m, provisionalKey{user, session})
	}
}

func (p *provisional) has(user, session string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.m[provisionalKey{user, session}]
	return ok && time.Since(t) < p.ttl
}

func (p *provisional) dropOld(now time.Time) {
	for k, t := range p.m {
		if now.Sub(t) >= p.ttl {
			delete(p.m, k)
		}
	}
}

// guardMirror is Guard's local table less its provisional sessions: what a
// replica re-seeds an empty Redis with.
type guardMirror struct{ g *Guard }

func (m guardMirror) List(ctx context.Context, userID string) ([]Session, error) {
	sessions, err := m.g.local.List(ctx, userID)
	return m.confirmed(userID, sessions), err
}

func (m guardMirror) eachUser(f func(userID string, sessions []Session, ended []endedSession) bool) {
	m.g.local.eachUser(func(userID string, sessions []Session, ended []endedSession) bool {
		return f(userID, m.confirmed(userID, sessions), ended)
	})
}

func (m guardMirror) ended(userID string) []endedSession { return m.g.local.ended(userID) }

func (m guardMirror) renewed(t touch) bool { return m.g.local.renew(t) }

func (m guardMirror) now() time.Time { return m.g.local.now() }

func (m guardMirror) unconfirm(userID, sessionID string) { m.g.provisional.add(userID, sessionID) }

func (m guardMirror) confirmed(userID string, sessions []Session) []Session {
	out := sessions[:0]
	for _, s := range sessions {
		if !m.g.provisional.has(userID, s.ID) {
			out = append(out, s)
		}
	}
	return out
}
