package limiter

import "unsafe"

// shardUsers is what a shard of the memory table keeps besides its LRU: the
// index that finds its users and the slab their records live in.
type shardUsers struct {
	index userIndex
	slab  userSlab
}

// userSlab hands out a shard's user records from chunks of records rather
// than one allocation each. A heartbeat at scale misses the TLB on the
// record as well as on the index slot: records in chunks on huge pages
// (adviseHuge) make that walk short, and the collector reaches a chunk of
// thousands of records as one object instead of thousands. Each chunk adds
// a quarter of what the shard has (at least minSlabChunk records), so at
// most about a fifth of the records stand empty; a record given back is
// zeroed and reused by the shard's next user, and the chunks stay for them
// (a shrinking table keeps its peak's records, as a Go map its buckets).
type userSlab struct {
	chunk []user // the chunk being handed out
	next  int    // its first record not yet handed out
	free  []*user
	made  int // records in all chunks
}

const (
	minSlabChunk = 64
	// maxSlabChunkBytes holds at least one whole huge page wherever the
	// runtime places the chunk (it aligns large objects to 8 KiB, not 2 MiB).
	maxSlabChunkBytes = 4 * hugePage
)

const userSize = int(unsafe.Sizeof(user{}))

// alloc returns a zeroed record.
func (s *userSlab) alloc() *user {
	if n := len(s.free); n > 0 {
		u := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		return u
	}
	if s.next == len(s.chunk) {
		size := min(max(minSlabChunk, s.made/4), maxSlabChunkBytes/userSize)
		s.chunk, s.next, s.made = make([]user, size), 0, s.made+size
		adviseHuge(unsafe.Pointer(unsafe.SliceData(s.chunk)), uintptr(size*userSize))
	}
	u := &s.chunk[s.next]
	s.next++
	return u
}

// release takes back a record that left the index and the LRU: nothing
// refers to it any more. Zeroing it lets go of its sessions and blob.
func (s *userSlab) release(u *user) {
	*u = user{}
	s.free = append(s.free, u)
}
