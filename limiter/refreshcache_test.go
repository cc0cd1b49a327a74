package limiter

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manualClock is a clock the test moves.
type manualClock struct{ now time.Time }

func (c *manualClock) Now() time.Time          { return c.now }
func (c *manualClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func newTestCache(t *testing.T, interval time.Duration, maxUsers int) (*refreshCache, *manualClock) {
	t.Helper()
	clock := &manualClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c, err := newRefreshCache(int64(interval), int64(interval/flushTicks), maxUsers, clock.Now)
	require.NoError(t, err)
	return c, clock
}

func TestRefreshCache(t *testing.T) {
	t.Parallel()
	const interval = 5 * time.Second
	tests := []struct {
		name string
		// run records and moves the clock, then says whether u/s should hit.
		run func(c *refreshCache, clock *manualClock)
		hit bool
	}{
		{"a session never recorded goes to the store", func(*refreshCache, *manualClock) {}, false},
		{"recorded just now", func(c *refreshCache, _ *manualClock) { c.record("u", "s", 0, 1, c.now(), admitted{}) }, true},
		{"recorded less than the interval ago", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			clock.Advance(interval - time.Nanosecond)
		}, true},
		{"recorded exactly the interval ago", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			clock.Advance(interval)
		}, false},
		{"another session of the user", func(c *refreshCache, _ *manualClock) { c.record("u", "other", 0, 1, c.now(), admitted{}) }, false},
		{"the same session id of another user", func(c *refreshCache, _ *manualClock) { c.record("v", "s", 0, 1, c.now(), admitted{}) }, false},
		{"a later record renews the entry", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			clock.Advance(4 * time.Second)
			c.record("u", "s", 0, 2, c.now(), admitted{})
			clock.Advance(4 * time.Second)
		}, true},
		{"a record taken before an older one does not shorten it", func(c *refreshCache, clock *manualClock) {
			early := c.now()
			clock.Advance(time.Second)
			c.record("u", "s", 0, 1, c.now(), admitted{})
			c.record("u", "s", 0, 1, early, admitted{})
			clock.Advance(interval - time.Second/2)
		}, true},
		{"forgotten session", func(c *refreshCache, _ *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			c.record("u", "t", 0, 2, c.now(), admitted{})
			c.forget("u", "s")
		}, false},
		{"renewed late, it lasts as long as the store's record", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			until := c.now() + int64(10*time.Second) // the hit plus a TTL of 10 s
			clock.Advance(8 * time.Second)
			c.renewed(sessionRef{"u", "s"}, c.now(), until, 1)
			clock.Advance(2*time.Second - time.Nanosecond)
		}, true},
		{"renewed late, it ends with the store's record", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			until := c.now() + int64(10*time.Second)
			clock.Advance(8 * time.Second)
			c.renewed(sessionRef{"u", "s"}, c.now(), until, 1)
			clock.Advance(2 * time.Second)
		}, false},
		{"renewed in time, it lasts an interval from the renewal", func(c *refreshCache, clock *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			until := c.now() + int64(time.Minute)
			clock.Advance(4 * time.Second)
			c.renewed(sessionRef{"u", "s"}, c.now(), until, 1)
			clock.Advance(interval - time.Nanosecond)
		}, true},
		{"forgotten user", func(c *refreshCache, _ *manualClock) {
			c.record("u", "s", 0, 1, c.now(), admitted{})
			c.forgetUser("u")
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, clock := newTestCache(t, interval, 1000)
			tt.run(c, clock)
			d, hit, _ := c.lookup(&Request{UserID: "u", SessionID: "s"}, 3)
			assert.Equal(t, tt.hit, hit)
			if hit {
				assert.Equal(t, Refreshed, d.Result)
				assert.Equal(t, 3, d.Limit)
				assert.Empty(t, d.Degraded)
			}
		})
	}
}

