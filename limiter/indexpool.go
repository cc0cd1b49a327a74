package limiter

import (
	"sync"
	"unsafe"
)

// indexPool hands out the shards' index arrays once they span huge pages,
// each starting on a huge page. Go aligns a large array to 8 KiB only, so
// a 4 MiB index of its own holds one whole huge page, and its other half
// lies in two it shares with its neighbours, on huge pages only if nothing
// touched them before the advice (adviseHuge); on 4 KiB pages a lookup at
// scale also misses the TLB (a page walk, of a VM's two dimensions). When
// the advice covered whole pages only, half of each index stayed on 4 KiB
// pages, and this pool took it to all. One allocation per array
// with 2 MiB to spare would align each, at 13 heap bytes per session of a
// 10M table; here up to indexArraysPerChunk arrays of one size share a
// chunk and its 2 MiB to spare.
//
// The shards of a table grow through the same sizes at nearly the same
// table size (the hash spreads users evenly), so the arrays of one size are
// asked for together. The pool keeps a chunk only while it has arrays to
// hand out; after that the shards' arrays alone keep it, and the collector
// frees it once every shard has grown past it.
type indexPool struct {
	mu sync.Mutex
	// perChunk is how many arrays a chunk holds: indexArraysPerChunk, or
	// the table's shards when it has fewer.
	perChunk int
	chunks   map[int]*indexChunk // by slots per array
}

type indexChunk struct {
	arrays [][]slot // not yet handed out, each on a huge page
}

// indexArraysPerChunk bounds what a chunk holds back for shards that have
// not grown yet (a table that stays where some shards have grown holds up
// to that many arrays unused), and sets the share of its spare 2 MiB.
const indexArraysPerChunk = 16

// pooled says whether arrays of n slots come from the pool: whole huge
// pages, which every power of two from one huge page up is.
func pooled(n int) bool {
	size := uintptr(n) * unsafe.Sizeof(slot{})
	return size >= hugePage && size%hugePage == 0
}

// get returns a zeroed array of n slots starting on a huge page, n pooled.
func (p *indexPool) get(n int) []slot {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.chunks[n]
	if c == nil {
		c = newIndexChunk(n, max(p.perChunk, 1))
		if p.chunks == nil {
			p.chunks = map[int]*indexChunk{}
		}
		p.chunks[n] = c
	}
	s := c.arrays[len(c.arrays)-1]
	c.arrays = c.arrays[:len(c.arrays)-1]
	if len(c.arrays) == 0 {
		delete(p.chunks, n) // the arrays handed out keep the chunk from now on
	}
	return s
}

func newIndexChunk(n, arrays int) *indexChunk {
	const spare = hugePage / int(unsafe.Sizeof(slot{}))
	all := make([]slot, arrays*n+spare)
	base := uintptr(unsafe.Pointer(unsafe.SliceData(all)))
	off := int(((base+hugePage-1)&^(hugePage-1) - base) / unsafe.Sizeof(slot{}))
	all = all[off : off+arrays*n]
	adviseHuge(unsafe.Pointer(unsafe.SliceData(all)), uintptr(len(all))*unsafe.Sizeof(slot{}))
	c := &indexChunk{arrays: make([][]slot, arrays)}
	for i := range c.arrays {
		// The last handed out first: arrays go out in address order.
		j := arrays - 1 - i
		c.arrays[i] = all[j*n : (j+1)*n : (j+1)*n]
	}
	return c
}
