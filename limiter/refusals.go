package limiter

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults of RefusalsOptions.
const (
	DefaultRefusalWindow  = 5 * time.Minute
	DefaultRefusalBuckets = 10
	// DefaultRefusalUsers bounds the users one bucket remembers.
	DefaultRefusalUsers = 512
)

// evictionSample is how many entries a full bucket looks at to choose the one
// a new user replaces. Go's map iteration starts at a random place, so this is
// a random sample: the cost stays constant however large the bucket is, and a
// user refused again and again is almost never the least counted of eight.
const evictionSample = 8

// RefusalsOptions configures Refusals.
type RefusalsOptions struct {
	// Window is how far back refusals count. Default DefaultRefusalWindow.
	Window time.Duration
	// Buckets is how many slices the window is cut into; the window slides by
	// Window/Buckets. Default DefaultRefusalBuckets.
	Buckets int
	// Users bounds the users remembered per bucket. Default DefaultRefusalUsers.
	Users int
	// Clock is the time source. Default time.Now.
	Clock Clock
}

// Refusals counts refused requests per user over a sliding window in bounded
// memory, so that an operator can see who hits the limit most. It is fed only
// on refusals, never on admitted requests.
//
// Memory is at most Buckets × Users entries. When a bucket is full, a new user
// takes the place of the least counted of a small random sample of its users
// (an approximate Space-Saving): heavy hitters stay, one-off users come and go.
// Totals are exact; per-user counts are exact unless the user was displaced.
type Refusals struct {
	mu      sync.Mutex
	clock   Clock
	span    int64
	users   int
	buckets []refusalBucket
}

type refusalBucket struct {
	// slot is the index (time / span) of the slice of time the bucket holds.
	slot   int64
	total  uint64
	counts map[string]uint32
}

// UserCount is a user and a number: refusals, or active sessions.
type UserCount struct {
	UserID string `json:"userId"`
	Count  int    `json:"count"`
}

// NewRefusals returns an empty tracker.
func NewRefusals(opts RefusalsOptions) *Refusals {
	if opts.Window <= 0 {
		opts.Window = DefaultRefusalWindow
	}
	if opts.Buckets <= 0 {
		opts.Buckets = DefaultRefusalBuckets
	}
	if opts.Users <= 0 {
		opts.Users = DefaultRefusalUsers
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	r := &Refusals{
		clock:   opts.Clock,
		span:    max(int64(opts.Window)/int64(opts.Buckets), 1),
		users:   opts.Users,
		buckets: make([]refusalBucket, opts.Buckets),
	}
	for i := range r.buckets {
		r.buckets[i].slot = -1
	}
	return r
}

// Window is how far back refusals count.
func (r *Refusals) Window() time.Duration {
	return time.Duration(r.span * int64(len(r.buckets)))
}

// Add counts one refusal of userID. A nil tracker counts nothing.
func (r *Refusals) Add(userID string) {
	if r == nil {
		return
	}
	slot := r.clock().UnixNano() / r.span
	r.mu.Lock()
	defer r.mu.Unlock()
	b := &r.buckets[slot%int64(len(r.buckets))]
	if b.slot != slot {
		b.slot, b.total = slot, 0
		if b.counts == nil {
			b.counts = make(map[string]uint32, r.users)
		}
		clear(b.counts)
	}
	b.total++
	if n, ok := b.counts[userID]; ok {
		b.counts[userID] = n + 1
		return
	}
	if len(b.counts) >= r.users {
		b.evictOne()
	}
	b.counts[strings.Clone(userID)] = 1
}

func (b *refusalBucket) evictOne() {
	var victim string
	least, seen := uint32(0), 0
	for id, n := range b.counts {
		if seen == 0 || n < least {
			victim, least = id, n
		}
		if seen++; seen == evictionSample {
			break
		}
	}
	delete(b.counts, victim)
}

// live calls f for each bucket inside the window.
func (r *Refusals) live(f func(*refusalBucket)) {
	now := r.clock().UnixNano() / r.span
	for i := range r.buckets {
		if b := &r.buckets[i]; b.slot > now-int64(len(r.buckets)) && b.slot <= now {
			f(b)
		}
	}
}

// Total returns the refusals counted in the window.
func (r *Refusals) Total() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var total uint64
	r.live(func(b *refusalBucket) { total += b.total })
	return int(total)
}

// Count returns the refusals of userID in the window.
func (r *Refusals) Count(userID string) int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	r.live(func(b *refusalBucket) { n += int(b.counts[userID]) })
	return n
}

// Top returns up to n users refused most in the window, most first; ties go
// by user id so that the order is stable between calls.
func (r *Refusals) Top(n int) []UserCount {
	if r == nil || n <= 0 {
		return []UserCount{}
	}
	r.mu.Lock()
	sums := make(map[string]int)
	r.live(func(b *refusalBucket) {
		for id, c := range b.counts {
			sums[id] += int(c)
		}
	})
	r.mu.Unlock()
	out := make([]UserCount, 0, len(sums))
	for id, c := range sums {
		out = append(out, UserCount{UserID: id, Count: c})
	}
	sortTop(out)
	return out[:min(n, len(out))]
}

// sortTop orders by count, most first, then by user id.
func sortTop(s []UserCount) {
	slices.SortFunc(s, func(a, b UserCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.UserID, b.UserID)
	})
}
