package limiter_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

func newRulesMemory(t *testing.T, clock *fakeClock, rules limiter.Rules) *limiter.Memory {
	t.Helper()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: stateTTL, MaxUsers: 1000, Clock: clock.Now, SweepInterval: -1, Rules: rules})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMemorySweepKeepsLeasesAndTombstones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	m := newRulesMemory(t, clock, limiter.Rules{MaxLease: 10 * stateTTL, TombstoneTTL: 4 * stateTTL})
	// Oldest first in the table: a buffered player, a kicked user, then
	// users who simply went away.
	_, err := m.Admit(ctx, limiter.Request{UserID: "buffered", SessionID: "s1", Limit: 1, Media: 2 * stateTTL})
	require.NoError(t, err)
	mustAdmit(t, m, "kicked", "s1", 1)
	_, err = m.End(ctx, "kicked", "s1", limiter.EndedByOperator)
	require.NoError(t, err)
	mustAdmit(t, m, "gone-1", "s1", 1)
	mustAdmit(t, m, "gone-2", "s1", 1)

	clock.Advance(stateTTL + time.Second)
	assert.Equal(t, 2, m.Sweep(), "the users behind a held one are swept too")
	assert.Equal(t, 2, m.Stats().TrackedUsers)
	assert.Equal(t, []string{"s1"}, sessionIDs(t, m, "buffered"), "its media lasts two TTLs")
	d, err := m.Admit(ctx, limiter.Request{UserID: "kicked", SessionID: "s1", Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, limiter.Ended, d.Result)

	clock.Advance(2 * stateTTL)
	assert.Equal(t, 1, m.Sweep(), "the media ran out")
	clock.Advance(stateTTL)
	assert.Equal(t, 1, m.Sweep(), "the tombstone expired")
	assert.Equal(t, limiter.Stats{}, m.Stats())
}

func TestStateFileKeepsMediaAndTombstones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	rules := limiter.Rules{MaxLease: 10 * stateTTL}
	saved := newRulesMemory(t, clock, rules)
	_, err := saved.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, NoMedia: true, SegmentHint: 6 * time.Second})
	require.NoError(t, err)
	_, err = saved.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, Media: 2 * stateTTL, Track: limiter.TrackVideo,
		Network: limiter.NetworkOf(netip.MustParseAddr("192.0.2.1"))})
	require.NoError(t, err)
	_, err = saved.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, NoMedia: true,
		Network: limiter.NetworkOf(netip.MustParseAddr("2001:db8::1"))})
	require.NoError(t, err)
	mustAdmit(t, saved, "alice", "kicked", 3)
	_, err = saved.End(ctx, "alice", "kicked", limiter.EndedByOperator)
	require.NoError(t, err)
	before := list(t, saved, "alice")

	path := filepath.Join(t.TempDir(), "state.jsonl")
	n, err := saved.SaveStateFile(path)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	clock.Advance(stateTTL + time.Second) // past the TTL, within the media
	restored := newRulesMemory(t, clock, rules)
	n, err = restored.LoadStateFile(path)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, before, list(t, restored, "alice"), "bufferedUntil, expiry and networks survive")
	require.Len(t, before, 1)
	assert.Equal(t, 2, before[0].Networks)
	d, err := restored.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "kicked", Limit: 3})
	require.NoError(t, err)
	assert.Equal(t, limiter.Ended, d.Result, "the tombstone survives")
	_, err = restored.Admit(ctx, limiter.Request{UserID: "alice", SessionID: "tv", Limit: 3, Track: limiter.TrackVideo})
	require.NoError(t, err)
	after := list(t, restored, "alice")
	require.Len(t, after, 1)
	assert.Equal(t, before[0].BufferedUntil.Add(6*time.Second), after[0].BufferedUntil, "the segment hint survives")
}