func TestRefreshCacheBounded(t *testing.T) {
	t.Parallel()

	t.Run("never more users than its capacity", func(t *testing.T) {
		t.Parallel()
		c, _ := newTestCache(t, time.Hour, 2048)
		for i := range 50_000 {
			c.record("user-"+strconv.Itoa(i), "s", 0, 1, c.now(), admitted{})
		}
		assert.LessOrEqual(t, c.len(), 2048)
		_, hit, _ := c.lookup(&Request{UserID: "user-49999", SessionID: "s"}, 3)
		assert.True(t, hit, "the newest user is kept")
	})

	t.Run("stale users leave as new ones arrive", func(t *testing.T) {
		t.Parallel()
		c, clock := newTestCache(t, time.Second, 1_000_000)
		// 100 new users per 100ms for 60s: at most ~1000 are fresh at once.
		for i := range 60_000 {
			if i%100 == 0 {
				clock.Advance(100 * time.Millisecond)
			}
			c.record("user-"+strconv.Itoa(i), "s", 0, 1, c.now(), admitted{})
		}
		assert.Less(t, c.len(), 2500, "stale users are dropped, not kept until the capacity")
	})

	t.Run("a user's stale sessions are dropped when it is recorded", func(t *testing.T) {
		t.Parallel()
		c, clock := newTestCache(t, time.Second, 1000)
		for i := range 100 {
			c.record("u", "s"+strconv.Itoa(i), 0, 1, c.now(), admitted{})
			clock.Advance(100 * time.Millisecond)
		}
		sh := c.shardFor("u")
		u, ok := sh.LRU.Peek("u")
		require.True(t, ok)
		assert.LessOrEqual(t, len(u.sessions), 10)
	})
}

// TestRefreshCacheForgetsEveryNetwork: under network binding the cache
// names a session per network, and End or an eviction names the id alone;
// forgetting the id drops it on every network and no other id.
func TestRefreshCacheForgetsEveryNetwork(t *testing.T) {
	t.Parallel()
	c, _ := newTestCache(t, 5*time.Second, 1000)
	home, away := NetworkOf(netip.MustParseAddr("192.0.2.7")), NetworkOf(netip.MustParseAddr("198.51.100.7"))
	for _, id := range []string{boundField("s", home), boundField("s", away), "s2", boundField("s2", home)} {
		c.record("u", id, 0, 3, c.now(), admitted{})
	}
	c.forget("u", "s")
	for id, want := range map[string]bool{boundField("s", home): false, boundField("s", away): false, "s2": true, boundField("s2", home): true} {
		_, hit, _ := c.lookup(&Request{UserID: "u", SessionID: id}, 3)
		assert.Equal(t, want, hit, "%q", id)
	}
}

// TestCachedUserKeepsIDsWithSessions: a user's session ids live in one
// string beside the sessions; dropping and adding keep each id with its
// session and the string holding exactly the ids kept.
func TestCachedUserKeepsIDsWithSessions(t *testing.T) {
	u := &cachedUser{id: "alice"}
	add := func(id string, hint int64) {
		u.sessions = append(u.sessions, cachedSession{idLen: uint32(len(id)), hint: hint})
		u.sids += id
	}
	add("tv", 1)
	add("phone-long-id", 2)
	add("laptop", 3)
	require.NotNil(t, u.find("phone-long-id"))
	assert.Equal(t, int64(2), u.find("phone-long-id").hint)

	u.remove("phone-long-id")
	assert.Nil(t, u.find("phone-long-id"))
	assert.Equal(t, "tvlaptop", u.sids)
	assert.Equal(t, int64(3), u.find("laptop").hint, "the id after the removed one stays with its session")

	u.keepOnly(func(s *cachedSession, _ string) bool { s.hint++; return true })
	assert.Equal(t, "tvlaptop", u.sids, "nothing dropped: the ids are not rebuilt")
	assert.Equal(t, int64(2), u.find("tv").hint, "keep may change what it keeps")

	u.remove("tv")
	u.remove("laptop")
	assert.Empty(t, u.sessions)
	assert.Empty(t, u.sids)
}

// TestRefreshCacheHouseholdRoom: a user's second cached session moves its
// sessions into an array with room for a third, which then starts in place;
// a session is 80 bytes. The cache lives in Go's heap, where GOGC multiplies
// what a household holds.
func TestRefreshCacheHouseholdRoom(t *testing.T) {
	t.Parallel()
	assert.Equal(t, uintptr(80), unsafe.Sizeof(cachedSession{}), "a cached session is 80 bytes")
	c, _ := newTestCache(t, 5*time.Second, 100)
	user := func() *cachedUser {
		u, ok := c.shardFor("u").LRU.Peek("u")
		require.True(t, ok)
		return u
	}
	c.record("u", "s1", 0, 1, c.now(), admitted{})
	assert.Equal(t, 1, cap(user().sessions), "one session takes no room for more")
	c.record("u", "s2", 0, 2, c.now(), admitted{})
	assert.Equal(t, householdRoom, cap(user().sessions), "the second makes room for a household")
	second := &user().sessions[0]
	c.record("u", "s3", 0, 3, c.now(), admitted{})
	assert.Same(t, second, &user().sessions[0], "the third starts in place")
	for i, id := range []string{"s1", "s2", "s3"} {
		d, ok, _ := c.lookup(&Request{UserID: "u", SessionID: id}, 3)
		require.True(t, ok, id)
		assert.Equal(t, i+1, d.Active, "%s keeps the active count of its own call", id)
	}
}
