package limiter

import (
	"bytes"
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testHeap is a tableHeap given back when the test ends.
func testHeap(t testing.TB) *tableHeap {
	h := newTableHeap()
	t.Cleanup(h.release)
	return h
}

// TestTableHeapReusesBlocksByClass: a block given back is the next of its
// size class, handed out zeroed; sizes in other classes do not take it; a
// large block has a mapping of its own, unmapped when given back; and what
// the table holds counts each block by its class's size.
func TestTableHeapReusesBlocksByClass(t *testing.T) {
	h := testHeap(t)
	a := h.alloc(100) // class of 112 bytes
	b := h.alloc(112)
	require.NotEqual(t, a, b)
	assert.Equal(t, 224, h.bytesHeld())
	assert.Zero(t, uintptr(a)%classStep, "blocks are 16-byte aligned")
	copy(unsafe.Slice((*byte)(a), 100), bytes.Repeat([]byte{0xff}, 100))

	h.dealloc(a, 100)
	assert.Equal(t, 112, h.bytesHeld())
	other := h.alloc(128) // the next class up
	assert.NotEqual(t, a, other, "another class does not take the block")
	again := h.alloc(105)
	assert.Equal(t, a, again, "a block given back is its class's next")
	assert.Equal(t, make([]byte, 112), unsafe.Slice((*byte)(again), 112), "and is handed out zeroed")

	big := h.alloc(maxSmall + 1)
	h.mu.Lock()
	_, mapped := h.maps[uintptr(big)]
	h.mu.Unlock()
	assert.True(t, mapped, "a large block has a mapping of its own")
	h.dealloc(big, maxSmall+1)
	h.mu.Lock()
	_, mapped = h.maps[uintptr(big)]
	h.mu.Unlock()
	assert.False(t, mapped, "and gives it back when freed")
	assert.Panics(t, func() { h.dealloc(big, maxSmall+1) }, "a large block freed twice is caught, not unmapped twice")
}

// TestTableHeapChunksGrow: small blocks are cut from chunks, each an eighth
// of what the chunks hold (minChunk at least), so that a large table takes
// few mappings; every block lies in one chunk, none across two.
func TestTableHeapChunksGrow(t *testing.T) {
	h := testHeap(t)
	const size = 4096
	seen := map[uintptr]bool{}
	for range 2_000 { // 8 MB of blocks
		p := uintptr(h.alloc(size))
		require.False(t, seen[p])
		seen[p] = true
	}
	h.mu.Lock()
	maps, chunked := len(h.maps), h.chunked
	h.mu.Unlock()
	assert.GreaterOrEqual(t, chunked, 2_000*size)
	assert.Less(t, maps, 40, "chunks grow with the table: 8 MB in few mappings")
	assert.Equal(t, 2_000*size, h.bytesHeld())
}

// TestTableSurvivesTheCollector: the table's records, sessions, blobs and
// tombstones lie out of Go's heap, where the collector does not look. A
// store churned between collections, with sessions starting, ending by
// operator (a tombstone each) and expiring, still answers every question
// from what it was told: no memory it holds was freed or reused under it.
func TestTableSurvivesTheCollector(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	m, err := NewMemory(MemoryOptions{TTL: time.Minute, MaxUsers: 10_000, SweepInterval: -1, Clock: clock.Now,
		Rules: Rules{TombstoneTTL: time.Hour}})
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	const users = 500
	dev := func(u, s int) Device {
		return Device{UserAgent: "Player/" + strconv.Itoa(u) + "." + strconv.Itoa(s), Address: "192.0.2." + strconv.Itoa(s)}
	}
	for round := range 4 {
		for u := range users {
			uid := "user-" + strconv.Itoa(u)
			for s := range 3 {
				sid := "r" + strconv.Itoa(round) + "-s" + strconv.Itoa(s)
				d, err := m.Admit(ctx, Request{UserID: uid, SessionID: sid, Limit: 3, Device: dev(u, s)})
				require.NoError(t, err)
				require.Equal(t, Started, d.Result, "%s %s", uid, sid)
			}
			// The operator ends the second: a tombstone, held for an hour.
			ok, err := m.End(ctx, uid, "r"+strconv.Itoa(round)+"-s1", EndedByOperator)
			require.NoError(t, err)
			require.True(t, ok)
		}
		runtime.GC()
		runtime.GC()
		for u := range users {
			uid := "user-" + strconv.Itoa(u)
			list, err := m.List(ctx, uid)
			require.NoError(t, err)
			require.Len(t, list, 2, uid)
			assert.Equal(t, "r"+strconv.Itoa(round)+"-s0", list[0].ID)
			assert.Equal(t, dev(u, 0), list[0].Device)
			assert.Equal(t, "r"+strconv.Itoa(round)+"-s2", list[1].ID)
			assert.Equal(t, dev(u, 2), list[1].Device)
			d, err := m.Admit(ctx, Request{UserID: uid, SessionID: "r" + strconv.Itoa(round) + "-s1", Limit: 3})
			require.NoError(t, err)
			require.Equal(t, Ended, d.Result, "%s: the tombstone outlived two collections", uid)
			require.Equal(t, EndedByOperator, d.EndReason)
		}
		clock.Advance(2 * time.Minute) // this round's sessions expire; the next round's start
	}
	assert.Equal(t, users, int(m.users.Load()), "the tombstones keep every user")
}

// TestTableStringsOutliveTheirBlobs: what the store returns is copied out
// of the table, whose blobs are freed and reused as sessions change: ids
// and devices it gave out (List, a rejection's sessions, the top users, the
// state file) stay what they were after the table moved on.
func TestTableStringsOutliveTheirBlobs(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	m, err := NewMemory(MemoryOptions{TTL: time.Minute, MaxUsers: 100, SweepInterval: -1, Clock: clock.Now})
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	for s := range 3 {
		_, err := m.Admit(ctx, Request{UserID: "alice", SessionID: "old-" + strconv.Itoa(s), Limit: 3,
			Device: Device{UserAgent: "TV " + strconv.Itoa(s)}})
		require.NoError(t, err)
	}
	listed, err := m.List(ctx, "alice")
	require.NoError(t, err)
	refused, err := m.Admit(ctx, Request{UserID: "alice", SessionID: "fourth", Limit: 3})
	require.NoError(t, err)
	require.Equal(t, Rejected, refused.Result)
	top := m.TopUsers(1)
	var state bytes.Buffer
	_, err = m.WriteState(&state)
	require.NoError(t, err)
	before := state.String()

	// The table moves on: every session ends, new ones with ids as long
	// take the freed blocks.
	_, err = m.EndAll(ctx, "alice", EndedByPlayer)
	require.NoError(t, err)
	for s := range 3 {
		_, err := m.Admit(ctx, Request{UserID: "alice", SessionID: "NEW-" + strconv.Itoa(s), Limit: 3,
			Device: Device{UserAgent: "XX " + strconv.Itoa(s)}})
		require.NoError(t, err)
	}
	_, err = m.EndAll(ctx, "alice", EndedByPlayer)
	require.NoError(t, err)
	_, err = m.Admit(ctx, Request{UserID: "zzzzz", SessionID: "XXXXX", Limit: 3})
	require.NoError(t, err)

	for s, sess := range listed {
		assert.Equal(t, "old-"+strconv.Itoa(s), sess.ID)
		assert.Equal(t, "TV "+strconv.Itoa(s), sess.Device.UserAgent)
	}
	for s, sess := range refused.Sessions {
		assert.Equal(t, "old-"+strconv.Itoa(s), sess.ID)
	}
	require.Len(t, top, 1)
	assert.Equal(t, "alice", top[0].UserID)
	assert.Equal(t, before, state.String())
	assert.True(t, strings.Contains(before, `"old-2"`), before)
}

// TestTableLeavesGoHeap: a user of three sessions costs Go's heap its LRU
// entry and little else; the rest lies in the table's memory, which the
// collector neither scans nor counts (it held ~700 bytes a user in Go's
// heap when the table lay there). Under the race detector the table lies
// in Go's heap (tableheap_gc.go), and only what it holds is checked.
func TestTableLeavesGoHeap(t *testing.T) {
	const users = 20_000
	uids := make([]string, 0, 3*users)
	for i := range users {
		uids = append(uids, "user-"+strconv.Itoa(i))
	}
	for range 2 {
		uids = append(uids, uids[:users]...)
	}
	m, h := filledMemory(t, uids, func(i int) string { return "session-" + strconv.Itoa(i) })
	defer m.Close()
	if !tableInGoHeap {
		assert.Less(t, h.goHeap/users, 150.0, "Go heap per user")
	}
	assert.Greater(t, h.table/users, 500.0, "the table's memory per user: a record, three sessions, a blob, a slot")
}

// TestTableMemoryGoesWithItsStore: the table's memory is given back once
// its store is collected (Close leaves it readable, so not at Close).
func TestTableMemoryGoesWithItsStore(t *testing.T) {
	h := func() *tableHeap {
		m, err := NewMemory(MemoryOptions{TTL: time.Minute, SweepInterval: -1})
		require.NoError(t, err)
		for i := range 100 {
			_, err := m.Admit(context.Background(), Request{UserID: "u" + strconv.Itoa(i), SessionID: "s", Limit: 3})
			require.NoError(t, err)
		}
		require.NoError(t, m.Close())
		require.Positive(t, m.heap.bytesHeld())
		return m.heap
	}()
	require.Eventually(t, func() bool {
		runtime.GC()
		return h.bytesHeld() == 0
	}, 10*time.Second, 10*time.Millisecond, "the cleanup gave the table's memory back")
	h.mu.Lock()
	defer h.mu.Unlock()
	assert.Empty(t, h.maps, "nothing stays mapped")
}

// TestTableHeapBlocksNeverOverlap allocates and frees blocks of random
// sizes, small and large, each filled with its own byte: every live block
// keeps its bytes until it is freed, whatever was handed out and given
// back around it, and what the table holds is the sum of its blocks.
func TestTableHeapBlocksNeverOverlap(t *testing.T) {
	h := testHeap(t)
	rng := rand.New(rand.NewPCG(5, 6))
	type block struct {
		p    unsafe.Pointer
		n    int
		fill byte
	}
	var live []block
	class := func(n int) int {
		if n > maxSmall {
			return n
		}
		return (n + classStep - 1) / classStep * classStep
	}
	check := func(b block) {
		for i, c := range unsafe.Slice((*byte)(b.p), b.n) {
			if c != b.fill {
				t.Fatalf("block of %d bytes at %p: byte %d is %#x, not %#x", b.n, b.p, i, c, b.fill)
			}
		}
	}
	held := 0
	for op := range 20_000 {
		if len(live) > 0 && rng.IntN(5) < 2 {
			i := rng.IntN(len(live))
			b := live[i]
			check(b)
			h.dealloc(b.p, b.n)
			held -= class(b.n)
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			continue
		}
		n := 1 + rng.IntN(600)
		if rng.IntN(50) == 0 {
			n = maxSmall - 100 + rng.IntN(200) // around the largest class, and past it
		}
		b := block{p: h.alloc(n), n: n, fill: byte(op)}
		buf := unsafe.Slice((*byte)(b.p), n)
		require.Equal(t, make([]byte, n), buf, "handed out zeroed")
		for i := range buf {
			buf[i] = b.fill
		}
		held += class(n)
		live = append(live, b)
	}
	for _, b := range live {
		check(b)
	}
	assert.Equal(t, held, h.bytesHeld())
}
