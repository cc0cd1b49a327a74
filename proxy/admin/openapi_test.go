package admin_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/proxy"
	"github.com/streamgate/streamgate/proxy/admin"
)

// The routes of the proxy listener that the document describes: the control
// endpoints. Everything else there is proxied to the origin.
var playerRoutes = []string{
	http.MethodPost + " " + proxy.HeartbeatPath,
	http.MethodDelete + " " + proxy.SessionPath,
}

func loadOpenAPI(t *testing.T) (*v3.Document, validator.Validator) {
	t.Helper()
	doc, err := libopenapi.NewDocument(admin.OpenAPIDocument())
	require.NoError(t, err)
	model, err := doc.BuildV3Model()
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	return &model.Model, v
}

// documented returns "METHOD /path" for every operation of the document.
func documented(doc *v3.Document) []string {
	var out []string
	for path, item := range doc.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	slices.Sort(out)
	return out
}

func TestOpenAPIDocumentIsValid31(t *testing.T) {
	t.Parallel()
	doc, v := loadOpenAPI(t)
	assert.Equal(t, "3.1.0", doc.Version)
	ok, errs := v.ValidateDocument()
	for _, e := range errs {
		t.Errorf("%s: %s (%s)", e.ValidationType, e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			t.Errorf("  %s at %s", se.Reason, se.FieldPath+" "+se.KeywordLocation)
		}
	}
	assert.True(t, ok)
}

// TestOpenAPIDocumentsEveryRoute holds the document and the servers to each
// other: the same routes on both sides, and no undocumented method answered.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	doc, _ := loadOpenAPI(t)
	var served []string
	for _, p := range append(admin.AdminPatterns(), playerRoutes...) {
		served = append(served, strings.Replace(p, "/{$}", "/", 1)) // the mux's exact-root pattern is the document's "/"
	}
	slices.Sort(served)
	assert.Equal(t, served, documented(doc), "every route served is documented, and every documented route is served")

	// Black box: no method the document leaves out is answered on its paths.
	r := newConsoleRig(t, rigOptions{token: "doc-token"})
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	for path, item := range doc.Paths.PathItems.FromOldest() {
		ops := item.GetOperations()
		for _, m := range methods {
			if _, ok := ops.Get(strings.ToLower(m)); ok {
				continue
			}
			resp, _ := r.send(t, docRequest(t, r, m, path))
			assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, resp.StatusCode,
				"%s %s is not documented, yet answered %d", m, path, resp.StatusCode)
		}
	}
}

// docRequest builds a request for a documented path with example values, to
// the listener that serves it, with the token and an identity.
func docRequest(t *testing.T, r *consoleRig, method, path string) *http.Request {
	t.Helper()
	base := r.adminURL
	if strings.HasPrefix(path, "/_streamgate/") {
		base = r.proxyURL
	}
	concrete := strings.NewReplacer("{userId}", "alice", "{sessionId}", "tv", "{file}", "favicon.svg").Replace(path)
	req := mustRequest(t, method, base+concrete)
	req.Header.Set("Authorization", "Bearer "+r.token)
	req.Header.Set("X-User-Id", "alice")
	req.Header.Set("X-Session-Id", "tv")
	return req
}

