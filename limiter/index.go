package limiter

import (
	"sync/atomic"
	"unsafe"
)

// userIndex finds a shard's users by key. It is the one lookup of a
// heartbeat, so it is built for a table of millions: an open-addressing
// array (linear probing) of slots holding the key's first half beside the
// user's pointer, so that a lookup reads one slot, usually one cache line,
// and then the user record, and nothing else. Go's map, which the LRU keeps
// for its own use, costs three to four dependent misses here (its directory,
// its table, the group's control word and slot, then the LRU's list node);
// the LRU is only touched when a user starts, is promoted (once per
// TTL/bumpDivisor at most), or leaves.
//
// The array grows by doubling at 3/4 full. It lies out of Go's heap, in the
// table's memory (tableHeap), where the collector does not scan it, and,
// once it spans huge pages, starts on one and is advised to be backed by
// them, so that a random lookup seldom misses the TLB: on a VM a TLB miss
// is a two-dimensional page walk. (In Go's heap, which aligns a large array
// to 8 KiB only, half of each index stayed on 4 KiB pages until a pool of
// aligned chunks took them to huge pages.)
type userIndex struct {
	slots []slot
	n     int
	// shift is 64 - log2(len(slots)), and base repeats slots' address, for
	// prefetchHome too, which runs before the shard's lock is taken:
	// atomics, so that it reads them without a race. A pair read across a
	// grow may not match; the prefetch is then wasted, no more.
	shift atomic.Uint32
	base  atomic.Uintptr
	heap  *tableHeap // where the arrays lie
}

// slot is one place of the index; u is nil when it is free.
type slot struct {
	k0 uint64
	u  *user
}

const minIndexSlots = 16

func (x *userIndex) home(k0 uint64) int { return int(k0 >> x.shift.Load()) }

// prefetchHome starts loading the slot where a lookup of k0 begins. In a
// table of millions that slot is a cache miss of some 200 ns; started
// before the caller reads the clock and takes the shard's lock, it arrives
// while they run instead of after. Safe without the lock (see base).
func (x *userIndex) prefetchHome(k0 uint64) {
	if !canPrefetch {
		return
	}
	if p := x.homeAddr(k0); p != 0 {
		prefetch(p)
	}
}

// homeAddr is the address of k0's home slot as base says, 0 before the
// index has slots.
func (x *userIndex) homeAddr(k0 uint64) uintptr {
	b := x.base.Load()
	if b == 0 {
		return 0
	}
	return b + uintptr(x.home(k0))*unsafe.Sizeof(slot{})
}

// get returns the user of key k, or nil.
func (x *userIndex) get(k key) *user {
	if x.n == 0 {
		return nil
	}
	mask := len(x.slots) - 1
	for i := x.home(k[0]); ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.u == nil {
			return nil
		}
		if s.k0 == k[0] && s.u.k1 == k[1] {
			return s.u
		}
	}
}

// put adds u, whose key is k and not in the index yet.
func (x *userIndex) put(k key, u *user) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.place(k[0], u)
	x.n++
}

func (x *userIndex) place(k0 uint64, u *user) {
	mask := len(x.slots) - 1
	i := x.home(k0)
	for x.slots[i].u != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = slot{k0: k0, u: u}
}

func (x *userIndex) grow() {
	old := x.slots
	size := max(2*len(old), minIndexSlots)
	x.slots = x.makeSlots(size)
	x.shift.Store(uint32(64 - log2(size)))
	x.base.Store(uintptr(unsafe.Pointer(unsafe.SliceData(x.slots))))
	for _, s := range old {
		if s.u != nil {
			x.place(s.k0, s.u)
		}
	}
	// A prefetch that read the old base before the store above may still
	// touch it: a prefetch never faults, even once it is unmapped.
	if len(old) > 0 {
		x.heap.dealloc(unsafe.Pointer(unsafe.SliceData(old)), len(old)*slotSize)
	}
}

// remove drops u, whose key's first half is k0, shifting the slots after it
// back (no tombstones, so lookups never slow down with churn).
func (x *userIndex) remove(k0 uint64, u *user) {
	if x.n == 0 {
		return
	}
	mask := len(x.slots) - 1
	i := x.home(k0)
	for x.slots[i].u != u {
		if x.slots[i].u == nil {
			return
		}
		i = (i + 1) & mask
	}
	x.n--
	// Backward shift: move each later slot of the run into the hole unless
	// its home lies cyclically in (hole, j].
	for j := (i + 1) & mask; x.slots[j].u != nil; j = (j + 1) & mask {
		h := x.home(x.slots[j].k0)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = slot{}
}

func log2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// makeSlots allocates an index array of n free slots.
func (x *userIndex) makeSlots(n int) []slot {
	return unsafe.Slice((*slot)(x.heap.alloc(n*slotSize)), n)
}

const slotSize = int(unsafe.Sizeof(slot{}))
