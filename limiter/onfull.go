package limiter

import (
	"errors"
	"fmt"
)

// OnFull is what the memory table does with a new user when it is full of
// users with live sessions (-on-full).
type OnFull string

const (
	// OnFullEvict drops the least recently active user and counts it in
	// Stats.EvictedUsers: the newcomer plays, the dropped user's sessions
	// are forgotten (and its devices may exceed the limit at their next
	// request). The default.
	OnFullEvict OnFull = "evict"
	// OnFullRefuse keeps every live user and refuses the newcomer with
	// ErrTableFull; users whose sessions have all expired are still replaced.
	OnFullRefuse OnFull = "refuse"
)

// ErrTableFull is returned (wrapped) by Admit under OnFullRefuse when a new
// user finds the table full of live users. The gate answers 503.
var ErrTableFull = errors.New("session table full of live users")

// ParseOnFull returns the choice named s.
func ParseOnFull(s string) (OnFull, error) {
	switch o := OnFull(s); o {
	case OnFullEvict, OnFullRefuse:
		return o, nil
	}
	return "", fmt.Errorf("unknown -on-full %q; want evict or refuse", s)
}

// makeRoom, under OnFullRefuse, frees a place for a new user in a full table
// from expired users: those of sh first (its lock is held), then of the
// other shards whose lock is free at once. It reports whether the table has
// room. Waiting for another shard's lock while holding sh's could deadlock
// with an insert there doing the same, so busy shards are skipped; the
// background sweep reaches them.
func (m *Memory) makeRoom(sh *shard, now int64) bool {
	if m.users.Load() < m.maxUsers {
		return true
	}
	if m.sweepShardLocked(sh, now, 1) > 0 {
		return true
	}
	for i := range m.table.Len() {
		other := m.table.At(i)
		if other == sh || !other.TryLock() {
			continue
		}
		n := m.sweepShardLocked(other, now, 1)
		other.Unlock()
		if n > 0 {
			return true
		}
	}
	return m.users.Load() < m.maxUsers
}
