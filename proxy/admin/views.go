package admin

import (
	"time"

	"github.com/streamgate/streamgate/limiter"
)

// The JSON bodies of the admin API, shared by the server and AdminClient.
// openapi.json describes each one; its test validates real answers.

// UserStreams is the answer of GET /v1/users/{userId}/streams.
type UserStreams struct {
	UserID   string          `json:"userId"`
	Limit    int             `json:"limit"`
	Active   int             `json:"active"`
	Sessions []StreamSession `json:"sessions"`
	// Refusals counts this user's 429 answers on this replica in the last
	// WindowSeconds; absent when the replica does not track refusals.
	Refusals *RecentRefusals `json:"refusals,omitempty"`
}

// StreamSession is one active session of a user.
type StreamSession struct {
	SessionID string    `json:"sessionId"`
	StartedAt time.Time `json:"startedAt"`
	LastSeen  time.Time `json:"lastSeen"`
	ExpiresAt time.Time `json:"expiresAt"`
	// BufferedUntil is when the media delivered to the session runs out if
	// played without pause; absent when it was given none.
	BufferedUntil *time.Time `json:"bufferedUntil,omitempty"`
	// Device is the player seen at the session's start, when known.
	Device *Device `json:"device,omitempty"`
	// Networks is how many client networks (IPv4 /24, IPv6 /56) used the
	// session while it was active; more than one means it may be shared.
	// 0 when the store knew none.
	Networks int `json:"networks"`
}

// Device is the player seen at a session's start: the limiter's record and
// the name a person would recognise it by.
type Device struct {
	// Name is the device in words ("Chrome 156 on Linux", "ffmpeg (Lavf 59)").
	Name string `json:"name,omitempty"`
	limiter.Device
}

// RecentRefusals is a count of 429 answers over a recent window.
type RecentRefusals struct {
	Count         int `json:"count"`
	WindowSeconds int `json:"windowSeconds"`
}

// Overview is the answer of GET /v1/overview: the replica at a glance.
type Overview struct {
	Version       string    `json:"version"`
	GoVersion     string    `json:"goVersion"`
	StartedAt     time.Time `json:"startedAt"`
	UptimeSeconds int64     `json:"uptimeSeconds"`
	// Ready is what /readyz says; Store says why when it is false.
	Ready bool        `json:"ready"`
	Store StoreStatus `json:"store"`
	// Limit and SessionTTLSeconds are the defaults in force.
	Limit             int `json:"limit"`
	SessionTTLSeconds int `json:"sessionTtlSeconds"`
	// The store's own gauges and counters (zero when it has none).
	TrackedUsers   int    `json:"trackedUsers"`
	ActiveSessions int    `json:"activeSessions"`
	EvictedUsers   uint64 `json:"evictedUsers"`
	StoreCalls     uint64 `json:"storeCalls"`
	StoreErrors    uint64 `json:"storeErrors"`
	// Totals are the gate's counters since start.
	Totals Totals `json:"totals"`
	// Refusals counts 429 answers in the refusal window.
	Refusals RecentRefusals `json:"refusals"`
	// Rates are one point per second over the last minutes, oldest first.
	Rates    []RatePoint `json:"rates"`
	Settings []Setting   `json:"settings"`
	// WhatIf says how many of the last hour's session starts each limit
	// from 1 to WhatIfLimits would have refused; absent without a monitor.
	WhatIf *WhatIf `json:"whatIf,omitempty"`
}

// StoreStatus says whether the session store answers.
type StoreStatus struct {
	Kind    string `json:"kind"`
	Healthy bool   `json:"healthy"`
	// Error is why the store did not answer, when it did not.
	Error string `json:"error,omitempty"`
}

// Totals are the gate's decisions since the process started.
type Totals struct {
	Started      uint64 `json:"started"`
	Refreshed    uint64 `json:"refreshed"`
	RefusedLimit uint64 `json:"refusedLimit"`
	RefusedStore uint64 `json:"refusedStore"`
}

// Setting is one flag and the value in force; secrets arrive masked.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	// Default is true when the value is the flag's default.
	Default bool   `json:"default"`
	Help    string `json:"help,omitempty"`
}

// TopUsers is the answer of GET /v1/top: the busiest users of this replica.
type TopUsers struct {
	// ByActive is nil when the store cannot list its users.
	ByActive   []limiter.UserCount `json:"byActive"`
	ByRefusals []limiter.UserCount `json:"byRefusals"`
	// ByShared ranks users by their active sessions used from more than
	// one client network. Only GET /v1/top?by=shared computes it; absent
	// otherwise, and when no session is shared or the store cannot list
	// its users.
	ByShared      []limiter.UserCount `json:"byShared,omitempty"`
	WindowSeconds int                 `json:"windowSeconds"`
}
