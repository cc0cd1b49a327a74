package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/manifest"
)

// Paths of the player-facing control endpoints on the proxy listener.
const (
	HeartbeatPath = "/_streamgate/heartbeat"
	SessionPath   = "/_streamgate/session"
)

// GateOptions configures Gate.
type GateOptions struct {
	Store    limiter.Store
	Identity identity.Identifier
	// Limit is the default number of concurrent sessions per user.
	Limit   int
	Metrics *Metrics
	Logger  *slog.Logger
	// Refusals, when not nil, counts each 429 per user for the console. It is
	// touched on refusals only; admitted requests never reach it.
	Refusals *limiter.Refusals
	// Hardening is what the gate refuses or changes before the origin sees
	// a request (harden.go).
	Hardening Hardening
	// MintSessions gives a manifest request with a user but no session id a
	// fresh session id, handed on in the manifest's URIs as
	// identity.SessionParam; the session takes its slot at its first request
	// that carries it (-mint-sessions, default false).
	MintSessions bool
}

// Gate returns the admission middleware: it identifies each request, asks the
// store, and passes on only what is admitted. It also answers the control
// endpoints, which are never proxied.
func Gate(opts GateOptions) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return &gate{GateOptions: opts, next: next, hard: newHardening(opts.Hardening)}
	}
}

type gate struct {
	GateOptions
	next http.Handler
	hard hardening
	// hints are the segment durations learnt from manifests, waiting for
	// their session's next request.
	hints segmentHints
	// dirs are the segment durations of the manifests, by directory.
	dirs dirHints
}

// epoch anchors monotonic timings: time.Since costs half of time.Now.
var epoch = time.Now()

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hard.screen(w, r, g.Metrics) {
		return
	}
	id, ierr := g.Identity.Identify(r)
	if ierr != nil {
		g.Metrics.invalid.WithLabelValues(ierr.Reason).Inc()
		noteDecision(w, DecisionInvalid, "", "")
		if ierr.Challenge != "" {
			w.Header().Set("WWW-Authenticate", ierr.Challenge)
		}
		title := "Bad request"
		if ierr.Status == http.StatusUnauthorized {
			title = "Unauthorized"
		}
		writeProblem(w, ierr.Status, newProblem(ierr.Status, "invalid-identity", title, ierr.Detail))
		return
	}
	switch r.URL.Path {
	case HeartbeatPath:
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		if _, ok := g.admit(w, r, id, g.hard.Client.of(r.RemoteAddr, r.Header["X-Forwarded-For"]), true); ok {
			w.WriteHeader(http.StatusNoContent)
		}
		return
	case SessionPath:
		if r.Method != http.MethodDelete {
			methodNotAllowed(w, http.MethodDelete)
			return
		}
		g.end(w, r, id)
		return
	}
	if g.hard.SetIdentity {
		// Token mode: the origin gets the verified identity, not the
		// client's words in the same headers.
		g.hard.setIdentity(r, id.UserID, id.SessionID)
	}
	if id.SessionID == "" {
		// A manifest from a player that sends its session id only from its
		// next request on (CMCD): it passes without taking a slot, and the
		// media it lists does not pass without one. With -mint-sessions the
		// gate gives it one, which its URIs hand on: the slot is taken by
		// the first request that comes back with it, so a player that never
		// comes back holds none.
		if g.MintSessions {
			minted := identity.MintSessionID()
			g.Metrics.minted.Inc()
			w = g.learnHint(w, r, hintKey(id.UserID, minted), hasSuffixFold(r.URL.Path, ".mpd"), 0)
			g.next.ServeHTTP(w, manifest.WithQuery(sessionless(r), id.UserID, minted, id.PlaylistQuery, identity.SessionParam+"="+minted))
			release(w)
			return
		}
		r = sessionless(r)
		w = g.learnDirHint(w, r) // for its directory
		g.next.ServeHTTP(w, manifest.WithPlaylistQuery(r, id.UserID, id.PlaylistQuery))
		release(w)
		return
	}
	client := g.hard.Client.of(r.RemoteAddr, r.Header["X-Forwarded-For"])
	if kept, ok := g.admit(w, r, id, client, false); ok {
		w = g.hold(w, r, id, client)
		if mpd := hasSuffixFold(r.URL.Path, ".mpd"); mpd || hasSuffixFold(r.URL.Path, ".m3u8") {
			// Its segment duration is learnt as it streams, for the
			// session's media requests that carry no CMCD d.
			w = g.learnHint(w, r, hintKey(id.UserID, id.SessionID), mpd, kept)
		}
		if id.SessionQuery == "" {
			g.next.ServeHTTP(w, manifest.WithPlaylistQuery(r, id.UserID, id.PlaylistQuery))
		} else {
			g.next.ServeHTTP(w, manifest.WithQuery(r, id.UserID, id.SessionID, id.PlaylistQuery, id.SessionQuery))
		}
		release(w)
	}
}

