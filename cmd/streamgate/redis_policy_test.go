package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/redistest"
)

// TestRedisReplicasEvictOldest: two replicas on one Redis with -on-limit
// evict-oldest. Each round, a user plays three sessions, then two newcomers
// arrive at once, one on each replica: both are admitted, each ends exactly
// one older session (410 on its next request), and the user never holds
// more than the limit.
func TestRedisReplicasEvictOldest(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	origin := redisTestOrigin(t)
	flags := []string{"-store", srv.URL(), "-store-failure", "closed", "-store-timeout", "5s", "-max-streams", "3", "-on-limit", "evict-oldest",
		"-refresh-interval", "0"}
	replicas := []*replica{startReplica(t, origin.URL, flags...), startReplica(t, origin.URL, flags...)}

	const rounds, limit = 20, 3
	for round := range rounds {
		user := fmt.Sprintf("evict-%d", round)
		for i := range limit {
			require.Equal(t, http.StatusOK, replicas[i%2].play(t, user, fmt.Sprintf("old-%d", i)), "round %d", round)
		}
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = replicas[i].play(t, user, fmt.Sprintf("new-%d", i))
			}()
		}
		wg.Wait()
		assert.Equal(t, []int{http.StatusOK, http.StatusOK}, codes, "round %d: both newcomers are admitted", round)

		code, body := replicas[round%2].adminDo(t, http.MethodGet, "/v1/users/"+user+"/streams")
		require.Equal(t, http.StatusOK, code)
		var view struct{ Active int }
		require.NoError(t, json.Unmarshal([]byte(body), &view))
		assert.Equal(t, limit, view.Active, "round %d: never more than the limit", round)

		gone := 0
		for i := range limit {
			switch c := replicas[(i+1)%2].play(t, user, fmt.Sprintf("old-%d", i)); c {
			case http.StatusGone:
				gone++
			case http.StatusOK:
			default:
				t.Errorf("round %d: old-%d got %d", round, i, c)
			}
		}
		assert.Equal(t, 2, gone, "round %d: one eviction per newcomer", round)
	}
	evicted := 0.0
	for _, r := range replicas {
		evicted += r.metric(t, `streamgate_evictions_total{policy="evict-oldest"}`)
	}
	assert.Equal(t, float64(2*rounds), evicted, "exactly one eviction per admitted newcomer, counted where it happened")
}
