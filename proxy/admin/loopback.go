package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/streamgate/streamgate/proxy"
)

// LoopbackOnly guards an admin listener run without -admin-token: every
// path but /healthz, /readyz and /metrics answers only a client on a
// loopback address whose Host names a loopback host (localhost, 127.0.0.1,
// [::1], any port). The Host check stops a web page from reaching the API
// through the browser of someone on this machine (DNS rebinding). Anyone
// else gets 403 naming -admin-token. With a token, RequireToken guards
// instead and this is a no-op.
func LoopbackOnly(token string) func(http.Handler) http.Handler {
	if token != "" {
		return func(next http.Handler) http.Handler { return next }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				next.ServeHTTP(w, r)
				return
			}
			if !loopbackPeer(r.RemoteAddr) || !loopbackHost(r.Host) {
				proxy.WriteProblem(w, http.StatusForbidden, "admin-loopback-only", "Forbidden",
					"Without -admin-token the admin API answers only on localhost (a loopback client and Host); set -admin-token to reach it from elsewhere.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func loopbackPeer(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}

func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	host = strings.TrimSuffix(host, ".")
	switch strings.ToLower(host) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}
