package proxy_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/proxytest"
)

// TestForwardedForBelievedFromTrustedProxiesOnly: a client can write
// anything in X-Forwarded-For; only a trusted proxy's word counts.
func TestForwardedForBelievedFromTrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		xff     []string
		want    string // the session's recorded address; "" = the peer's
	}{
		{"untrusted peer: its header is ignored", nil, []string{"203.0.113.9"}, ""},
		{"trusted peer: its client", loopback, []string{"203.0.113.9"}, "203.0.113.9"},
		{"trusted: the rightmost untrusted hop", loopback, []string{"192.0.2.1, 203.0.113.9"}, "203.0.113.9"},
		{"trusted: trusted hops skipped", loopback, []string{"203.0.113.9, 127.0.0.5", "::1"}, "203.0.113.9"},
		{"trusted: garbage stops the walk", loopback, []string{"203.0.113.9, junk"}, "127.0.0.1"},
		{"trusted: no header", loopback, nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newHardGate(t, okOrigin, hardOptions{hardening: proxy.Hardening{Client: proxy.ClientAddr{TrustedProxies: tc.trusted}}})
			headers := []string{alice}
			for _, v := range tc.xff {
				headers = append(headers, "X-Forwarded-For: "+v)
			}
			resp, body := g.raw(t, "GET /seg-1.ts HTTP/1.1", headers...)
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			s := g.sessionsOf(t, "alice")
			require.Len(t, s, 1)
			if tc.want == "" {
				assert.Contains(t, s[0].Device.Address, "127.0.0.1:", "the peer")
			} else {
				assert.Equal(t, tc.want, s[0].Device.Address)
			}
		})
	}
}

// TestSharedSessionCounted: one session id used from two client networks at
// once is counted; with -session-binding network it takes a second slot.
func TestSharedSessionCounted(t *testing.T) {
	t.Parallel()
	trusted := proxy.ClientAddr{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	from := func(g *hardGate, xff, session string) int {
		resp, _ := g.raw(t, "GET /seg-1.ts HTTP/1.1", "X-User-Id: erin", "X-Session-Id: "+session, "X-Forwarded-For: "+xff)
		return resp.StatusCode
	}
	t.Run("counted without binding", func(t *testing.T) {
		t.Parallel()
		g := newHardGate(t, okOrigin, hardOptions{limit: 1, hardening: proxy.Hardening{Client: trusted}})
		assert.Equal(t, 200, from(g, "203.0.113.9", "shared"))
		assert.Equal(t, 200, from(g, "203.0.113.77", "shared"), "the same /24")
		assert.Zero(t, proxytest.MetricValue(t, g.reg, "streamgate_shared_sessions_total"))
		assert.Equal(t, 200, from(g, "198.51.100.9", "shared"), "another network shares the slot")
		assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_shared_sessions_total"))
		assert.Equal(t, 200, from(g, "192.0.2.9", "shared"))
		assert.Equal(t, 1.0, proxytest.MetricValue(t, g.reg, "streamgate_shared_sessions_total"), "counted once per session")
	})
	t.Run("a crowd with binding", func(t *testing.T) {
		t.Parallel()
		g := newHardGate(t, okOrigin, hardOptions{limit: 2, hardening: proxy.Hardening{Client: trusted},
			rules: limiter.Rules{BindNetwork: true, SharedWindow: 400 * time.Millisecond}})
		assert.Equal(t, 200, from(g, "203.0.113.9", "shared"))
		assert.Equal(t, 200, from(g, "198.51.100.9", "shared"), "a second network takes the second slot")
		assert.Equal(t, 429, from(g, "192.0.2.9", "shared"), "a third network is over the limit")
		assert.Len(t, g.sessionsOf(t, "erin"), 2)
	})
	t.Run("a phone moving networks keeps playing", func(t *testing.T) {
		t.Parallel()
		g := newHardGate(t, okOrigin, hardOptions{limit: 1, hardening: proxy.Hardening{Client: trusted},
			rules: limiter.Rules{BindNetwork: true, SharedWindow: 300 * time.Millisecond}})
		assert.Equal(t, 200, from(g, "203.0.113.9", "phone"), "on Wi-Fi")
		assert.Equal(t, 429, from(g, "198.51.100.9", "phone"), "on cellular while Wi-Fi still plays: another stream")
		eventually(t, "the phone silent on Wi-Fi for the window moves to cellular", func() bool {
			return from(g, "198.51.100.9", "phone") == 200
		})
		assert.Len(t, g.sessionsOf(t, "erin"), 1)
	})
}
