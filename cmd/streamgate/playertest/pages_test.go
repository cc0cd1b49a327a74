package playertest

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPagesSendCMCD checks the pages themselves against a plain origin: with
// CMCD on, each player sends one session id on its segment requests, in the
// mode asked for, and the cookie goes along. The CMCD tests of the gate rest
// on it.
func TestPagesSendCMCD(t *testing.T) {
	sid := regexp.MustCompile(`sid="([^"]+)"`)
	for _, tc := range cmcdCases {
		for _, mode := range []string{"header", "query"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				needMedia(t)
				t.Parallel()
				useBrowser(t)
				var mu sync.Mutex
				var sids []string
				cookies := 0
				files := mediaHandler(mediaDir)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// An origin that lets the pages in, cookies and CMCD
					// headers included, for when the browser checks CORS.
					w.Header().Set("Access-Control-Allow-Origin", pages.URL)
					w.Header().Set("Access-Control-Allow-Credentials", "true")
					if r.Method == http.MethodOptions {
						w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
						w.WriteHeader(http.StatusNoContent)
						return
					}
					if strings.HasSuffix(r.URL.Path, ".m4s") {
						cmcd := r.Header.Get("CMCD-Session")
						if mode == "query" {
							cmcd = r.URL.Query().Get("CMCD")
						}
						mu.Lock()
						sids = append(sids, "")
						if m := sid.FindStringSubmatch(cmcd); m != nil {
							sids[len(sids)-1] = m[1]
						}
						if strings.Contains(r.Header.Get("Cookie"), "streamgate_token=t") {
							cookies++
						}
						mu.Unlock()
					}
					files.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				tb := openPage(t, tc.name, page{Player: tc.player, Src: srv.URL + tc.path, CMCD: mode,
					Cookie: "streamgate_token=t", Cred: true})
				tb.waitPlaying(startWithin)
				mu.Lock()
				defer mu.Unlock()
				require.NotEmpty(t, sids)
				assert.NotEmpty(t, sids[0], "a CMCD sid in the %s", mode)
				for _, s := range sids {
					assert.Equal(t, sids[0], s, "one sid for the whole playback")
				}
				assert.Equal(t, len(sids), cookies, "the cookie on every segment request")
			})
		}
	}
}
