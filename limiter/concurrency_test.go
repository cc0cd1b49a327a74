package limiter_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// TestMemoryConcurrentUsers races many goroutines over many users at once,
// on a sharded table, with the sweep, listings and ends running alongside:
// every user gets exactly its limit, round after round. Run it with -race.
func TestMemoryConcurrentUsers(t *testing.T) {
	t.Parallel()
	const (
		rounds   = 20
		users    = 64
		sessions = 8 // distinct new sessions per user per round
		limit    = 3
	)
	clock := newFakeClock()
	m, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Hour, MaxUsers: 100_000, Clock: clock.Now, SweepInterval: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	ctx := context.Background()

	for round := range rounds {
		userID := func(u int) string { return fmt.Sprintf("r%d-u%d", round, u) }
		var (
			start    = make(chan struct{})
			wg       sync.WaitGroup
			admitted [users]atomic.Int32
			winners  [users][sessions]atomic.Bool
		)
		for u := range users {
			for s := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					d, err := m.Admit(ctx, limiter.Request{UserID: userID(u), SessionID: fmt.Sprintf("s%d", s), Limit: limit})
					if assert.NoError(t, err) && d.Admitted() {
						admitted[u].Add(1)
						winners[u][s].Store(true)
						assert.LessOrEqual(t, d.Active, limit)
					}
				}()
			}
		}
		// Readers and the sweep take the same locks meanwhile; none may change a decision.
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			for u := range users {
				_, err := m.List(ctx, userID(u))
				assert.NoError(t, err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			m.Sweep()
			_ = m.Stats()
		}()
		close(start)
		wg.Wait()

		for u := range users {
			require.Equal(t, int32(limit), admitted[u].Load(), "round %d user %d", round, u)
		}

		// The winners' heartbeats, all at once, are all refreshes; the losers stay out.
		start = make(chan struct{})
		var refreshed, rejected atomic.Int32
		for u := range users {
			for s := range sessions {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					d, err := m.Admit(ctx, limiter.Request{UserID: userID(u), SessionID: fmt.Sprintf("s%d", s), Limit: limit})
					if !assert.NoError(t, err) {
						return
					}
					switch {
					case d.Result == limiter.Refreshed && winners[u][s].Load():
						refreshed.Add(1)
					case d.Result == limiter.Rejected && !winners[u][s].Load():
						rejected.Add(1)
					}
				}()
			}
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(users*limit), refreshed.Load(), "round %d", round)
		require.Equal(t, int32(users*(sessions-limit)), rejected.Load(), "round %d", round)
		clock.Advance(time.Minute)
	}
	assert.Equal(t, limiter.Stats{TrackedUsers: rounds * users, ActiveSessions: rounds * users * limit}, m.Stats())
}

// TestMemoryConcurrentEndAndAdmit races ends against new sessions of one
// user: a slot freed by End is taken by at most one newcomer, never more.
func TestMemoryConcurrentEndAndAdmit(t *testing.T) {
	t.Parallel()
	const rounds, callers, limit = 50, 12, 3
	m, _ := newSmallMemory(t, 1000)
	ctx := context.Background()
	for round := range rounds {
		u := fmt.Sprintf("user-%d", round)
		for i := range limit {
			mustAdmit(t, m, u, fmt.Sprintf("held-%d", i), limit)
		}
		var (
			start    = make(chan struct{})
			wg       sync.WaitGroup
			admitted atomic.Int32
		)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ended, err := m.End(ctx, u, "held-0", limiter.EndedByPlayer)
			assert.NoError(t, err)
			assert.True(t, ended)
		}()
		for i := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				d, err := m.Admit(ctx, limiter.Request{UserID: u, SessionID: fmt.Sprintf("new-%d", i), Limit: limit})
				if assert.NoError(t, err) && d.Admitted() {
					admitted.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		require.LessOrEqual(t, admitted.Load(), int32(1), "round %d", round)
		require.LessOrEqual(t, len(sessionIDs(t, m, u)), limit, "round %d", round)
	}
}