// TestOpenAPIResponsesMatchTheDocument sends every documented operation, and
// every documented error of the API, to real listeners and validates each
// answer against the document's schemas.
func TestOpenAPIResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	doc, v := loadOpenAPI(t)
	r := newConsoleRig(t, rigOptions{token: "doc-token"})
	for _, s := range []string{"tv", "phone", "laptop"} {
		require.Equal(t, http.StatusOK, r.play(t, "alice", s, "TestPlayer/1.0"))
	}
	r.monitor.Sample()
	r.clock.Advance(1e9)
	r.monitor.Sample()

	type call struct {
		name     string
		method   string
		path     string
		user     string // X-User-Id; "" leaves it out
		session  string
		noToken  bool
		storeOff bool
		status   int
	}
	calls := []call{
		{name: "liveness", method: "GET", path: "/healthz", status: 200},
		{name: "readiness", method: "GET", path: "/readyz", status: 200},
		{name: "metrics", method: "GET", path: "/metrics", status: 200},
		{name: "console", method: "GET", path: "/", status: 200},
		{name: "console style", method: "GET", path: "/assets/console.css", status: 200},
		{name: "console script", method: "GET", path: "/assets/console.js", status: 200},
		{name: "icon", method: "GET", path: "/assets/favicon.svg", status: 200},
		{name: "missing asset", method: "GET", path: "/assets/missing.css", status: 404},
		{name: "explorer", method: "GET", path: "/docs", status: 200},
		{name: "explorer style", method: "GET", path: "/docs/swagger-ui.css", status: 200},
		{name: "explorer script", method: "GET", path: "/docs/swagger-ui-bundle.js", status: 200},
		{name: "missing explorer file", method: "GET", path: "/docs/missing.js", status: 404},
		{name: "document", method: "GET", path: "/openapi.json", status: 200},
		{name: "overview", method: "GET", path: "/v1/overview", status: 200},
		{name: "overview without the token", method: "GET", path: "/v1/overview", noToken: true, status: 401},
		{name: "top", method: "GET", path: "/v1/top?n=5", status: 200},
		{name: "top by shared sessions", method: "GET", path: "/v1/top?by=shared", status: 200},
		{name: "top by something else", method: "GET", path: "/v1/top?by=networks", status: 400},
		{name: "top with a bad n", method: "GET", path: "/v1/top?n=0", status: 400},
		{name: "streams", method: "GET", path: "/v1/users/alice/streams", status: 200},
		{name: "streams of an unknown user", method: "GET", path: "/v1/users/nobody/streams", status: 200},
		{name: "streams of a malformed id", method: "GET", path: "/v1/users/%C3%A9/streams", status: 400},
		{name: "streams without the token", method: "GET", path: "/v1/users/alice/streams", noToken: true, status: 401},
		{name: "a fourth stream", method: "POST", path: "/_streamgate/heartbeat", user: "alice", session: "tablet", status: 429},
		{name: "heartbeat", method: "POST", path: "/_streamgate/heartbeat", user: "alice", session: "tv", status: 204},
		{name: "heartbeat without a user", method: "POST", path: "/_streamgate/heartbeat", session: "tv", status: 401},
		{name: "heartbeat without a session", method: "POST", path: "/_streamgate/heartbeat", user: "alice", status: 400},
		{name: "player ends its session", method: "DELETE", path: "/_streamgate/session", user: "alice", session: "phone", status: 204},
		{name: "admin ends one session", method: "DELETE", path: "/v1/users/alice/streams/laptop", status: 204},
		{name: "admin ends it again", method: "DELETE", path: "/v1/users/alice/streams/laptop", status: 404},
		{name: "admin ends one of a malformed id", method: "DELETE", path: "/v1/users/alice/streams/%20", status: 400},
		{name: "admin ends all", method: "DELETE", path: "/v1/users/alice/streams", status: 204},
		{name: "readiness with the store down", method: "GET", path: "/readyz", storeOff: true, status: 503},
		{name: "overview with the store down", method: "GET", path: "/v1/overview", storeOff: true, status: 200},
		{name: "streams with the store down", method: "GET", path: "/v1/users/alice/streams", storeOff: true, status: 503},
		{name: "admin ends one with the store down", method: "DELETE", path: "/v1/users/alice/streams/tv", storeOff: true, status: 503},
		{name: "admin ends all with the store down", method: "DELETE", path: "/v1/users/alice/streams", storeOff: true, status: 503},
		{name: "heartbeat with the store down", method: "POST", path: "/_streamgate/heartbeat", user: "alice", session: "tv", storeOff: true, status: 503},
		{name: "session end with the store down", method: "DELETE", path: "/_streamgate/session", user: "alice", session: "tv", storeOff: true, status: 503},
	}
	exercised := map[string]bool{}
	for _, c := range calls { // in order: the calls build on each other
		r.store.down.Store(c.storeOff)
		base := r.adminURL
		if strings.HasPrefix(c.path, "/_streamgate/") {
			base = r.proxyURL
		}
		req := mustRequest(t, c.method, base+c.path)
		if !c.noToken {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		if c.user != "" {
			req.Header.Set("X-User-Id", c.user)
		}
		if c.session != "" {
			req.Header.Set("X-Session-Id", c.session)
		}
		resp, body := r.send(t, req)
		if !assert.Equal(t, c.status, resp.StatusCode, "%s: %s", c.name, body) {
			continue
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		ok, errs := v.ValidateHttpResponse(req, resp)
		for _, e := range errs {
			t.Errorf("%s: %s %s answered %d, not as documented: %s (%s)", c.name, c.method, c.path, c.status, e.Message, e.Reason)
			for _, se := range e.SchemaValidationErrors {
				t.Errorf("  %s at %s", se.Reason, se.FieldPath+" "+se.KeywordLocation)
			}
		}
		assert.True(t, ok, c.name)
		if route, _ := findOperation(doc, c.method, req.URL.Path); route != "" {
			exercised[route] = true
		}
	}
	r.store.down.Store(false)
	var missed []string
	for _, op := range documented(doc) {
		if !exercised[op] {
			missed = append(missed, op)
		}
	}
	assert.Empty(t, missed, "documented operations this test never called")
}

// findOperation returns the documented "METHOD /path" that serves a request path.
func findOperation(doc *v3.Document, method, path string) (string, bool) {
	for docPath := range doc.Paths.PathItems.KeysFromOldest() {
		if matchesTemplate(docPath, path) {
			return method + " " + docPath, true
		}
	}
	return "", false
}

func matchesTemplate(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if !strings.HasPrefix(ts[i], "{") && ts[i] != ps[i] {
			return false
		}
	}
	return true
}
