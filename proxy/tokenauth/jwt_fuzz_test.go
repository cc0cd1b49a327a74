package tokenauth_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/streamgate/streamgate/proxy/identity"
	"github.com/streamgate/streamgate/proxy/proxytest"
	"github.com/streamgate/streamgate/proxy/tokenauth"
)

// FuzzJWTIdentify throws arbitrary Authorization headers, cookies and query
// strings at the jwt identifier: it never panics, and its every answer is
// well formed (valid ids, or a 400/401 with a reason and a detail; a 401
// always with a Bearer challenge).
func FuzzJWTIdentify(f *testing.F) {
	k := proxytest.TestKeys()
	now := time.Now()
	secretFile := proxytest.WriteFile(f, "secret", k.Secret)
	good := proxytest.Mint(f, jwt.SigningMethodHS256, k.Secret, "", proxytest.ClaimsFor(now, "fuzz-user", "fuzz-session"))
	limited := func() string {
		c := proxytest.ClaimsFor(now, "u", "s")
		c["max_streams"] = "2"
		return proxytest.Mint(f, jwt.SigningMethodHS256, k.Secret, "", c)
	}()
	for _, s := range [][3]string{
		{"Bearer " + good, "", ""},
		{"", "streamgate_token=" + good, ""},
		{"", "", "token=" + good},
		{"", "", "a=1&token=" + limited + "&b=2"},
		{"Basic Zm9vOmJhcg==", "", "token=" + good},
		{"Bearer", "", ""},
		{"bEaReR   " + good + "  ", "", ""},
		{"", "streamgate_token=\"" + good + "\"", ""},
		{"", "", "token=a&token=b"},
		{"", "", "token=%zz"},
		{"Bearer " + strings.Replace(good, "e", "f", 1), "", ""},
		{"Bearer a.b.c", "x=1; streamgate_token=", "token="},
		{"", "", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	id, err := tokenauth.NewJWTIdentity(tokenauth.JWTOptions{SecretFile: secretFile, SessionClaim: "sid", LimitClaim: "max_streams",
		Cookie: "streamgate_token", Param: "token", CacheSize: 128, Now: func() time.Time { return now }, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = id.Close() })

	f.Fuzz(func(t *testing.T, authorization, cookie, rawQuery string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/x.ts", RawQuery: rawQuery}, Header: http.Header{}, Host: "gate.example"}
		if authorization != "" {
			r.Header["Authorization"] = []string{authorization}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		got, ierr := id.Identify(r)
		if ierr != nil {
			if ierr.Status != http.StatusUnauthorized && ierr.Status != http.StatusBadRequest {
				t.Fatalf("status %d", ierr.Status)
			}
			if ierr.Reason == "" || ierr.Detail == "" {
				t.Fatalf("no reason or detail: %+v", ierr)
			}
			if ierr.Status == http.StatusUnauthorized && !strings.HasPrefix(ierr.Challenge, "Bearer") {
				t.Fatalf("a 401 without a Bearer challenge: %+v", ierr)
			}
			return
		}
		if !identity.ValidID(got.UserID) || !identity.ValidID(got.SessionID) {
			t.Fatalf("invalid ids admitted: %+v", got)
		}
		if got.Limit < 0 || got.Limit > identity.MaxLimit {
			t.Fatalf("limit %d", got.Limit)
		}
		if got.PlaylistQuery != "" && !strings.HasPrefix(got.PlaylistQuery, "token=") {
			t.Fatalf("playlist query %q", got.PlaylistQuery)
		}
	})
}
