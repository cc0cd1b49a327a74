package limiter

import (
	"sync"
	"unsafe"
)

// shardUsers is what a shard of the memory table keeps besides its LRU: the
// index that finds its users and the records its users left behind.
type shardUsers struct {
	index userIndex
	// free are records of users that left the shard, zeroed, handed to
	// its next users before any new one: they are only reused under the
	// shard's lock, the lock every holder of a record's pointer took.
	free []*user
}

// userArena hands out the table's user records from large chunks rather
// than one allocation each. A heartbeat at scale makes two dependent
// misses, the index slot and then the record; on 4 KiB pages the record's
// also misses the TLB, and on a VM the page walk costs as much as the miss
// itself (a pointer chase over 2 GiB here: 371 ns a load on 4 KiB pages,
// 225 ns on huge pages). Chunks lie out of Go's heap (tableHeap), and one
// of a huge page or more is mapped to start on one and advised onto them
// (tableHeap.mapLocked). The arena is one
// for all shards, so that its chunks grow large early: per-shard chunks of
// a 10M table stayed too small to be backed by huge pages for most of it.
//
// Each chunk adds an eighth of what the arena has (minArenaChunk records at
// least, maxArenaChunkBytes at most), so that at most a ninth of a table's
// records, and a hundredth of a table of 10M, stand empty. As a Go map
// keeps its buckets, the arena keeps its peak's records.
type userArena struct {
	heap  *tableHeap // where the chunks lie
	mu    sync.Mutex
	chunk []user // the chunk being handed out
	next  int    // its first record not yet handed out
	made  int    // records in all chunks
}

// hugePage is the size of an x86-64 huge page, which adviseHuge and the
// arena's chunks are sized by on every platform.
const hugePage = 2 << 20

const (
	minArenaChunk      = 64
	maxArenaChunkBytes = 8 * hugePage
)

const userSize = int(unsafe.Sizeof(user{}))

// alloc returns a zeroed record for shard x: one its users left, or a new
// one. The caller holds the shard's lock.
func (a *userArena) alloc(x *shardUsers) *user {
	if n := len(x.free); n > 0 {
		u := x.free[n-1]
		x.free[n-1] = nil
		x.free = x.free[:n-1]
		return u
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == len(a.chunk) {
		size := min(max(minArenaChunk, a.made/8), maxArenaChunkBytes/userSize)
		a.chunk, a.next, a.made = a.heap.records(size), 0, a.made+size
	}
	u := &a.chunk[a.next]
	a.next++
	return u
}

// release takes back a record that left shard x's index and LRU: nothing
// refers to it any more.
func (x *shardUsers) release(h *tableHeap, u *user) {
	u.free(h)
	x.free = append(x.free, u)
}
