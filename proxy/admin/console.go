package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/streamgate/streamgate/proxy"
)

// The console and the API explorer are static files built into the binary:
// nothing is fetched from the internet and nothing needs a build step. They
// carry no data, so they are served without the admin token; every call they
// make for data goes to the token-protected API.
//
//go:embed web openapi.json
var assets embed.FS

// Content-Security-Policy of the pages: everything from this listener only.
// The explorer may call the proxy listener (another origin) when a person
// tries the player endpoints, and Swagger UI sets inline styles.
const (
	consolePolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
	docsPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; " +
		"connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

// staticFiles serves embedded files with an ETag, so a browser revalidates
// the 2 MB of Swagger UI with one cheap request instead of downloading it.
type staticFiles struct {
	once  sync.Once
	etags map[string]string
}

func (s *staticFiles) etag(name string) string {
	s.once.Do(func() {
		s.etags = make(map[string]string)
		_ = fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := assets.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			s.etags[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
			return nil
		})
	})
	return s.etags[name]
}

// serve writes the embedded file name, or a 404 problem when there is none.
func (s *staticFiles) serve(w http.ResponseWriter, r *http.Request, name, policy string) {
	b, err := assets.ReadFile(name)
	if err != nil {
		proxy.WriteProblem(w, http.StatusNotFound, "not-found", "Not found", "There is no such file.")
		return
	}
	h := w.Header()
	h.Set("ETag", s.etag(name))
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	if policy != "" {
		h.Set("Content-Security-Policy", policy)
		h.Set("Referrer-Policy", "no-referrer")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func (a *admin) console(w http.ResponseWriter, r *http.Request) {
	a.static.serve(w, r, "web/index.html", consolePolicy)
}

func (a *admin) consoleAsset(w http.ResponseWriter, r *http.Request) {
	a.static.serve(w, r, path.Join("web", path.Base(r.PathValue("file"))), consolePolicy)
}

func (a *admin) docs(w http.ResponseWriter, r *http.Request) {
	a.static.serve(w, r, "web/docs.html", docsPolicy)
}

func (a *admin) docsAsset(w http.ResponseWriter, r *http.Request) {
	a.static.serve(w, r, path.Join("web/swagger-ui", path.Base(r.PathValue("file"))), docsPolicy)
}

func (a *admin) openAPI(w http.ResponseWriter, r *http.Request) {
	a.static.serve(w, r, "openapi.json", "")
}
