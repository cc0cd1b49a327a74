package proxy

import (
	"net/http"
	"strings"
)

// privateResponse makes a proxied answer unfit for a shared cache: every
// answer here was admitted for one user's session, and a cache in front of
// the gate that kept it would serve it to anyone. Cache-Control gets
// private (a field-qualified private="…" becomes plain private) and loses
// public and s-maxage; max-age and the rest stay, so the player's own cache
// works as the origin meant. CDN-Cache-Control and Surrogate-Control, which
// speak to shared caches only, are removed.
func privateResponse(resp *http.Response) {
	h := resp.Header
	delete(h, "Cdn-Cache-Control")
	delete(h, "Surrogate-Control")
	v := h["Cache-Control"]
	if len(v) == 0 {
		h["Cache-Control"] = privateOnly[:1:1]
		return
	}
	if len(v) == 1 && v[0] == "private" {
		return
	}
	out := make([]string, 0, 4)
	out = append(out, "private")
	for _, line := range v {
		for _, d := range splitDirectives(line) {
			name, _, _ := strings.Cut(d, "=")
			name = strings.TrimSpace(name)
			switch {
			case name == "":
			case strings.EqualFold(name, "private"), strings.EqualFold(name, "public"), strings.EqualFold(name, "s-maxage"):
			default:
				out = append(out, d)
			}
		}
	}
	h["Cache-Control"] = []string{strings.Join(out, ", ")}
}

// privateOnly is the Cache-Control of an answer that had none, shared by
// all of them: ReverseProxy copies the values it sends, and the full slice
// expression makes an append copy rather than write into it.
var privateOnly = []string{"private"}

// splitDirectives splits a Cache-Control value at the commas outside quoted
// strings (no-cache="a, b" is one directive), trimming each.
func splitDirectives(s string) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// modifyResponse is the ReverseProxy's ModifyResponse: the header watch's
// made-up 504 turned into its error, answers made private unless shared is
// set, then the manifest hook when there is one.
func modifyResponse(watch *headerWatch, shared bool, hook func(*http.Response) error) func(*http.Response) error {
	if watch == nil && shared {
		return hook
	}
	return func(resp *http.Response) error {
		if watch != nil && watch.timedOut(resp) {
			return errHeaderTimeout
		}
		if !shared {
			privateResponse(resp)
		}
		if hook != nil {
			return hook(resp)
		}
		return nil
	}
}
