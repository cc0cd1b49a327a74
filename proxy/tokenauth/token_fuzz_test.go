package tokenauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// FuzzQueryValue checks the allocation-free query scan against url.ParseQuery.
func FuzzQueryValue(f *testing.F) {
	for _, s := range [][2]string{
		{"token=a.b.c", "token"}, {"x=1&token=a&token=b", "token"}, {"t%6Fken=a%2Bb", "token"},
		{"token=%zz&token=ok", "token"}, {"a;b=1&token=x", "token"}, {"=v", ""}, {"token", "token"}, {"tok+en=1", "tok en"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, raw, name string) {
		value, n := queryValue(raw, name)
		vals := parseQueryLenient(raw)[name]
		if n != len(vals) || (n > 0 && value != vals[n-1]) {
			t.Fatalf("queryValue(%q, %q) = %q, %d; ParseQuery: %q", raw, name, value, n, vals)
		}
	})
}

func parseQueryLenient(raw string) url.Values {
	v, _ := url.ParseQuery(raw) // keeps every pair it could decode, as queryValue does
	return v
}

// FuzzCookieValue checks the in-place cookie scan against net/http's parser
// for the values tokens are made of.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"streamgate_token=a.b.c", "x=1; streamgate_token=\"a.b.c\"; streamgate_token=d", "streamgate_token=", "a=b;;streamgate_token=z_-.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		const name = "streamgate_token"
		got := cookieValue(http.Header{"Cookie": {header}}, name)
		if got == "" || strings.Trim(got, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != "" {
			return
		}
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		c, err := r.Cookie(name)
		if err != nil || c.Value != got {
			t.Fatalf("cookieValue(%q) = %q; net/http: %v %v", header, got, c, err)
		}
	})
}
