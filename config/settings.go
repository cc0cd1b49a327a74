package config

import (
	"flag"
	"net/url"
	"strings"
)

// Setting is one flag and the value in force, as the admin console shows it.
type Setting struct {
	// Flag is the flag's name without its dash.
	Flag string
	// Value is the value in force, with secrets masked.
	Value string
	// Default is true when Value is the flag's default.
	Default bool
	// Help is the flag's usage text.
	Help string
}

// Masked stands for a secret that is set.
const Masked = "•••••• (set)"

// Settings lists every flag with its value in force, in flag order. Secrets
// never appear: a flag whose name ends in -token, -secret or -password shows
// Masked, and a URL shows its password as "xxxxx". File paths (such as
// -jwt-secret-file) are shown: they are not the secret itself.
func (c Config) Settings() []Setting {
	cur, def := c, Default()
	curFS, defFS := cur.flagSet("streamgate"), def.flagSet("streamgate")
	var out []Setting
	curFS.VisitAll(func(f *flag.Flag) {
		if f.Name == "version" {
			return
		}
		v := f.Value.String()
		d := defFS.Lookup(f.Name).Value.String()
		s := Setting{Flag: f.Name, Value: v, Default: v == d, Help: f.Usage}
		if f.Name == "refresh-interval" && v == "" {
			s.Value = c.EffectiveRefreshInterval().String() + " (derived from -session-ttl)"
		}
		s.Value = mask(f.Name, s.Value)
		out = append(out, s)
	})
	return out
}

func mask(name, value string) string {
	if value == "" {
		return ""
	}
	for _, suffix := range []string{"-token", "-secret", "-password"} {
		if strings.HasSuffix(name, suffix) {
			return Masked
		}
	}
	if strings.Contains(value, "://") {
		if u, err := url.Parse(value); err == nil {
			if q := u.Query(); q.Has("password") {
				q.Set("password", "xxxxx")
				u.RawQuery = q.Encode()
			}
			return u.Redacted()
		}
		return Masked // unparsable, and may carry credentials
	}
	return value
}
