package limiter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserArenaReusesRecordsAndGrowsByChunks(t *testing.T) {
	h := testHeap(t)
	a := userArena{heap: h}
	var x shardUsers
	seen := map[*user]bool{}
	var got []*user
	for range minArenaChunk + 1 { // one more than the first chunk
		u := a.alloc(&x)
		require.False(t, seen[u], "a record is handed out once")
		seen[u] = true
		got = append(got, u)
	}
	assert.Len(t, a.chunk, minArenaChunk, "a chunk adds an eighth of what there is, at least minArenaChunk")
	assert.Equal(t, 2*minArenaChunk, a.made)

	got[3].setBlob(newBlob(h, "gone"))
	got[3].bumped = 7
	x.release(h, got[3])
	again := a.alloc(&x)
	assert.Same(t, got[3], again, "a record given back is the shard's next")
	assert.Equal(t, user{}, *again, "zeroed: it pins nothing of the user that left")
	var other shardUsers
	x.release(h, got[4])
	assert.NotSame(t, got[4], a.alloc(&other), "a record given back stays with its shard")

	for len(a.chunk) < maxArenaChunkBytes/userSize {
		a.next = len(a.chunk)
		a.alloc(&other)
	}
	a.next = len(a.chunk)
	a.alloc(&other)
	assert.Len(t, a.chunk, maxArenaChunkBytes/userSize, "chunks stop growing at maxArenaChunkBytes")
}

// TestMemoryRecordsAreReusedAcrossChurn: users that come and go, a full
// table's worth many times over, reuse the records of those that left
// rather than growing the arena.
func TestMemoryRecordsAreReusedAcrossChurn(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	const maxUsers = 2_000
	m, err := NewMemory(MemoryOptions{TTL: time.Second, MaxUsers: maxUsers, SweepInterval: -1, Clock: clock.Now})
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	// records says how many records the arena made and how many are in use.
	records := func() (made, inUse int) {
		m.arena.mu.Lock()
		made = m.arena.made
		inUse = made - (len(m.arena.chunk) - m.arena.next)
		m.arena.mu.Unlock()
		for i := range m.table.Len() {
			sh := m.table.At(i)
			sh.Lock()
			inUse -= len(sh.Extra.free)
			sh.Unlock()
		}
		return made, inUse
	}
	var madeAfterTwo int
	for round := range 10 {
		for i := range maxUsers {
			d, err := m.Admit(ctx, Request{UserID: "u" + strconv.Itoa(round*maxUsers+i), SessionID: "s", Limit: 3})
			require.NoError(t, err)
			require.Equal(t, Started, d.Result)
		}
		clock.Advance(2 * time.Second) // every one expires; the next round evicts them
		if round == 1 {
			madeAfterTwo, _ = records()
		}
	}
	made, inUse := records()
	assert.LessOrEqual(t, m.Stats().TrackedUsers, maxUsers)
	assert.Equal(t, m.Stats().TrackedUsers, inUse, "every record in use is a tracked user's")
	assert.Equal(t, madeAfterTwo, made, "eight more rounds of newcomers reused the records of those who left")
}
