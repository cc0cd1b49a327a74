package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix is put in front of a flag's name, upper-cased with - as _, to
// form its environment variable: -max-streams is STREAMGATE_MAX_STREAMS.
const EnvPrefix = "STREAMGATE_"

// EnvName returns the environment variable of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Parse reads the environment, then args (a flag wins over its variable), and
// validates the result. On -help it writes the usage to output and returns
// flag.ErrHelp. Every other error is one line per problem, each naming its flag.
func Parse(name string, args []string, getenv func(string) string, output io.Writer) (Config, error) {
	c := Default()
	fs := c.flagSet(name)
	fs.SetOutput(io.Discard) // errors are returned, not printed with the usage
	fs.Usage = func() {}
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, name, output)
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (flags go before arguments; see -help)", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { c.MaxUsersGiven = c.MaxUsersGiven || f.Name == "max-users" })
	if c.Version {
		return c, nil
	}
	return c, c.Validate()
}

func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		v := getenv(EnvName(f.Name))
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("invalid value %q for %s (flag -%s): %v", v, EnvName(f.Name), f.Name, err))
		}
	})
	return errors.Join(errs...)
}

func printUsage(fs *flag.FlagSet, name string, w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n", name)
	fmt.Fprintf(w, "streamgate is a reverse proxy that refuses a user's stream beyond -max-streams\n")
	fmt.Fprintf(w, "concurrent playback sessions. Every flag can also be set by its environment\n")
	fmt.Fprintf(w, "variable, shown in brackets; a flag on the command line wins.\n\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// FlagSet returns the proxy's flags bound to a fresh default Config, for
// commands that pass them on: streamgate inject writes them into a sidecar's
// arguments and needs their names and which of them are booleans.
func FlagSet(name string) *flag.FlagSet {
	c := Default()
	return c.flagSet(name)
}

func (c *Config) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.Listen, "listen", c.Listen, "proxy listener `address`")
	fs.StringVar(&c.AdminListen, "admin-listen", c.AdminListen, "admin listener `address` (health, metrics, API); never expose it to players")
	fs.Var(&urlValue{&c.Upstream}, "upstream", "origin base `URL`, e.g. http://127.0.0.1:8081/vod; required unless -demo")
	fs.Var(&durationValue{&c.UpstreamTimeout}, "upstream-timeout", "longest wait for the origin's response headers; bodies are never timed")
	fs.BoolVar(&c.Demo, "demo", c.Demo, "serve a built-in demo origin (HLS and DASH, VOD and live, real H.264/AAC) and use it as the upstream")
	fs.Var(&intValue{&c.MaxStreams}, "max-streams", "concurrent playback sessions per user")
	fs.Var(&durationValue{&c.SessionTTL}, "session-ttl", "heartbeat timeout: a session silent this long has ended")
	fs.StringVar(&c.UserHeader, "user-header", c.UserHeader, "request `header` carrying the user id")
	fs.StringVar(&c.SessionHeader, "session-header", c.SessionHeader, "request `header` carrying the session id")
	fs.StringVar(&c.Identity, "identity", c.Identity, "where identity comes from: header (trusted -user-header/-session-header, set by an authenticating layer in front) or jwt (a signed token verified here)")
	fs.StringVar(&c.JWTKeys, "jwt-keys", c.JWTKeys, "jwt: a JWKS `file`, a PEM public key file, or an https:// JWKS URL (cached, refetched on an unknown kid at most once a minute)")
	fs.StringVar(&c.JWTSecretFile, "jwt-secret-file", c.JWTSecretFile, "jwt: `file` holding the HS256 shared secret (at least 32 bytes)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", c.JWTIssuer, "jwt: when set, the token's iss must be this `issuer`")
	fs.StringVar(&c.JWTAudience, "jwt-audience", c.JWTAudience, "jwt: when set, the token's aud must include this `audience`")
	fs.StringVar(&c.JWTSessionClaim, "jwt-session-claim", c.JWTSessionClaim, "jwt: the `claim` holding the session id")
	fs.StringVar(&c.JWTLimitClaim, "jwt-limit-claim", c.JWTLimitClaim, "jwt: an integer `claim` that overrides -max-streams for the token's user; empty ignores it")
	fs.Var(&intValue{&c.JWTCacheSize}, "jwt-cache-size", "jwt: verified tokens kept until their exp, so that repeated requests skip the signature check; 0 turns the cache off")
	fs.StringVar(&c.TokenCookie, "token-cookie", c.TokenCookie, "jwt: `cookie` a token may come in when there is no Authorization: Bearer; empty turns it off")
	fs.StringVar(&c.TokenParam, "token-param", c.TokenParam, "jwt: query `parameter` a token may come in, after the cookie; playlists then carry it on their URIs; empty turns it off")
	fs.StringVar(&c.LimitHeader, "limit-header", c.LimitHeader, "header identity: trusted request `header` carrying the user's limit, overriding -max-streams (default off)")
	fs.BoolVar(&c.CMCD, "cmcd", c.CMCD, "read players' CMCD (CMCD-* headers, CMCD query parameter): its sid is the session id when the configured source has none; d, bl and ot keep a buffering player's session active")
	fs.Var(&durationValue{&c.MaxLease}, "max-lease", "longest a session's buffered media keeps it active after its last request; 0 keeps the TTL-only rule")
	fs.StringVar(&c.CORSOrigins, "cors-origins", c.CORSOrigins, "comma-separated web `origins` (scheme://host[:port]) whose pages may play through the gate, with credentials; * for any page, without credentials (default off)")
	fs.BoolVar(&c.MintSessions, "mint-sessions", c.MintSessions, "give a manifest request with a user but no session id a fresh session id, carried in its URIs as sg_session")
	fs.Var(&intValue{&c.MaxUsers}, "max-users", "capacity of the in-memory table, in users; when full, the least recently active user is dropped (when not given: half the memory limit at 512 bytes a user, at most the default)")
	fs.StringVar((*string)(&c.OnFull), "on-full", string(c.OnFull), "when the in-memory table is full of users with live sessions, a new user: evict (drop the least recently active user) or refuse (answer 503)")
	fs.StringVar(&c.Store, "store", c.Store, "session store: memory, or redis://[user:pass@]host:port[/db] or rediss://... to share one limit across replicas")
	fs.StringVar((*string)(&c.StoreFailure), "store-failure", string(c.StoreFailure), "when the store cannot be asked: open (admit), closed (answer 503) or local (decide from this replica's table)")
	fs.Var(&durationValue{&c.StoreTimeout}, "store-timeout", "deadline of one store call")
	fs.Var(&optionalDurationValue{&c.RefreshInterval}, "refresh-interval", "Redis store: a session refreshed in the store less than this ago is admitted without a store call; 0 always calls (default min(10s, session-ttl/4))")
	fs.StringVar(&c.StateFile, "state-file", c.StateFile, "memory store: write active sessions to this `file` on shutdown and read them back at start")
	fs.StringVar(&c.AdminToken, "admin-token", c.AdminToken, "bearer `token` required by the admin API (all but /healthz, /readyz and /metrics)")
	fs.StringVar(&c.OnLimit, "on-limit", c.OnLimit, "a new session over the limit: refuse (429) or evict-oldest (admit it and end the user's least recently active session, which then gets 410)")
	fs.Var(&durationValue{&c.TombstoneTTL}, "tombstone-ttl", "how long a session ended by the operator or by evict-oldest is answered 410 instead of being admitted again; 0 keeps none")
	fs.BoolVar(&c.Enforce, "enforce", c.Enforce, "refuse what is over the limit; -enforce=false is shadow mode: admit everything, count what would have been refused")
	fs.StringVar(&c.AccessLog, "access-log", c.AccessLog, "one JSON line (ECS field names) per player request: stdout, off, or a `file` to append to")
	fs.Var(&durationValue{&c.ShutdownTimeout}, "shutdown-timeout", "how long in-flight responses may drain after SIGTERM or SIGINT")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	c.hardenFlags(fs)
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	fs.VisitAll(func(f *flag.Flag) { f.Usage += " [" + EnvName(f.Name) + "]" })
	return fs
}

// The value types below give errors that say what was wrong, where the
// standard flag package only says "parse error".

type durationValue struct{ p *time.Duration }

func (v *durationValue) String() string {
	if v.p == nil {
		return ""
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (use a unit, e.g. 60s, 500ms)")
	}
	*v.p = d
	return nil
}

// optionalDurationValue holds -1 until set, so that a derived default applies.
type optionalDurationValue struct{ p *time.Duration }

func (v *optionalDurationValue) String() string {
	if v.p == nil || *v.p < 0 {
		return ""
	}
	return v.p.String()
}

func (v *optionalDurationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (use a unit, e.g. 5s, 0 to turn it off)")
	}
	if d < 0 {
		return fmt.Errorf("must not be negative")
	}
	*v.p = d
	return nil
}

type intValue struct{ p *int }

func (v *intValue) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	*v.p = n
	return nil
}

type urlValue struct{ p **url.URL }

func (v *urlValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (*v.p).String()
}

func (v *urlValue) Set(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an absolute http:// or https:// URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("must not carry a query or fragment")
	}
	*v.p = u
	return nil
}
