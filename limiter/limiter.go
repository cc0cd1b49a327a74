// Package limiter decides whether a playback session may start and records
// the sessions it admits. It knows nothing of HTTP: the proxy asks it one
// question per request (Admit) and maps the answer to a status code.
package limiter

import (
	"context"
	"errors"
	"time"
)

// ErrUnavailable is returned (wrapped) when the store could not be asked in time.
// The proxy answers it according to -store-failure.
var ErrUnavailable = errors.New("store unavailable")

// Request is one admission question: may SessionID of UserID play?
type Request struct {
	UserID    string
	SessionID string
	// Limit is the number of concurrent sessions this user may hold. It is
	// passed on every call so that plans may differ per user; values below 1
	// are treated as 1.
	Limit int
	// Device describes the player; it is recorded when the session starts.
	Device Device

	// Media is the media time this request delivers (CMCD d, or a segment
	// duration the proxy knows); 0 = unknown, when the session's SegmentHint
	// stands in. See *Sessions live as long as their media* in SPEC.md.
	Media time.Duration
	// Buffer is the player's buffer length as it reported it (CMCD bl); 0 =
	// not reported. The session's media on Track then runs at least that long.
	Buffer time.Duration
	// SegmentHint, when positive, is stored on the session as the duration of
	// its media requests that carry no Media of their own (the HLS target
	// duration or the DASH segment duration of the last manifest the session
	// fetched). It also applies to this request.
	SegmentHint time.Duration
	// FallbackMedia is the media time of a request that tells none and
	// whose session keeps no SegmentHint: the segment duration of the
	// manifests of its folder, which the proxy saw others fetch. 0 = none.
	// It is not stored: a session's own manifest still decides for it.
	FallbackMedia time.Duration
	// MinMedia is the least media time a request that delivers any is
	// counted, whatever told it: most of the segment duration of the
	// manifests of its folder, which a player telling the truth does not
	// undercut. 0 = none.
	MinMedia time.Duration
	// NoMedia says the request delivers no media time (a manifest, the
	// heartbeat endpoint): neither Media nor the hint is added. Buffer and
	// SegmentHint still apply.
	NoMedia bool
	// Track is the kind of media this request delivers. Audio and video
	// renditions fetched side by side are one stream of media time: each
	// track keeps its own bufferedUntil and the session's is the latest.
	Track Track
	// Network is the client's network (NetworkOf), 0 when unknown. A
	// session remembers the networks that use it (Decision.Shared,
	// Session.Networks).
	Network Network
}

// Track is the kind of media a request delivers. Audio and video fetched
// side by side each advance their own track, so that they do not add up.
type Track uint8

const (
	// TrackMain is muxed media, or media whose kind the proxy cannot tell.
	TrackMain Track = iota
	// TrackVideo is a video-only rendition (CMCD ot=v).
	TrackVideo
	// TrackAudio is an audio-only rendition (CMCD ot=a).
	TrackAudio

	numTracks = 3
)

// EndReason says why a session ended, and so whether it leaves a tombstone.
type EndReason uint8

const (
	// EndedByPlayer is the player's own end (DELETE /_streamgate/session):
	// no tombstone, the session id may start again.
	EndedByPlayer EndReason = iota
	// EndedByOperator is an end through the admin API or the console: a
	// tombstone answers the session's requests with Result Ended.
	EndedByOperator
	// Replaced is an end by OnLimit EvictOldest, to make room for a newer session.
	Replaced
	// StoppedByPlayer is the player's own stop (DELETE /_streamgate/session):
	// EndedByPlayer, but the media the session was given still counts
	// until it runs out, as the player may still be playing it. A player
	// that stops after each segment would otherwise hold its slot only
	// while a segment downloads, and hand it to another device in between.
	StoppedByPlayer
)

// String returns the reason as SPEC names it: "ended-by-operator",
// "replaced", or "" for the player's own end.
func (r EndReason) String() string {
	switch r {
	case EndedByOperator:
		return "ended-by-operator"
	case Replaced:
		return "replaced"
	default:
		return ""
	}
}

// Device is what the gate saw of a player when its session started, so that
// operators and the account holder can tell sessions apart.
type Device struct {
	UserAgent string `json:"userAgent,omitempty"`
	Address   string `json:"address,omitempty"`
	// ContentID is what the player said it plays (CMCD cid), when it said.
	ContentID string `json:"contentId,omitempty"`
}

// Result says how a request was decided.
type Result uint8

const (
	// Rejected: the user already holds Limit other active sessions.
	Rejected Result = iota
	// Refreshed: the session was already active and its heartbeat was renewed.
	Refreshed
	// Started: a new session was admitted.
	Started
	// Ended: the session was ended by the operator or replaced by a newer
	// one (Decision.EndReason) less than the tombstone TTL ago. It is not
	// admitted and refreshes nothing; its player must start a new session.
	Ended
)