// admit asks the store and, when the request may not proceed, answers it.
// client is the client's address (-trusted-proxies); heartbeat marks the
// heartbeat endpoint, which delivers no media. An admitted request also
// gets the segment duration the store keeps for its session (0: none).
func (g *gate) admit(w http.ResponseWriter, r *http.Request, id identity.Identity, client netip.Addr, heartbeat bool) (time.Duration, bool) {
	limit := g.Limit
	if id.Limit > 0 {
		limit = id.Limit
	}
	address := r.RemoteAddr
	if client.IsValid() && len(g.hard.Client.TrustedProxies) > 0 {
		address = client.String() // the peer is our own proxy
		noteClient(w, client)
	}
	req := limiter.Request{
		UserID: id.UserID, SessionID: id.SessionID, Limit: limit,
		// Recorded only when a session starts; reading them costs one map lookup.
		Device:  limiter.Device{UserAgent: firstHeader(r.Header, "User-Agent"), Address: address, ContentID: id.CMCD.ContentID},
		Network: limiter.NetworkOf(client),
		// What the request delivers keeps the session active while the
		// player plays it (SPEC: Sessions live as long as their media).
		Media: id.CMCD.Duration, Buffer: id.CMCD.BufferLength,
	}
	req.Track, req.NoMedia = trackOf(id.CMCD, r.URL.Path)
	req.NoMedia = req.NoMedia || heartbeat
	start := time.Since(epoch)
	if g.hints.n.Load() != 0 {
		req.SegmentHint = g.hints.take(hintKey(id.UserID, id.SessionID), start)
	}
	if !heartbeat && !identity.IsManifest(r.URL.Path) {
		g.dirMedia(&req, r.URL.Path)
	}
	d, err := g.Store.Admit(r.Context(), req)
	g.Metrics.observeDecision(time.Since(epoch) - start)
	if err != nil {
		if r.Context().Err() != nil {
			// The player hung up while the store was asked: not a store
			// failure, and nobody is left to answer.
			answerClientClosed(w, r, g.Metrics, g.Logger, phaseStore)
			return 0, false
		}
		if errors.Is(err, limiter.ErrTableFull) {
			g.Metrics.rejectedFull.Inc()
			noteDecision(w, DecisionRejected, id.UserID, id.SessionID) // a 503 tells it from the limit's 429
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusServiceUnavailable, newProblem(http.StatusServiceUnavailable, "table-full",
				"Session table full", "The gate is tracking as many viewers as it can; try again shortly."))
			return 0, false
		}
		g.Metrics.rejectedStore.Inc()
		noteDecision(w, DecisionStoreUnavailable, id.UserID, id.SessionID)
		g.Logger.Debug("store unavailable; refusing request", "err", err)
		w.Header().Set("Retry-After", "1")
		writeProblem(w, http.StatusServiceUnavailable, newProblem(http.StatusServiceUnavailable, "store-unavailable",
			"Session store unavailable", "The gate cannot check concurrent streams right now; try again shortly."))
		return 0, false
	}
	if d.Degraded != "" {
		g.Metrics.degraded.WithLabelValues(d.Degraded.String()).Inc()
	}
	if d.Shared {
		g.Metrics.shared.Inc()
	}
	g.Metrics.byLimit.inc(limit, d.Result)
	switch d.Result {
	case limiter.Refreshed:
		g.Metrics.admittedRefresh.Inc()
		noteDecision(w, DecisionRefresh, id.UserID, id.SessionID)
		return d.SegmentHint, true
	case limiter.Started:
		g.Metrics.admittedNew.Inc()
		g.Metrics.policy.started(d)
		noteDecision(w, DecisionNew, id.UserID, id.SessionID)
		return d.SegmentHint, true
	case limiter.Ended:
		g.Metrics.policy.tombstoneHit(d.EndReason)
		noteDecision(w, DecisionEnded, id.UserID, id.SessionID)
		writeEndedProblem(w, d.EndReason)
		return 0, false
	}
	g.Metrics.rejectedLimit.Inc()
	noteDecision(w, DecisionRejected, id.UserID, id.SessionID)
	g.Refusals.Add(id.UserID)
	g.Logger.Debug("stream refused", "active", d.Active, "limit", d.Limit, "lapsed", d.Lapsed)
	if d.Lapsed {
		writeLapsedProblem(w, id.UserID, d)
		return 0, false
	}
	writeLimitProblem(w, id.UserID, d)
	return 0, false
}

