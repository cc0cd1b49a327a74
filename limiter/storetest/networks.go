package storetest

import (
	"context"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter"
)

// runNetworks checks *Client networks*: sessions shared by several networks
// at once are seen, and with binding each network takes its own slot.
func runNetworks(t *testing.T, h Harness) {
	ctx := context.Background()
	T := h.TTL
	net := func(s string) limiter.Network { return limiter.NetworkOf(netip.MustParseAddr(s)) }
	home, cell, cafe := net("192.0.2.10"), net("2001:db8:1:200::7"), net("198.51.100.3")
	from := func(u, sid string, n limiter.Network, limit int) limiter.Request {
		return limiter.Request{UserID: u, SessionID: sid, Limit: limit, Network: n}
	}

	t.Run("a session used from a second network at once is shared, counted once", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{})
		u := newUser("shared")
		assert.False(t, decide(t, s, from(u, "s1", home, 1)).Shared)
		assert.False(t, decide(t, s, from(u, "s1", net("192.0.2.99"), 1)).Shared, "the same /24")
		d := decide(t, s, from(u, "s1", cell, 1))
		assert.Equal(t, limiter.Refreshed, d.Result, "without binding one id is one slot")
		assert.True(t, d.Shared)
		assert.False(t, decide(t, s, from(u, "s1", cafe, 1)).Shared, "once per session")
		assert.Equal(t, 3, only(t, s, u).Networks)
		assert.False(t, decide(t, s, from(u, "s1", cell, 1)).Shared)
	})

	t.Run("a session that moved after a silence is not shared", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{SharedWindow: T / 4})
		u := newUser("moved")
		decide(t, s, from(u, "s1", home, 1))
		h.Advance(t, T/3)
		d := decide(t, s, from(u, "s1", cell, 1))
		assert.Equal(t, limiter.Refreshed, d.Result)
		assert.False(t, d.Shared)
		assert.Equal(t, 2, only(t, s, u).Networks, "two networks used it while it was active")
	})

	t.Run("with binding a second network at once takes its own slot", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{BindNetwork: true, SharedWindow: T / 4})
		u := newUser("bound")
		assert.Equal(t, limiter.Started, decide(t, s, from(u, "s1", home, 2)).Result)
		d := decide(t, s, from(u, "s1", cell, 2))
		assert.Equal(t, limiter.Started, d.Result, "the crowd's second device")
		assert.Equal(t, 2, d.Active)
		assert.True(t, d.Shared)
		d = decide(t, s, from(u, "s1", cafe, 2))
		assert.Equal(t, limiter.Rejected, d.Result, "the crowd's third device: over the limit")
		assert.False(t, d.Shared, "counted once")
		assert.Equal(t, limiter.Refreshed, decide(t, s, from(u, "s1", home, 2)).Result)
		assert.Equal(t, limiter.Refreshed, decide(t, s, from(u, "s1", cell, 2)).Result)
		assert.Equal(t, limiter.Refreshed, decide(t, s, from(u, "s1", 0, 2)).Result, "an unknown network matches any")
		list, err := s.List(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s1"}, ids(list), "listed once per network")

		ended, err := s.End(ctx, u, "s1", limiter.EndedByPlayer)
		require.NoError(t, err)
		assert.True(t, ended)
		list, err = s.List(ctx, u)
		require.NoError(t, err)
		assert.Empty(t, list, "an end ends the id on every network")
	})

	t.Run("with binding a session silent on its network moves", func(t *testing.T) {
		s := h.open(t, T, limiter.Rules{BindNetwork: true, SharedWindow: T / 4})
		u := newUser("phone")
		decide(t, s, from(u, "s1", home, 1))
		h.Advance(t, T/3)
		d := decide(t, s, from(u, "s1", cell, 1))
		assert.Equal(t, limiter.Refreshed, d.Result, "the phone left Wi-Fi and keeps playing")
		assert.Equal(t, 1, d.Active)
		assert.False(t, d.Shared)
		assert.Equal(t, limiter.Rejected, decide(t, s, from(u, "s1", home, 1)).Result, "now the old network is the other one")
	})
}
