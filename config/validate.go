package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/identity"
)

// Validate returns every problem of c joined, one line each, each naming its
// flag. It changes nothing.
func (c Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid value for flag -%s: %s", flagName, fmt.Sprintf(format, args...)))
	}

	for _, l := range []struct{ flag, addr string }{{"listen", c.Listen}, {"admin-listen", c.AdminListen}} {
		if _, _, err := net.SplitHostPort(l.addr); err != nil {
			bad(l.flag, "%q is not host:port (e.g. :8080)", l.addr)
		}
	}
	// Port 0 gives each listener a free port of its own, so ":0" twice is fine.
	if _, port, _ := net.SplitHostPort(c.Listen); c.Listen == c.AdminListen && port != "0" {
		bad("admin-listen", "%q is the proxy's -listen address too; the admin API must not face players", c.AdminListen)
	}

	switch {
	case c.Demo && c.Upstream != nil:
		bad("upstream", "-demo serves its own origin; give -upstream or -demo, not both")
	case !c.Demo && c.Upstream == nil:
		bad("upstream", "required (the origin's base URL, e.g. http://127.0.0.1:8081), or use -demo")
	}

	positive := []struct {
		flag string
		ok   bool
	}{
		{"upstream-timeout", c.UpstreamTimeout > 0},
		{"session-ttl", c.SessionTTL > 0},
		{"store-timeout", c.StoreTimeout > 0},
		{"max-streams", c.MaxStreams > 0},
		{"max-users", c.MaxUsers > 0},
	}
	for _, p := range positive {
		if !p.ok {
			bad(p.flag, "must be greater than zero")
		}
	}
	if c.MaxLease < 0 {
		bad("max-lease", "must not be negative (0 keeps the TTL-only rule)")
	}
	if c.ShutdownTimeout < 0 {
		bad("shutdown-timeout", "must not be negative")
	}
	if c.SessionTTL > 0 && c.RefreshInterval >= 0 && 2*c.RefreshInterval >= c.SessionTTL {
		bad("refresh-interval", "%s must be less than half of -session-ttl (%s), or sessions could expire in the store while this replica still admits them", c.RefreshInterval, c.SessionTTL)
	}

	for _, h := range []struct{ flag, name string }{{"user-header", c.UserHeader}, {"session-header", c.SessionHeader}} {
		if !identity.IsToken(h.name) {
			bad(h.flag, "%q is not a valid HTTP header name", h.name)
		}
	}
	if strings.EqualFold(c.UserHeader, c.SessionHeader) {
		bad("session-header", "%q is also the -user-header", c.SessionHeader)
	}

	c.validateIdentity(bad)
	c.validateBrowser(bad)
	c.validateHardening(bad)

	if err := validateStore(c.Store); err != nil {
		bad("store", "%v", err)
	}
	if _, err := limiter.ParseOnFull(string(c.OnFull)); err != nil {
		bad("on-full", "%v", err)
	}
	if _, err := limiter.ParseFailurePolicy(string(c.StoreFailure)); err != nil {
		bad("store-failure", "%v", err)
	} else if c.StoreFailure == limiter.FailClosed && !c.UsesRedis() {
		bad("store-failure", "closed needs a shared store (-store redis://...): the memory store is in this process and is never unavailable")
	}
	if c.StateFile != "" && c.UsesRedis() {
		bad("state-file", "only the memory store keeps its table in this process; Redis keeps sessions itself")
	}

	switch c.OnLimit {
	case OnLimitRefuse, OnLimitEvictOldest:
	default:
		bad("on-limit", "%q; want refuse or evict-oldest", c.OnLimit)
	}
	if c.TombstoneTTL < 0 {
		bad("tombstone-ttl", "must not be negative")
	}
	if strings.TrimSpace(c.AccessLog) == "" {
		bad("access-log", "empty; want stdout, off or a file path")
	}

	switch c.LogFormat {
	case "json", "text":
	default:
		bad("log-format", "%q; want json or text", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q; want debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

func validateStore(s string) error {
	if s == "memory" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		return fmt.Errorf("%q; want memory, redis://host:port[/db] or rediss://host:port[/db]", redact(s))
	}
	// The Redis client parses the URL itself (db, addr=, dial_timeout…):
	// what it would refuse is refused here, at start, with exit status 2.
	if err := limiter.ParseRedisURL(s); err != nil {
		return fmt.Errorf("%q: %v", redact(s), err)
	}
	return nil
}

// redact hides a password in a URL so that error lines can be logged.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
