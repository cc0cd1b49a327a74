package limiter

import "strings"

// TopLister is implemented by stores that can name the users holding the most
// active sessions on this replica.
type TopLister interface {
	TopUsers(n int) []UserCount
	// TopShared ranks users by their active sessions used from more than
	// one client network (Session.Networks > 1), which may be shared.
	TopShared(n int) []UserCount
}

var _ TopLister = (*Memory)(nil)

// TopUsers returns up to n users with the most active sessions, most first,
// ties by user id. It walks the whole table one shard at a time, holding each
// shard's lock for that shard's users only, so callers should cache the
// answer for a few seconds rather than call it per request.
func (m *Memory) TopUsers(n int) []UserCount {
	return m.topBy(n, false)
}

// TopShared returns up to n users with the most active sessions that more
// than one client network used, most first, ties by user id; users with none
// are left out. It walks the table as TopUsers does, and costs as much.
func (m *Memory) TopShared(n int) []UserCount {
	return m.topBy(n, true)
}

// topBy ranks users by their active sessions, or by those of them that more
// than one network used when sharedOnly is true. A flag, not a func: the
// walk visits every session of the table.
func (m *Memory) topBy(n int, sharedOnly bool) []UserCount {
	if n <= 0 {
		return []UserCount{}
	}
	top := make([]UserCount, 0, n+1)
	for i := range m.table.Len() {
		sh := m.table.At(i)
		now := m.clock().UnixNano()
		sh.Lock()
		for _, r := range sh.LRU.Keys() {
			u := r.user()
			active := 0
			for i := range u.sessions() {
				if s := &u.sessions()[i]; now-s.lastSeen < m.ttl && (!sharedOnly || s.networks > 1) {
					active++
				}
			}
			if active > 0 {
				top = keepTop(top, n, UserCount{UserID: u.id(), Count: active})
			}
		}
		sh.Unlock()
	}
	return top
}

// keepTop inserts c into top, which is sorted as sortTop sorts and holds at
// most n entries. Most users do not beat the last entry and cost one compare.
func keepTop(top []UserCount, n int, c UserCount) []UserCount {
	if len(top) == n && !ranksBefore(c, top[n-1]) {
		return top
	}
	i := len(top)
	for i > 0 && ranksBefore(c, top[i-1]) {
		i--
	}
	if len(top) < n {
		top = append(top, UserCount{})
	}
	copy(top[i+1:], top[i:len(top)-1])
	// A copy of the id, made only for a user that ranks: the memory
	// table's ids lie in blobs freed when their users change.
	c.UserID = strings.Clone(c.UserID)
	top[i] = c
	return top
}

func ranksBefore(a, b UserCount) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return strings.Compare(a.UserID, b.UserID) < 0
}
