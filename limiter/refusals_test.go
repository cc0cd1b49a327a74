package limiter_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/streamgate/streamgate/limiter"
)

func TestRefusalsCountsOverASlidingWindow(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := limiter.NewRefusals(limiter.RefusalsOptions{Window: time.Minute, Buckets: 6, Clock: clock.Now})
	assert.Equal(t, time.Minute, r.Window())

	for range 3 {
		r.Add("alice")
	}
	r.Add("bob")
	clock.Advance(30 * time.Second)
	r.Add("bob")
	r.Add("bob")
	r.Add("carol")

	assert.Equal(t, 7, r.Total())
	assert.Equal(t, 3, r.Count("alice"))
	assert.Equal(t, 0, r.Count("nobody"))
	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 3}, {UserID: "bob", Count: 3}, {UserID: "carol", Count: 1}}, r.Top(5),
		"most first, ties by user id")
	assert.Equal(t, []limiter.UserCount{{UserID: "alice", Count: 3}}, r.Top(1))

	clock.Advance(35 * time.Second) // the first 10 s slice has left the window
	assert.Equal(t, 3, r.Total())
	assert.Equal(t, 0, r.Count("alice"))
	assert.Equal(t, []limiter.UserCount{{UserID: "bob", Count: 2}, {UserID: "carol", Count: 1}}, r.Top(5))

	clock.Advance(time.Hour)
	assert.Equal(t, 0, r.Total())
	assert.Empty(t, r.Top(5))
}

func TestRefusalsStayBoundedAndKeepHeavyHitters(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	r := limiter.NewRefusals(limiter.RefusalsOptions{Window: time.Minute, Buckets: 1, Users: 64, Clock: clock.Now})
	// A flood of one-off users, with two users refused again and again among them.
	for i := range 10_000 {
		r.Add("once-" + strconv.Itoa(i))
		if i%10 == 0 {
			r.Add("heavy")
		}
		if i%50 == 0 {
			r.Add("second")
		}
	}
	assert.Equal(t, 10_000+1_000+200, r.Total(), "totals are exact")
	top := r.Top(100)
	assert.LessOrEqual(t, len(top), 64, "the bucket never holds more than Users")
	if assert.GreaterOrEqual(t, len(top), 2) {
		assert.Equal(t, limiter.UserCount{UserID: "heavy", Count: 1_000}, top[0])
		assert.Equal(t, limiter.UserCount{UserID: "second", Count: 200}, top[1])
	}
}

func TestRefusalsNilCountsNothing(t *testing.T) {
	t.Parallel()
	var r *limiter.Refusals
	r.Add("alice")
	assert.Zero(t, r.Total())
	assert.Zero(t, r.Count("alice"))
	assert.Empty(t, r.Top(3))
}

func BenchmarkRefusalsAdd(b *testing.B) {
	for _, users := range []int{10, 100_000} {
		b.Run("users="+strconv.Itoa(users), func(b *testing.B) {
			r := limiter.NewRefusals(limiter.RefusalsOptions{})
			ids := make([]string, users)
			for i := range ids {
				ids[i] = "user-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r.Add(ids[i%users])
			}
		})
	}
}
