package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunTokenModeOnlyTheVerifiedTokenReachesTheOrigin: a client sends two
// users' tokens, one where the gate looks first and another where an origin
// or CDN may look, spelt as it may read it. The gate charges the first; the origin must not get the
// second, in the query or in a second token cookie, or it would serve one
// user while the gate charged another.
func TestRunTokenModeOnlyTheVerifiedTokenReachesTheOrigin(t *testing.T) {
	t.Parallel()
	secret, secretFile := writeSecret(t)
	origin := newRecordingOrigin(t)
	in := start(t, "-upstream", origin.URL, "-identity", "jwt", "-jwt-secret-file", secretFile)
	token := func(user string) string {
		claims := jwt.MapClaims{"sub": user, "sid": "tv", "exp": time.Now().Add(time.Hour).Unix()}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		require.NoError(t, err)
		return tok
	}
	alice, bob := token("alice"), token("bob")
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(client.CloseIdleConnections)

	for i, tc := range []struct {
		name, query, bearer string
		cookies             []string
		wantCookie          string
	}{
		{name: "bearer, and another token in the query and the cookie", query: "token=" + bob + "&q=1", bearer: alice,
			cookies: []string{"streamgate_token=" + bob + "; lang=fr"}, wantCookie: "lang=fr"},
		{name: "two token cookies", query: "q=1", cookies: []string{"streamgate_token=" + alice + "; streamgate_token=" + bob, "lang=fr"},
			wantCookie: "streamgate_token=" + alice + "; lang=fr"},
		{name: "cookie, and another token in the query", query: "q=1&token=" + bob, cookies: []string{"streamgate_token=\"" + alice + "\""},
			wantCookie: "streamgate_token=\"" + alice + "\""},
		// Spellings an origin reads as the token: Go trims a cookie's name,
		// PHP reads "token[]", "streamgate.token" and "streamgate[token",
		// older PHP decodes "%5F", many ignore case.
		{name: "bearer, and another token cookie with a space before its =", query: "q=1", bearer: alice,
			cookies: []string{"streamgate_token =" + bob}},
		{name: "cookie, and another after a tab", query: "q=1", cookies: []string{"streamgate_token\t=" + bob + "; streamgate_token=" + alice},
			wantCookie: "streamgate_token=" + alice},
		{name: "bearer, and other spellings of the token in the query and the cookie",
			query: "Token=" + bob + "&token%20=" + bob + "&q=1&token[]=" + bob, bearer: alice,
			cookies:    []string{"Streamgate_Token=" + bob + "; streamgate.token=" + bob + "; lang=fr", "streamgate[token=" + bob + "; streamgate%5Ftoken=" + bob},
			wantCookie: "lang=fr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, in.proxyURL+"/vod/seg-1.ts?"+tc.query, nil)
			require.NoError(t, err)
			if tc.bearer != "" {
				req.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			for _, c := range tc.cookies {
				req.Header.Add("Cookie", c)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
			seen, queries := origin.requests(), origin.rawQueries()
			require.Len(t, seen, i+1)
			assert.Equal(t, []string{"alice"}, seen[i].Values("X-User-Id"), "the gate charged alice")
			assert.Equal(t, "q=1", queries[i], "no token in the URL the origin got")
			assert.Equal(t, tc.wantCookie, strings.Join(seen[i].Values("Cookie"), "; "), "no other token in its cookies")
			assert.NotContains(t, strings.Join(seen[i].Values("Cookie"), ";")+queries[i], bob)
		})
	}
	require.NoError(t, in.stop(t))
}
