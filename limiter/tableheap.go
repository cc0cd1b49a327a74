package limiter

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// tableHeap holds the memory table, its user records (userArena), session
// arrays, blobs and index arrays, outside Go's heap, in memory it maps
// itself (mapBytes).
//
// The collector paces itself by the heap it can see: GOGC=100 lets the heap
// grow to twice what is live before it collects. The table is most of what
// a gate keeps live, and it lives as long as its users, so in Go's heap it
// doubled its own cost in resident memory and made every cycle mark it:
// under the side-by-side benchmark (10,000 users of three sessions) the
// heap's goal was 19 MB over 9 MB live, three quarters of it the table.
// Out of it, the table costs its size once and the collector never sees it.
//
// What that asks of the code that uses it:
//   - nothing in the table may be the only reference to an object of Go's
//     heap, which the collector would free: a user's tombstones, the one
//     such object, are held here too (hold);
//   - a string cut from a blob must be copied before the shard's lock is
//     let go, since the blob is freed when its user's sessions change
//     (user.list, Memory.evict, the state file and the top users do);
//   - every allocation is given back by its owner (user.add, user.keepOnly,
//     shardUsers.release), as in C: a record that leaves gives back its
//     arrays and blob.
//
// Small allocations come from free lists by size class (16 bytes apart, up
// to maxSmall, 16 KiB), cut from chunks that grow as the arena's do;
// larger ones, as rare as a user of over a hundred sessions or of a dozen
// with long user agents (a session's meta is at most about 900 bytes),
// get a mapping of their own, unmapped when freed. What is freed is
// reused, never given back to the system: as a Go map keeps its buckets,
// the table keeps its peak's memory. Everything is unmapped when the store that owns it is
// collected (NewMemory's cleanup), not at Close, after which the table
// stays readable.
//
// Under the race detector the memory comes from Go's heap, where the
// detector sees it (tableheap_gc.go): kept reachable from here, so that
// the table's pointers into it stay valid all the same.
type tableHeap struct {
	mu sync.Mutex
	// free is each class's first free block; a block's first word links
	// the next. Pointers, not numbers, so that the race detector's pointer
	// checks can follow them in Go's heap.
	free [numClasses]unsafe.Pointer
	// chunk is the newest chunk, cut up to cut of its chunkLen bytes.
	chunk         unsafe.Pointer
	cut, chunkLen int
	chunked       int // bytes in all chunks, which sets the next one's size
	// used counts the bytes handed out and not given back (blocks by
	// their class's size, the arena's chunks whole): what the table holds.
	used int
	// mapped counts the bytes of the mappings in use, free blocks and the
	// chunk's uncut tail included: what the table can keep resident.
	mapped atomic.Int64
	// maps are the mappings by the address handed out, to give them back.
	maps map[uintptr][]byte
	held map[*tombs]struct{}
}

const (
	classStep  = 16
	maxSmall   = 16 << 10
	numClasses = maxSmall / classStep
	minChunk   = 64 << 10
	maxChunk   = 8 * hugePage
)

func newTableHeap() *tableHeap {
	return &tableHeap{maps: map[uintptr][]byte{}, held: map[*tombs]struct{}{}}
}

// alloc returns n zeroed bytes, 16-byte aligned.
func (h *tableHeap) alloc(n int) unsafe.Pointer {
	if n > maxSmall {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.used += n
		return h.mapLocked(n)
	}
	c, size := class(n)
	h.mu.Lock()
	p := h.free[c]
	if p != nil {
		h.free[c] = *(*unsafe.Pointer)(p)
	} else {
		if h.chunkLen-h.cut < size {
			// The chunk's tail, less than a block, is lost: at most
			// 16 KiB of chunks that are 64 KiB and more.
			n := min(max(minChunk, h.chunked/8), maxChunk)
			h.chunk, h.cut, h.chunkLen = h.mapLocked(n), 0, n
			h.chunked += n
		}
		p = unsafe.Add(h.chunk, h.cut)
		h.cut += size
	}
	h.used += size
	h.mu.Unlock()
	clear(unsafe.Slice((*byte)(p), size))
	return p
}

// class is the size class of a small block of n bytes, and its size.
func class(n int) (c, size int) {
	c = (n+classStep-1)/classStep - 1
	return c, (c + 1) * classStep
}

// blockSize is what alloc(n) hands out: n rounded up to its class, or n
// itself for a block of its own mapping.
func blockSize(n int) int {
	if n > maxSmall {
		return n
	}
	_, size := class(n)
	return size
}