func (g *gate) end(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	if _, err := g.Store.End(r.Context(), id.UserID, id.SessionID, limiter.StoppedByPlayer); err != nil {
		g.Logger.Warn("ending session failed", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, newProblem(http.StatusServiceUnavailable, "store-unavailable",
			"Session store unavailable", "The session could not be ended; it will expire on its own after the session TTL."))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// MaxListedSessions bounds the sessions a 429 lists; its active field
// stays the true count.
const MaxListedSessions = 16

// limitProblem is the 429 answer: enough for a player to tell the person
// which devices hold the slots, without revealing any session id.
type limitProblem struct {
	problem
	UserID     string        `json:"userId"`
	Limit      int           `json:"limit"`
	Active     int           `json:"active"`
	RetryAfter int           `json:"retryAfter"`
	Sessions   []sessionSlot `json:"sessions"`
}

// lapsedProblem is the 410 to a session that lapsed: the 429's fields
// but the retry, since the session will not come back.
type lapsedProblem struct {
	problem
	UserID   string        `json:"userId"`
	Limit    int           `json:"limit"`
	Active   int           `json:"active"`
	Sessions []sessionSlot `json:"sessions"`
}

type sessionSlot struct {
	Handle    string    `json:"handle"`
	StartedAt time.Time `json:"startedAt"`
	LastSeen  time.Time `json:"lastSeen"`
	ExpiresAt time.Time `json:"expiresAt"`
	// UserAgent is what the device sent when its session started, so the
	// person can recognise it ("the living-room TV"); never its address.
	UserAgent string `json:"userAgent,omitempty"`
	// Device is the same in words ("Safari on iPhone").
	Device string `json:"device,omitempty"`
}

func writeLimitProblem(w http.ResponseWriter, userID string, d limiter.Decision) {
	retry := retryAfterSeconds(d.RetryAfter)
	// A plan of thousands of streams must not make each refusal megabytes.
	slots := slotsOf(userID, d.Sessions[:min(len(d.Sessions), MaxListedSessions)])
	w.Header().Set("Retry-After", strconv.Itoa(retry))
	writeProblem(w, http.StatusTooManyRequests, limitProblem{
		problem: newProblem(http.StatusTooManyRequests, "too-many-streams", "Too many concurrent streams",
			"This account is already playing on "+devices(d.Active)+", its limit. Stop one of them, or retry after "+strconv.Itoa(retry)+" s."),
		UserID:     userID,
		Limit:      d.Limit,
		Active:     d.Active,
		RetryAfter: retry,
		Sessions:   slots,
	})
}

// writeLapsedProblem answers a session that was playing, lapsed (paused
// past its lease) and finds the user's slots taken: 410 session-expired,
// without Retry-After, since the session itself will not come back; its
// player must start a new one, which then gets a slot or the 429. The
// players do not tell 410 from 429 (README, "What a player sees"): the
// status is chosen for what it says to the page and to the logs.
func writeLapsedProblem(w http.ResponseWriter, userID string, d limiter.Decision) {
	writeProblem(w, http.StatusGone, lapsedProblem{
		problem: newProblem(http.StatusGone, "session-expired", "Playback session expired",
			"This playback was paused too long and the account's "+strconv.Itoa(d.Limit)+" streams are now in use on "+devices(d.Active)+". Stop one of them and start playing again."),
		UserID:   userID,
		Limit:    d.Limit,
		Active:   d.Active,
		Sessions: slotsOf(userID, d.Sessions),
	})
}

func slotsOf(userID string, sessions []limiter.Session) []sessionSlot {
	slots := make([]sessionSlot, len(sessions))
	for i, s := range sessions {
		slots[i] = sessionSlot{Handle: SessionHandle(userID, s.ID), StartedAt: s.StartedAt.UTC(), LastSeen: s.LastSeen.UTC(),
			ExpiresAt: s.ExpiresAt.UTC(), UserAgent: s.Device.UserAgent, Device: DeviceName(s.Device.UserAgent, s.Device.ContentID)}
	}
	return slots
}

func devices(n int) string {
	if n == 1 {
		return "1 device"
	}
	return strconv.Itoa(n) + " devices"
}

// retryAfterSeconds rounds up to whole seconds, at least 1 (RFC 9110 delay-seconds).
func retryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// SessionHandle is a short, stable, non-reversible name for a session: the
// first 12 hex digits of SHA-256(userId NUL sessionId). A player can compute
// its own handle to tell itself apart in a 429 answer.
func SessionHandle(userID, sessionID string) string {
	h := sha256.New()
	h.Write([]byte(userID))
	h.Write([]byte{0})
	h.Write([]byte(sessionID))
	return hex.EncodeToString(h.Sum(nil)[:6])
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeProblem(w, http.StatusMethodNotAllowed, newProblem(http.StatusMethodNotAllowed, "method-not-allowed",
		"Method not allowed", "This endpoint answers "+allow+" only."))
}

func firstHeader(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}
