package admin

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strconv"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
)

// MaxTop is the most users GET /v1/top lists per ranking.
const MaxTop = 100

// defaultTop is how many users GET /v1/top lists without ?n.
const defaultTop = 10

func (a *admin) overview(w http.ResponseWriter, r *http.Request) {
	now := a.now()
	v := Overview{
		Version:           a.Version,
		GoVersion:         runtime.Version(),
		StartedAt:         a.started.UTC(),
		UptimeSeconds:     int64(now.Sub(a.started).Seconds()),
		Limit:             a.Limit,
		SessionTTLSeconds: int(a.SessionTTL.Seconds()),
		Store:             StoreStatus{Kind: a.StoreKind, Healthy: true},
		Rates:             []RatePoint{},
		Settings:          a.Settings,
	}
	if v.Settings == nil {
		v.Settings = []Setting{}
	}
	if err := a.Health.Ready(r.Context()); err != nil {
		if err != errDraining {
			v.Store.Healthy = false
			v.Store.Error = err.Error()
		}
	} else {
		v.Ready = true
	}
	if a.Stats != nil {
		s := a.Stats.Stats()
		v.TrackedUsers, v.ActiveSessions, v.EvictedUsers = s.TrackedUsers, s.ActiveSessions, s.EvictedUsers
		v.StoreCalls, v.StoreErrors = s.StoreCalls, s.StoreErrors
	}
	if m := a.Monitor; m != nil {
		v.Totals = m.totals()
		v.Rates = m.Rates()
		v.Refusals = RecentRefusals{Count: m.RefusalTotal(), WindowSeconds: int(m.RefusalWindow().Seconds())}
		v.WhatIf = m.WhatIf()
	}
	writeJSON(w, v)
}

func (a *admin) top(w http.ResponseWriter, r *http.Request) {
	n := defaultTop
	if q := r.URL.Query().Get("n"); q != "" {
		v, err := strconv.Atoi(q)
		if err != nil || v < 1 || v > MaxTop {
			proxy.WriteProblem(w, http.StatusBadRequest, "invalid-parameter",
				"Bad request", "n must be a whole number from 1 to "+strconv.Itoa(MaxTop)+".")
			return
		}
		n = v
	}
	by := r.URL.Query().Get("by")
	if by != "" && by != "active" && by != "shared" {
		proxy.WriteProblem(w, http.StatusBadRequest, "invalid-parameter",
			"Bad request", "by must be active or shared.")
		return
	}
	v := TopUsers{ByRefusals: []limiter.UserCount{}}
	if m := a.Monitor; m != nil {
		v.ByActive = m.TopActive(n)
		if by == "shared" {
			v.ByShared = m.TopShared(n)
		}
		v.ByRefusals = m.TopRefused(n)
		v.WindowSeconds = int(m.RefusalWindow().Seconds())
	}
	writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