// dealloc gives back the n bytes at p, which alloc(n) returned.
func (h *tableHeap) dealloc(p unsafe.Pointer, n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n > maxSmall {
		m, ok := h.maps[uintptr(p)]
		if !ok {
			panic(fmt.Sprintf("limiter: freeing %d bytes at %p, which the table did not map", n, p))
		}
		h.used -= n
		delete(h.maps, uintptr(p))
		unmapBytes(m)
		h.mapped.Add(-int64(n))
		return
	}
	c, size := class(n)
	h.used -= size
	// The link is a pointer write, whose write barrier hands the word it
	// replaces to the collector as a pointer too: that word is the block's
	// data (a session's key, a blob's bytes), which could pass for a
	// pointer into a free span of Go's heap, a fatal error. Zeroed first
	// by a plain write, it is nil.
	*(*uintptr)(p) = 0
	*(*unsafe.Pointer)(p) = h.free[c]
	h.free[c] = p
}

// mapLocked maps n bytes of their own; h.mu is held. A mapping of a huge
// page or more starts on one and is advised onto them (adviseHuge).
func (h *tableHeap) mapLocked(n int) unsafe.Pointer {
	extra := 0
	if n >= hugePage {
		extra = hugePage
	}
	mem, err := mapBytes(n + extra)
	if err != nil {
		// As Go's own allocator does when the system refuses memory.
		panic(fmt.Sprintf("limiter: mapping %d bytes for the session table: %v", n, err))
	}
	h.mapped.Add(int64(n))
	p := unsafe.Pointer(unsafe.SliceData(mem))
	if extra > 0 {
		p = unsafe.Add(p, (uintptr(p)+hugePage-1)&^(hugePage-1)-uintptr(p))
		adviseHuge(p, uintptr(n))
	}
	h.maps[uintptr(p)] = mem
	return p
}

// records returns n zeroed user records in a mapping of their own, which
// userArena hands out and never gives back.
func (h *tableHeap) records(n int) []user {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.used += n * userSize
	return unsafe.Slice((*user)(h.mapLocked(n*userSize)), n)
}

// bytesHeld is what the table holds out of Go's heap.
func (h *tableHeap) bytesHeld() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.used
}

// entries returns a zeroed session array of n.
func (h *tableHeap) entries(n int) []entry {
	return unsafe.Slice((*entry)(h.alloc(n*entrySize)), n)
}

// freeEntries gives back a session array that entries made, whole: its
// capacity, as long as entries made it.
func (h *tableHeap) freeEntries(s []entry) {
	if cap(s) > 0 {
		h.dealloc(unsafe.Pointer(unsafe.SliceData(s)), cap(s)*entrySize)
	}
}

// concat returns a and b joined in the table's memory.
func (h *tableHeap) concat(a, b string) string {
	return h.concatRoom(a, b, 0)
}

// concatRoom returns a and b joined in a block of room bytes of the
// table's memory, or of their length when that is more; freeBlock(s, room)
// gives it back.
func (h *tableHeap) concatRoom(a, b string, room int) string {
	n := len(a) + len(b)
	if n == 0 && room == 0 {
		return ""
	}
	buf := unsafe.Slice((*byte)(h.alloc(max(n, room))), n)
	copy(buf[copy(buf, a):], b)
	return unsafe.String(unsafe.SliceData(buf), n)
}

// freeBlock gives back the block of room bytes that s starts, which
// concat (room: len(s)) or concatRoom made.
func (h *tableHeap) freeBlock(s string, room int) {
	if room > 0 {
		h.dealloc(unsafe.Pointer(unsafe.StringData(s)), room)
	}
}

// hold keeps t, which a record in the table points to, from the collector
// until let.
func (h *tableHeap) hold(t *tombs) {
	h.mu.Lock()
	h.held[t] = struct{}{}
	h.mu.Unlock()
}

// let stops holding t.
func (h *tableHeap) let(t *tombs) {
	h.mu.Lock()
	delete(h.held, t)
	h.mu.Unlock()
}

// release unmaps everything: the store that used h is gone.
func (h *tableHeap) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.maps {
		unmapBytes(m)
	}
	clear(h.maps)
	clear(h.held)
	h.mapped.Store(0)
	h.free, h.chunk, h.cut, h.chunkLen, h.used = [numClasses]unsafe.Pointer{}, nil, 0, 0, 0
}

const entrySize = int(unsafe.Sizeof(entry{}))
