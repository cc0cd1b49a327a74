package limiter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUserSlabReusesRecordsAndGrowsByChunks(t *testing.T) {
	var s userSlab
	seen := map[*user]bool{}
	var got []*user
	for range minSlabChunk + 1 { // one more than the first chunk
		u := s.alloc()
		require.False(t, seen[u], "a record is handed out once")
		seen[u] = true
		got = append(got, u)
	}
	assert.Len(t, s.chunk, minSlabChunk, "a chunk adds a quarter of what there is, at least minSlabChunk")
	assert.Equal(t, 2*minSlabChunk, s.made)

	got[3].blob, got[3].bumped = newBlob("gone"), 7
	s.release(got[3])
	again := s.alloc()
	assert.Same(t, got[3], again, "a record given back is the next handed out")
	assert.Equal(t, user{}, *again, "zeroed: it pins nothing of the user that left")

	for len(s.chunk) < maxSlabChunkBytes/userSize {
		s.next = len(s.chunk)
		s.alloc()
	}
	s.next = len(s.chunk)
	s.alloc()
	assert.Len(t, s.chunk, maxSlabChunkBytes/userSize, "chunks stop growing at maxSlabChunkBytes")
}

// TestMemoryRecordsAreReusedAcrossChurn: users that come and go, a full
// table's worth many times over, reuse the records of those that left
// rather than growing the slabs.
func TestMemoryRecordsAreReusedAcrossChurn(t *testing.T) {
	clock := &manualClock{now: time.Unix(1_700_000_000, 0)}
	const maxUsers = 2_000
	m, err := NewMemory(MemoryOptions{TTL: time.Second, MaxUsers: maxUsers, SweepInterval: -1, Clock: clock.Now})
	require.NoError(t, err)
	defer m.Close()
	ctx := context.Background()
	// records says how many records the slabs made and how many are in use.
	records := func() (made, inUse int) {
		for i := range m.table.Len() {
			sh := m.table.At(i)
			sh.Lock()
			s := &sh.Extra.slab
			made += s.made
			inUse += s.made - (len(s.chunk) - s.next) - len(s.free)
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
