package limiter

import "time"

// sweepBatch bounds how many users one lock hold removes, so that a sweep
// after a mass expiry never stalls the requests of that shard for long.
const sweepBatch = 256

func (m *Memory) sweepEvery(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// Sweep removes users whose sessions have all expired and returns how many it
// removed. It runs in the background; tests call it directly.
//
// Users sit in each shard's LRU in the order of their last admitted request,
// which is their newest heartbeat, so expired users gather at the tail: the
// sweep pops them from there and stops at the first live one. Its cost is the
// number of expired users, not the size of the table. Expired sessions of live
// users are pruned when that user is next seen.
func (m *Memory) Sweep() int {
	removed := 0
	for i := range m.table.Len() {
		sh := m.table.At(i)
		for {
			now := m.clock().UnixNano()
			sh.Lock()
			n := m.sweepShardLocked(sh, now, sweepBatch)
			sh.Unlock()
			removed += n
			if n < sweepBatch {
				break
			}
		}
	}
	return removed
}

// sweepShardLocked removes at most limit expired users from the tail of sh.
// A user at the tail whose requests are all older than the TTL but who is
// still held by a lease or a tombstone moves to the front, so that it never
// stops the sweep; the users behind it are looked at in the same pass.
func (m *Memory) sweepShardLocked(sh *shard, now int64, limit int) int {
	removed := 0
	for looked := 0; removed < limit && looked < 2*limit+8; looked++ {
		r, _, ok := sh.LRU.GetOldest()
		if !ok {
			break
		}
		u := r.user()
		if now-u.newest() < m.ttl {
			break
		}
		m.sessions.Add(-int64(u.prune(m.heap, now, 0)))
		if len(u.sessions()) == 0 && !u.holdsTombs(now) {
			sh.LRU.RemoveOldest()
			removed++
			continue
		}
		sh.LRU.Get(r)
	}
	return removed
}
