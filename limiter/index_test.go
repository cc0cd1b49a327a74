package limiter

import (
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUserIndexAgainstMap puts and removes users at random and checks every
// key against a map after each step. Keys share few home slots (the top bits
// of k0 take a handful of values), so runs are long, wrap around the array's
// end and are shifted back on every removal.
func TestUserIndexAgainstMap(t *testing.T) {
	tests := []struct {
		name  string
		homes uint64 // distinct values of k0's top bits
		ops   int
	}{
		{name: "spread", homes: 1 << 20, ops: 20_000},
		{name: "crowded", homes: 4, ops: 5_000},
		{name: "same k0 different k1", homes: 1, ops: 2_000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := userIndex{heap: testHeap(t)}
			model := map[key]*user{}
			keys := map[*user]key{}
			var live []*user
			for op := range tc.ops {
				// Every key is checked after each removal (the backward shift
				// moves other keys) and each grow (the rehash moves them all):
				// a put elsewhere only fills a free slot.
				moved, size := false, len(x.slots)
				if len(live) > 0 && rng.IntN(3) == 0 {
					moved = true
					i := rng.IntN(len(live))
					u := live[i]
					live[i] = live[len(live)-1]
					live = live[:len(live)-1]
					x.remove(keys[u][0], u)
					delete(model, keys[u])
				} else {
					k := key{rng.Uint64N(tc.homes) << 44, uint64(op)}
					if tc.homes == 1 {
						k[0] = 7
					}
					u := &user{k1: k[1]}
					x.put(k, u)
					require.Same(t, u, x.get(k), "op %d: the key just put", op)
					model[k] = u
					keys[u] = k
					live = append(live, u)
				}
				require.Equal(t, len(model), x.n)
				if op%97 == 0 || tc.homes < 8 && (moved || len(x.slots) != size) {
					for k, u := range model {
						if got := x.get(k); got != u { // not require.Same: this loop runs millions of times
							t.Fatalf("op %d: key %v finds %p, want %p", op, k, got, u)
						}
					}
					require.Nil(t, x.get(key{3 << 44, ^uint64(0)}))
				}
			}
			for _, u := range live {
				x.remove(keys[u][0], u)
				require.Nil(t, x.get(keys[u]))
			}
			require.Zero(t, x.n)
			for _, s := range x.slots {
				require.Nil(t, s.u)
			}
		})
	}
}

// TestUserIndexPrefetchAimsAtTheHomeSlot checks that the lock-free copy of
// the array's address and shift, which the prefetch before the shard's
// lock reads, follows every grow: a prefetch of the wrong line would cost
// the miss it is there to hide.
func TestUserIndexPrefetchAimsAtTheHomeSlot(t *testing.T) {
	x := userIndex{heap: testHeap(t)}
	require.Zero(t, x.homeAddr(42), "no slots yet: nothing to aim at")
	x.prefetchHome(42) // and no fault
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 5_000 {
		k := key{rng.Uint64(), uint64(i)}
		x.put(k, &user{k1: k[1]})
		probe := rng.Uint64()
		require.Equal(t, uintptr(unsafe.Pointer(&x.slots[x.home(probe)])), x.homeAddr(probe), "after %d puts, %d slots", i+1, len(x.slots))
		x.prefetchHome(probe)
	}
}

// TestUserIndexGrowsOntoHugePages grows an index past a huge page: its
// array then starts on one, and every key is still found. The users stay
// in Go's heap here, held by the test, as the index does not hold them.
func TestUserIndexGrowsOntoHugePages(t *testing.T) {
	x := userIndex{heap: testHeap(t)}
	users := map[key]*user{}
	for i := 0; len(x.slots)*slotSize < hugePage; i++ {
		k := key{uint64(i) * 0x9e3779b97f4a7c15, uint64(i)}
		u := &user{k1: k[1]}
		x.put(k, u)
		users[k] = u
	}
	assert.Zero(t, uintptr(unsafe.Pointer(unsafe.SliceData(x.slots)))%hugePage, "the array starts on a huge page")
	for k, u := range users {
		require.Same(t, u, x.get(k))
	}
	require.Equal(t, uintptr(unsafe.Pointer(&x.slots[x.home(7)])), x.homeAddr(7))
}
