// Package config parses and validates streamgate's flags and their
// STREAMGATE_* environment variables. It has no side effects: it opens no
// file and no socket.
package config

import (
	"net/url"
	"time"

	"github.com/streamgate/streamgate/limiter"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// Identity sources for -identity.
const (
	IdentityHeader = "header"
	IdentityJWT    = "jwt"
)

// Policies for -on-limit.
const (
	OnLimitRefuse      = "refuse"
	OnLimitEvictOldest = "evict-oldest"
)

// Special values of -access-log; anything else is a file path.
const (
	AccessLogStdout = "stdout"
	AccessLogOff    = "off"
)

// Config is every setting of the proxy command, with its flag name.
type Config struct {
	// Listen is the proxy listener address (-listen, default ":8080").
	Listen string
	// AdminListen is the admin listener address (-admin-listen, default ":9090").
	AdminListen string
	// Upstream is the origin base URL (-upstream); required unless Demo.
	Upstream *url.URL
	// UpstreamTimeout is the longest wait for the origin's response headers
	// (-upstream-timeout, default 15s). Bodies are never timed.
	UpstreamTimeout time.Duration
	// Demo serves the built-in demo origin (proxy/demo) and proxies to it (-demo); default false.
	Demo bool
	// MaxStreams is the number of concurrent sessions per user (-max-streams, default 3).
	MaxStreams int
	// SessionTTL is the heartbeat timeout (-session-ttl, default 60s).
	SessionTTL time.Duration
	// UserHeader and SessionHeader carry the identity (-user-header,
	// -session-header, defaults X-User-Id and X-Session-Id).
	UserHeader, SessionHeader string
	// Identity is where user and session ids come from: header (trusted
	// headers, set by an authenticating layer in front) or jwt (a signed
	// token verified here) (-identity, default header).
	Identity string
	// JWTKeys is a JWKS file, a PEM public key file, or an https:// JWKS URL
	// (-jwt-keys, default none). With -identity jwt, this or JWTSecretFile is required.
	JWTKeys string
	// JWTSecretFile is a file holding the HS256 shared secret
	// (-jwt-secret-file, default none).
	JWTSecretFile string
	// JWTIssuer and JWTAudience, when set, must match the token's iss and aud
	// (-jwt-issuer, -jwt-audience, default none).
	JWTIssuer, JWTAudience string
	// JWTSessionClaim names the claim holding the session id
	// (-jwt-session-claim, default sid).
	JWTSessionClaim string
	// JWTLimitClaim names an integer claim that overrides MaxStreams for the
	// token's user; empty ignores it (-jwt-limit-claim, default max_streams).
	JWTLimitClaim string
	// JWTCacheSize bounds the cache of verified tokens, in tokens; 0 turns it
	// off (-jwt-cache-size, default 65536).
	JWTCacheSize int
	// TokenCookie and TokenParam name the cookie and query parameter a token
	// may also come in, after Authorization: Bearer; empty turns one off
	// (-token-cookie, -token-param, defaults streamgate_token and token).
	TokenCookie, TokenParam string
	// LimitHeader, with -identity header, names a trusted request header
	// carrying the user's limit, overriding MaxStreams (-limit-header,
	// default none: off).
	LimitHeader string
	// CMCD reads the Common Media Client Data players send: its sid is the
	// session id of a request whose configured source gave none, and its d,
	// bl and ot keep a buffering player's session active (-cmcd, default true).
	CMCD bool
	// MaxLease caps how long after a session's last request the media it
	// was given keeps it active; 0 is the TTL-only rule (-max-lease, default 5m).
	MaxLease time.Duration
	// CORSOrigins is a comma-separated list of web origins
	// (scheme://host[:port]) whose pages may play through the gate, with
	// credentials, or "*" for any page, without credentials
	// (-cors-origins, default empty: no CORS).
	CORSOrigins string
	// MintSessions gives a manifest request that has a user but no session
	// id a fresh session id, threaded through the manifest's URIs as
	// sg_session (-mint-sessions, default false).
	MintSessions bool
	// MaxUsers bounds the in-memory table, in users (-max-users, default
	// 1000000, or sized from the memory limit by cmd when not given).
	MaxUsers int
	// MaxUsersGiven is true when -max-users or its variable was given.
	MaxUsersGiven bool
	// OnFull is what a new user gets when the memory table is full of users
	// with live sessions: evict (the least recently active user is dropped)
	// or refuse (503) (-on-full, default evict).
	OnFull limiter.OnFull
	// Store is "memory" or a redis:// or rediss:// URL (-store, default memory).
	Store string
	// StoreFailure is what to do when the store cannot be asked: open, closed
	// or local (-store-failure, default open).
	StoreFailure limiter.FailurePolicy
	// StoreTimeout is the deadline of one store call (-store-timeout, default 100ms).
	StoreTimeout time.Duration
	// RefreshInterval: with a Redis store, a session refreshed in the store less
	// than this ago is admitted without a store call; 0 always calls
	// (-refresh-interval, default min(10s, TTL/4)).
	RefreshInterval time.Duration
	// StateFile, with the memory store, is where active sessions are written on
	// shutdown and read back at start (-state-file, default none).
	StateFile string
	// AdminToken, when set, is the bearer token the admin API requires
	// (-admin-token, default none).
	AdminToken string
	// OnLimit is what a new session over the limit gets: refuse (429) or
	// evict-oldest (admitted, the user's least recently active session
	// ended) (-on-limit, default refuse).
	OnLimit string
	// TombstoneTTL is how long a session ended by the operator or by
	// evict-oldest is answered 410; 0 keeps no tombstones (-tombstone-ttl,
	// default 10m).
	TombstoneTTL time.Duration
	// Enforce refuses what is over the limit; false is shadow mode, which
	// admits everything and counts what it would have refused (-enforce,
	// default true).
	Enforce bool
	// AccessLog is where the access log goes: stdout, off, or a file path
	// opened for appending (-access-log, default stdout).
	AccessLog string
	// ShutdownTimeout is how long in-flight responses may drain after
	// SIGTERM or SIGINT (-shutdown-timeout, default 30s).
	ShutdownTimeout time.Duration
	// LogFormat is json or text (-log-format, default json).
	LogFormat string
	// LogLevel is debug, info, warn or error (-log-level, default info).
	LogLevel string
	// Version prints the version and exits (-version).
	Version bool
	// Hardening is SPEC's Hardening flags (harden.go).
	Hardening
}

// Default returns the configuration with every default of SPEC.md filled in.
func Default() Config {
	return Config{
		Listen:          ":8080",
		AdminListen:     ":9090",
		UpstreamTimeout: 15 * time.Second,
		MaxStreams:      3,
		SessionTTL:      60 * time.Second,
		UserHeader:      "X-User-Id",
		SessionHeader:   "X-Session-Id",
		Identity:        IdentityHeader,
		JWTSessionClaim: "sid",
		JWTLimitClaim:   "max_streams",
		JWTCacheSize:    tokenauth.DefaultTokenCacheSize,
		TokenCookie:     "streamgate_token",
		TokenParam:      "token",
		CMCD:            true,
		MaxLease:        5 * time.Minute,
		MaxUsers:        limiter.DefaultMaxUsers,
		OnFull:          limiter.OnFullEvict,
		Store:           "memory",
		StoreFailure:    limiter.FailOpen,
		StoreTimeout:    limiter.DefaultStoreTimeout,
		RefreshInterval: -1, // unset: derived from SessionTTL by DefaultRefreshInterval
		OnLimit:         OnLimitRefuse,
		TombstoneTTL:    limiter.DefaultTombstoneTTL,
		Enforce:         true,
		AccessLog:       AccessLogStdout,
		ShutdownTimeout: 30 * time.Second,
		LogFormat:       "json",
		LogLevel:        "info",
	}
}

// DefaultRefreshInterval is the refresh interval used when -refresh-interval
// is not given: always well under half the TTL, and 10s at most, which is the
// bound on how long a session ended through another replica may still play
// here. Players fetch a segment every 2-6 s, so 10s sends at most one
// heartbeat in five to the store (5s would send one in three).
func DefaultRefreshInterval(ttl time.Duration) time.Duration {
	return min(10*time.Second, ttl/4)
}

// EffectiveRefreshInterval is RefreshInterval with its default applied.
func (c Config) EffectiveRefreshInterval() time.Duration {
	if c.RefreshInterval < 0 {
		return DefaultRefreshInterval(c.SessionTTL)
	}
	return c.RefreshInterval
}

// UsesRedis reports whether the store is a Redis URL.
func (c Config) UsesRedis() bool { return c.Store != "memory" }
