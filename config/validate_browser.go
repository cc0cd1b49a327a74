package config

import (
	"net/url"
	"strings"
)

// CORSOriginList returns -cors-origins as a list: each origin trimmed and
// lower-cased as browsers send it, or the single entry "*"; nil when CORS is
// off.
func (c Config) CORSOriginList() []string {
	var out []string
	for o := range strings.SplitSeq(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, strings.ToLower(o))
		}
	}
	return out
}

// validateBrowser checks -cors-origins: "*" alone, or origins each a bare
// scheme://host[:port], as a browser's Origin header spells them (no path,
// no query, no user).
func (c Config) validateBrowser(bad func(flagName, format string, args ...any)) {
	origins := c.CORSOriginList()
	if strings.TrimSpace(c.CORSOrigins) != "" && len(origins) == 0 {
		bad("cors-origins", "%q names no origin; leave it empty to turn CORS off", c.CORSOrigins)
	}
	for _, o := range origins {
		if o == "*" {
			if len(origins) > 1 {
				bad("cors-origins", "\"*\" allows every origin; give it alone, not in a list")
			}
			continue
		}
		if !validOrigin(o) {
			bad("cors-origins", "%q is not an origin; want scheme://host[:port], e.g. https://player.example.com", o)
		}
	}
}

func validOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return false
	}
	if p := u.Port(); p != "" {
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return u.Hostname() != "" && u.Scheme+"://"+u.Host == o
}
