// Package admin is the admin listener: the health probes, /metrics, the
// streams API, the operator console and its monitor, the API explorer with
// openapi.json, and the AdminClient that `streamgate status` uses.
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
)

// AdminOptions configures the admin listener's handler.
type AdminOptions struct {
	Store limiter.Store
	// Gatherer is the registry /metrics serves.
	Gatherer prometheus.Gatherer
	// Token, when set, is required as a bearer token by every path but
	// /healthz, /readyz and /metrics.
	Token string
	// Limit is the default limit shown by the streams API.
	Limit int
	// Health decides /readyz.
	Health *Health
	Logger *slog.Logger

	// What the console shows (see console.go); all optional.
	Version   string
	StoreKind string
	// SessionTTL is the heartbeat timeout in force.
	SessionTTL time.Duration
	// Settings are the flags in force, secrets masked.
	Settings []Setting
	// Stats, when not nil, are the store's gauges and counters.
	Stats limiter.StatsReporter
	// Monitor, when not nil, adds rates, refusals and the busiest users.
	Monitor *Monitor
	// Clock is the time source. Default time.Now.
	Clock limiter.Clock
}

// Health is the readiness of the replica: ready while the store answers and
// until Drain is called, so that a load balancer stops sending players first.
type Health struct {
	store    limiter.Store
	timeout  time.Duration
	draining atomic.Bool
}

// NewHealth checks store with at most timeout per /readyz.
func NewHealth(store limiter.Store, timeout time.Duration) *Health {
	return &Health{store: store, timeout: timeout}
}

// Drain turns /readyz to 503 for good.
func (h *Health) Drain() { h.draining.Store(true) }

// Ready returns why the replica should receive no traffic, or nil.
func (h *Health) Ready(ctx context.Context) error {
	if h.draining.Load() {
		return errDraining
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	return h.store.Ping(ctx)
}

type drainingError struct{}

func (drainingError) Error() string { return "shutting down" }

var errDraining error = drainingError{}

// NewAdmin returns the admin listener's handler.
func NewAdmin(opts AdminOptions) http.Handler {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	a := &admin{AdminOptions: opts, started: opts.Clock()}
	open := http.NewServeMux()
	api := http.NewServeMux()
	for _, rt := range a.routes() {
		if rt.open {
			open.Handle(rt.pattern, rt.handler)
		} else {
			api.Handle(rt.pattern, rt.handler)
		}
	}
	open.Handle("/", RequireToken(opts.Token)(api))
	return LoopbackOnly(opts.Token)(open)
}

// route is one pattern of the admin listener. openapi.json documents every
// one; its test holds the two to each other.
type route struct {
	pattern string
	// open routes answer without the admin token: probes, metrics, and the
	// static pages, which hold no data.
	open    bool
	handler http.Handler
}

func (a *admin) routes() []route {
	return []route{
		{"GET /healthz", true, http.HandlerFunc(a.healthz)},
		{"GET /readyz", true, http.HandlerFunc(a.readyz)},
		{"GET /metrics", true, promhttp.HandlerFor(a.Gatherer, promhttp.HandlerOpts{
			ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
			EnableOpenMetrics: true,
		})},
		{"GET /{$}", true, http.HandlerFunc(a.console)},
		{"GET /assets/{file}", true, http.HandlerFunc(a.consoleAsset)},
		{"GET /docs", true, http.HandlerFunc(a.docs)},
		{"GET /docs/{file}", true, http.HandlerFunc(a.docsAsset)},
		{"GET /openapi.json", true, http.HandlerFunc(a.openAPI)},
		{"GET /v1/overview", false, http.HandlerFunc(a.overview)},
		{"GET /v1/top", false, http.HandlerFunc(a.top)},
		{"GET /v1/users/{userId}/streams", false, http.HandlerFunc(a.listStreams)},
		{"DELETE /v1/users/{userId}/streams", false, http.HandlerFunc(a.endAllStreams)},
		{"DELETE /v1/users/{userId}/streams/{sessionId}", false, http.HandlerFunc(a.endStream)},
	}
}

type admin struct {
	AdminOptions
	started time.Time
	static  staticFiles
}

func (a *admin) now() time.Time { return a.Clock() }

func (a *admin) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (a *admin) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := a.Health.Ready(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (a *admin) listStreams(w http.ResponseWriter, r *http.Request) {
	userID, ok := a.pathID(w, r, "userId")
	if !ok {
		return
	}
	sessions, err := a.Store.List(r.Context(), userID)
	if err != nil {
		a.storeFailed(w, "listing sessions", err)
		return
	}
	view := UserStreams{UserID: userID, Limit: a.Limit, Active: len(sessions), Sessions: make([]StreamSession, len(sessions))}
	for i, s := range sessions {
		view.Sessions[i] = StreamSession{SessionID: s.ID, StartedAt: s.StartedAt.UTC(), LastSeen: s.LastSeen.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			Networks: s.Networks}
		if !s.BufferedUntil.IsZero() {
			b := s.BufferedUntil.UTC()
			view.Sessions[i].BufferedUntil = &b
		}
		if s.Device != (limiter.Device{}) {
			view.Sessions[i].Device = &Device{Name: proxy.DeviceName(s.Device.UserAgent, s.Device.ContentID), Device: s.Device}
		}
	}
	if m := a.Monitor; m != nil {
		if n, ok := m.RefusalCount(userID); ok {
			view.Refusals = &RecentRefusals{Count: n, WindowSeconds: int(m.RefusalWindow().Seconds())}
		}
	}
	writeJSON(w, view)
}

func (a *admin) endStream(w http.ResponseWriter, r *http.Request) {
	userID, ok := a.pathID(w, r, "userId")
	if !ok {
		return
	}
	sessionID, ok := a.pathID(w, r, "sessionId")
	if !ok {
		return
	}
	ended, err := a.Store.End(r.Context(), userID, sessionID, limiter.EndedByOperator)
	if err != nil {
		a.storeFailed(w, "ending session", err)
		return
	}
	if !ended {
		proxy.WriteProblem(w, http.StatusNotFound, "session-not-found",
			"Session not active", "The user has no active session with this id.")
		return
	}
	a.Logger.Info("session ended by admin", "user", userID)
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) endAllStreams(w http.ResponseWriter, r *http.Request) {
	userID, ok := a.pathID(w, r, "userId")
	if !ok {
		return
	}
	n, err := a.Store.EndAll(r.Context(), userID, limiter.EndedByOperator)
	if err != nil {
		a.storeFailed(w, "ending sessions", err)
		return
	}
	a.Logger.Info("sessions ended by admin", "user", userID, "ended", n)
	w.WriteHeader(http.StatusNoContent)
}

func (a *admin) pathID(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	v := r.PathValue(name)
	if !identity.ValidID(v) {
		proxy.WriteProblem(w, http.StatusBadRequest, "invalid-identity",
			"Bad request", "The "+name+" must be 1 to 128 visible ASCII characters.")
		return "", false
	}
	return v, true
}

func (a *admin) storeFailed(w http.ResponseWriter, doing string, err error) {
	a.Logger.Warn(doing+" failed", "err", err)
	proxy.WriteProblem(w, http.StatusServiceUnavailable, "store-unavailable",
		"Session store unavailable", "The session store did not answer; try again shortly.")
}
