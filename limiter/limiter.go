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
}

// Device is what the gate saw of a player when its session started, so that
// operators and the account holder can tell sessions apart.
type Device struct {
	UserAgent string `json:"userAgent,omitempty"`
	Address   string `json:"address,omitempty"`
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
)

// String returns the metric label of the result.
func (r Result) String() string {
	switch r {
	case Refreshed:
		return "refresh"
	case Started:
		return "new"
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
}

// Admitted reports whether the request may proceed.
func (d Decision) Admitted() bool { return d.Result != Rejected }

// Session is one active playback session of a user.
type Session struct {
	ID        string
	StartedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
	// Device is the player seen at the session's start, when known.
	Device Device
}

// Store decides admissions atomically per user and keeps the sessions it admitted.
type Store interface {
	// Admit refreshes SessionID if it is active, starts it if the user has a
	// free slot, and otherwise rejects it without touching anything.
	Admit(ctx context.Context, req Request) (Decision, error)
	// End ends one session. It reports whether the session was active.
	End(ctx context.Context, userID, sessionID string) (bool, error)
	// EndAll ends every session of a user and returns how many were active.
	EndAll(ctx context.Context, userID string) (int, error)
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

// StatsReporter is implemented by stores that expose Stats.
type StatsReporter interface {
	Stats() Stats
}

// Clock returns the current time. Stores take one so that tests can move time.
type Clock func() time.Time
