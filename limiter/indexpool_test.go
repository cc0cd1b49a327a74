package limiter

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIndexPoolAlignsArraysToHugePages checks what the pool is for: every
// array it hands out starts on a huge page, is zeroed, has no room past its
// end and shares no slot with another, and a chunk leaves the pool once
// all its arrays are out.
func TestIndexPoolAlignsArraysToHugePages(t *testing.T) {
	n := hugePage / int(unsafe.Sizeof(slot{}))
	require.True(t, pooled(n))
	require.False(t, pooled(n/2), "below a huge page: an allocation of its own")
	p := &indexPool{perChunk: 3}
	type span struct{ beg, end uintptr }
	var got []span
	for i := range 4 {
		s := p.get(n)
		beg := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
		assert.Zero(t, beg%hugePage, "array %d starts on a huge page", i)
		assert.Equal(t, n, len(s))
		assert.Equal(t, n, cap(s), "no room past its end: a neighbour's slots")
		for _, sl := range s {
			require.Equal(t, slot{}, sl)
		}
		for j, o := range got {
			assert.True(t, beg >= o.end || beg+uintptr(n)*unsafe.Sizeof(slot{}) <= o.beg, "arrays %d and %d overlap", i, j)
		}
		got = append(got, span{beg, beg + uintptr(n)*unsafe.Sizeof(slot{})})
		s[n-1] = slot{k0: 1} // written through, as an index writes it
		if i == 2 {
			assert.Empty(t, p.chunks, "all three arrays out: the pool lets the chunk go")
		}
	}
	assert.Len(t, p.chunks, 1, "a fourth array takes a new chunk")
}

// TestUserIndexGrowsIntoThePool grows an index past a huge page: its array
// then comes from the pool, starts on a huge page, and every key is still
// found.
func TestUserIndexGrowsIntoThePool(t *testing.T) {
	x := userIndex{pool: &indexPool{perChunk: 2}}
	users := map[key]*user{}
	for i := 0; !pooled(len(x.slots)); i++ {
		k := key{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}
		u := &user{k1: k[1]}
		x.put(k, u)
		users[k] = u
	}
	assert.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(x.slots)))%hugePage)
	for k, u := range users {
		require.Same(t, u, x.get(k))
	}
	require.Equal(t, uintptr(unsafe.Pointer(&x.slots[x.home(7)])), x.homeAddr(7))
}
