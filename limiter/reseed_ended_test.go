package limiter_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisReseedKeepsEndsFromOtherReplicas: replica A admitted a
// household's three sessions; through replica B one of them was replaced
// (evict-oldest) or ended by the operator. A has not heard of it when Redis
// loses its data, and writes all three back playing. B's word must win: the
// ended session stays ended, and the household holds three sessions, not
// four.
func TestRedisReseedKeepsEndsFromOtherReplicas(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"replaced", "ended by the operator", "all ended by the operator"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			const ttl = time.Minute
			rules := limiter.Rules{OnLimit: limiter.EvictOldest}
			srv := redistest.Start(t)
			ra, a := guardedReplica(t, srv.URL(), ttl, limiter.FailOpen, rules)
			rb, b := guardedReplica(t, srv.URL(), ttl, limiter.FailOpen, rules)
			ctx := context.Background()
			req := func(session string) limiter.Request {
				return limiter.Request{UserID: "u", SessionID: session, Limit: 3}
			}
			for p := range 3 {
				d, err := a.Admit(ctx, req(fmt.Sprint("play", p)))
				require.NoError(t, err)
				require.Equal(t, limiter.Started, d.Result)
			}
			want := []string{"play1", "play2"}
			if how == "replaced" {
				d, err := b.Admit(ctx, req("new"))
				require.NoError(t, err)
				require.Equal(t, "play0", d.Evicted)
				want = append(want, "new")
			} else if how == "ended by the operator" {
				ended, err := b.End(ctx, "u", "play0", limiter.EndedByOperator)
				require.NoError(t, err)
				require.True(t, ended)
			} else {
				n, err := b.EndAll(ctx, "u", limiter.EndedByOperator)
				require.NoError(t, err)
				require.Equal(t, 3, n)
				// A starts another, so that its re-seed writes the user in one
				// script whether or not it knows of the ends.
				d, err := a.Admit(ctx, req("again"))
				require.NoError(t, err)
				require.Equal(t, limiter.Started, d.Result)
				want = []string{"again"}
			}
			// Every start known good, so that only the ends are at stake.
			require.Eventually(t, func() bool { return limiter.WindowStarts(ra)+limiter.WindowStarts(rb) == 0 },
				5*time.Second, 10*time.Millisecond, "a marker check passes")

			slices.Sort(want)
			_, err := srv.Do("FLUSHALL")
			require.NoError(t, err)
			awaitReseed(t, ra, rb, "u", want)

			d, err := a.Admit(ctx, req("play0"))
			require.NoError(t, err)
			assert.Equal(t, limiter.Ended, d.Result, "play0 stays ended through A")
		})
	}
}

// TestGuardForgetsAnEndTheStoreForgot: a session ended through replica A
// is asked for again and again through replica B, which keeps the end
// (Redis answers Ended). Once Redis's tombstone has run out, Redis admits
// it again, and B's table must hold it playing, not ended: it is what B
// re-seeds an empty Redis with, and what its local policy decides by.
func TestGuardForgetsAnEndTheStoreForgot(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	rules := limiter.Rules{TombstoneTTL: time.Second}
	srv := redistest.Start(t)
	_, a := guardedReplica(t, srv.URL(), ttl, limiter.FailLocal, rules)
	_, b := guardedReplica(t, srv.URL(), ttl, limiter.FailLocal, rules)
	ctx := context.Background()
	req := limiter.Request{UserID: "u", SessionID: "s", Limit: 3}
	d, err := a.Admit(ctx, req)
	require.NoError(t, err)
	require.Equal(t, limiter.Started, d.Result)
	ended, err := a.End(ctx, "u", "s", limiter.EndedByOperator)
	require.NoError(t, err)
	require.True(t, ended)

	var answers []limiter.Result
	require.Eventually(t, func() bool {
		d, err = b.Admit(ctx, req)
		require.NoError(t, err)
		answers = append(answers, d.Result)
		return d.Admitted()
	}, 10*time.Second, 50*time.Millisecond, "Redis admits the session once its tombstone ran out")
	assert.Equal(t, limiter.Ended, answers[0], "ended at first")
	local := limiter.LocalSessions(b, "u")
	require.Len(t, local, 1, "B's table holds the session Redis admitted (answers %v)", answers)
	assert.Equal(t, "s", local[0].ID)
}

// awaitReseed waits until replicas ra and rb have each re-seeded an emptied
// Redis once and Redis holds user's sessions want (sorted), and fails the
// test if it never does.
func awaitReseed(t *testing.T, ra, rb *limiter.Redis, user string, want []string) {
	t.Helper()
	var ids []string
	assert.Eventually(t, func() bool {
		if limiter.ReseedPasses(ra) != 1 || limiter.ReseedPasses(rb) != 1 {
			return false
		}
		sessions, err := ra.List(context.Background(), user)
		if err != nil {
			return false
		}
		ids = ids[:0]
		for _, s := range sessions {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		return slices.Equal(ids, want)
	}, 10*time.Second, 10*time.Millisecond, "both replicas re-seed Redis with %v", want)
	t.Logf("Redis holds %v", ids)
}