// String returns the metric label of the result.
func (r Result) String() string {
	switch r {
	case Refreshed:
		return "refresh"
	case Started:
		return "new"
	case Ended:
		return "ended"
	default:
		return "rejected"
	}
}

// Decision is the answer to a Request.
type Decision struct {
	Result Result
	// Active is the number of the user's active sessions after the decision.
	Active int
	// Limit is the limit that applied.
	Limit int
	// RetryAfter, on rejection, is the time until the user's soonest-expiring
	// session expires and a slot frees up.
	RetryAfter time.Duration
	// Sessions, on rejection, are the user's active sessions, oldest first.
	Sessions []Session
	// Degraded is the failure policy that took the decision because the
	// store could not be asked; empty when the store decided.
	Degraded FailurePolicy

	// EndReason, with Result Ended, is why the session was ended.
	EndReason EndReason
	// Evicted, with Result Started under OnLimit EvictOldest, is the id of
	// the session ended (reason Replaced) to make room; empty when none was.
	Evicted string
	// WouldReject, in shadow mode (Rules.Shadow), says that this Started
	// session was over the limit: enforcing, it would have been rejected (or,
	// under EvictOldest, would have replaced the oldest session).
	WouldReject bool
	// Shared says that this request brought a second client network to a
	// session while another network had used it less than SharedWindow ago:
	// set once per session, the first time, so that a counter of it counts
	// shared sessions.
	Shared bool
	// SegmentHint, with Result Refreshed or Started, is the segment duration
	// the store keeps for the session (Request.SegmentHint); 0 when it keeps
	// none or cannot say. A proxy that learns the same one from the next
	// manifest need not hand it on again.
	SegmentHint time.Duration
	// Lapsed, with Result Rejected, says that the session was active before
	// and expired (less than the tombstone TTL ago, as far as the store still
	// knows), as opposed to a session never seen.
	Lapsed bool

	// cached says that a refresh cache answered the decision and no store
	// heard of it yet: Guard's local table learns of it when the store does,
	// at the session's renewal (mirror.renewed).
	cached bool
}

// Admitted reports whether the request may proceed.
func (d Decision) Admitted() bool { return d.Result == Refreshed || d.Result == Started }

// Session is one active playback session of a user.
type Session struct {
	ID        string
	StartedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	// Device is the player seen at the session's start, when known.
	Device Device
	// BufferedUntil is when the media delivered to the session runs out
	// (the latest of its tracks); zero when it was given none.
	BufferedUntil time.Time
	// Networks is how many client networks have used the session since it
	// was last used from one network alone for a TTL; 0 when none was known.
	Networks int

	// bound is the network the session is bound to under
	// Rules.BindNetwork (0 when none), for re-seeding an empty Redis.
	bound Network
}

// Store decides admissions atomically per user and keeps the sessions it admitted.
type Store interface {
	// Admit refreshes SessionID if it is active, starts it if the user has a
	// free slot, and otherwise rejects it without touching anything.
	Admit(ctx context.Context, req Request) (Decision, error)
	// End ends one session. It reports whether the session was active.
	// EndedByOperator leaves a tombstone for the tombstone TTL when the
	// session was active; EndedByPlayer leaves none.
	End(ctx context.Context, userID, sessionID string, reason EndReason) (bool, error)
	// EndAll ends every session of a user and returns how many were active;
	// reason as for End.
	EndAll(ctx context.Context, userID string, reason EndReason) (int, error)
	// List returns the user's active sessions, oldest first.
	List(ctx context.Context, userID string) ([]Session, error)
	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's goroutines and connections.
	Close() error
}

// Stats are a store's own counters, read by the metrics collector at scrape time.
type Stats struct {
	// TrackedUsers is the number of users in the in-memory table.
	TrackedUsers int
	// ActiveSessions is the number of sessions this replica knows of.
	ActiveSessions int
	// EvictedUsers counts users with active sessions dropped because the table was full.
	EvictedUsers uint64
	// StoreCalls and StoreErrors count round trips to a remote store.
	StoreCalls, StoreErrors uint64
}

// TableSizer is implemented by stores whose table lies out of Go's heap.
type TableSizer interface {
	// TableBytes is the memory the table has mapped, which GOMEMLIMIT
	// does not count.
	TableBytes() int64
}

// StatsReporter is implemented by stores that expose Stats.
type StatsReporter interface {
	Stats() Stats
}

// Clock returns the current time. Stores take one so that tests can move time.
type Clock func() time.Time
