package proxy_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/identity"
)

// admissionLog is a store that notes each admission it grants.
type admissionLog struct {
	limiter.Store
	mu       sync.Mutex
	admitted []limiter.Request
}

func (s *admissionLog) Admit(ctx context.Context, req limiter.Request) (limiter.Decision, error) {
	d, err := s.Store.Admit(ctx, req)
	if err == nil && d.Admitted() {
		s.mu.Lock()
		s.admitted = append(s.admitted, req)
		s.mu.Unlock()
	}
	return d, err
}

// originVisit is what the fuzzed origin saw of one request.
type originVisit struct {
	path            string
	users, sessions []string
	upgrade         []string
}

// FuzzGateOrigin sends any request line and headers through the real gate
// and upstream to a recording origin, and holds the gate to its promise:
// nothing reaches the origin without an admission, the origin sees exactly
// the admitted identity, only paths under -upstream's, no upgrade.
func FuzzGateOrigin(f *testing.F) {
	var mu sync.Mutex
	var visits []originVisit
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		visits = append(visits, originVisit{path: r.URL.Path, users: r.Header.Values("X-User-Id"),
			sessions: r.Header.Values("X-Session-Id"), upgrade: r.Header.Values("Upgrade")})
		mu.Unlock()
		w.Header().Set("Content-Type", "video/mp2t")
		_, _ = w.Write([]byte("segment"))
	}))
	defer origin.Close()
	mem, err := limiter.NewMemory(limiter.MemoryOptions{TTL: time.Minute, MaxUsers: 10_000, SweepInterval: -1})
	if err != nil {
		f.Fatal(err)
	}
	defer mem.Close()
	store := &admissionLog{Store: mem}
	logger := slog.New(slog.DiscardHandler)
	metrics := proxy.NewMetrics(prometheus.NewRegistry(), nil)
	gate := proxy.Gate(proxy.GateOptions{Store: store, Identity: identity.NewHeaderIdentity("X-User-Id", "X-Session-Id").WithLimitHeader("X-Plan"),
		Limit: 1000, Metrics: metrics, Logger: logger,
		Hardening: proxy.Hardening{LimitHeader: "X-Plan", HoldEvery: 20 * time.Second}})
	base, _ := url.Parse(origin.URL + "/vod")
	up := proxy.NewUpstream(proxy.UpstreamOptions{URL: base, HeaderTimeout: 5 * time.Second, Metrics: metrics, Logger: logger})
	defer up.CloseIdleConnections()
	h := proxy.Handler(logger, gate, up)

	for _, s := range [][6]string{
		{"GET", "/seg-1.ts", "", "alice", "tv", ""},
		{"GET", "/%2e%2e/internal/secret", "", "alice", "tv", ""},
		{"GET", "/a/..%2fb", "x=1", "alice", "tv", "Connection: close, X-User-Id"},
		{"GET", "//_streamgate/session", "", "alice", "tv", ""},
		{"DELETE", "/_streamgate/session/", "", "alice", "tv", ""},
		{"GET", "/ws", "", "alice", "tv", "Connection: Upgrade\r\nUpgrade: websocket"},
		{"GET", "/h2c", "", "alice", "tv", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__"},
		{"GET", "/seg.ts", "", "alice", "tv", "X-User-Id: mallory"},
		{"GET", "/seg.ts", "", "alice", "tv", "Connection: X-Plan\r\nX-Plan: 9"},
		{"POST", "/_streamgate/heartbeat", "", "alice", "tv", "Content-Length: 0"},
		{"GET", "/a/%252E%252e/b", "", ".", "..", "Cookie: a=b\r\nConnection: cookie"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	f.Fuzz(func(t *testing.T, method, path, query, user, session, extra string) {
		target := path
		if query != "" {
			target += "?" + query
		}
		raw := method + " " + target + " HTTP/1.1\r\nHost: gate.example\r\nX-User-Id: " + user + "\r\nX-Session-Id: " + session + "\r\n" + extra + "\r\n\r\n"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // the server would have answered 400 itself
		}
		req.RemoteAddr = "192.0.2.1:1234"
		mu.Lock()
		visits = visits[:0]
		mu.Unlock()
		store.mu.Lock()
		store.admitted = store.admitted[:0]
		store.mu.Unlock()

		h.ServeHTTP(httptest.NewRecorder(), req)

		mu.Lock()
		defer mu.Unlock()
		store.mu.Lock()
		defer store.mu.Unlock()
		if len(visits) == 0 {
			return
		}
		if len(store.admitted) == 0 {
			t.Fatalf("the origin saw %q with no admission", visits[0].path)
		}
		a := store.admitted[len(store.admitted)-1]
		for _, v := range visits {
			if len(v.users) != 1 || v.users[0] != a.UserID || len(v.sessions) != 1 || v.sessions[0] != a.SessionID {
				t.Fatalf("admitted %q/%q, the origin saw %q/%q", a.UserID, a.SessionID, v.users, v.sessions)
			}
			if !strings.HasPrefix(v.path, "/vod/") && v.path != "/vod" {
				t.Fatalf("the origin saw %q, outside /vod", v.path)
			}
			for _, seg := range strings.Split(v.path, "/") {
				if seg == "." || seg == ".." {
					t.Fatalf("the origin saw a dot segment in %q", v.path)
				}
			}
			if len(v.upgrade) > 0 {
				t.Fatalf("the origin saw Upgrade %q", v.upgrade)
			}
		}
	})
}
