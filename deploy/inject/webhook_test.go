package inject_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	admissionv1 "k8s.io/api/admission/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/streamgate/streamgate/deploy/inject"
)

// webhookOptions are the options the webhook under test runs with; the
// same options given to the YAML stream injection must give the same pod.
var webhookOptions = inject.Options{
	Port: "http", Image: "ghcr.io/streamgate/streamgate:v1.0.0",
	Args: []string{"-max-streams=2"}, StoreSecret: "streamgate-redis",
}

func newWebhookServer(t *testing.T) *httptest.Server {
	t.Helper()
	in, err := inject.New(webhookOptions)
	require.NoError(t, err)
	srv := httptest.NewServer(inject.NewWebhook(in, slog.New(slog.DiscardHandler)))
	t.Cleanup(srv.Close)
	return srv
}

func review(t *testing.T, srv *httptest.Server, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out admissionv1.AdmissionReview
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotNil(t, out.Response)
	return out
}

func loadReview(t *testing.T) (map[string]any, []byte) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "webhook", "pod-create.json"))
	require.NoError(t, err)
	var r map[string]any
	require.NoError(t, json.Unmarshal(body, &r))
	return r, body
}

// TestWebhookPatchEqualsInject sends a real AdmissionReview, applies the
// returned JSON patch to the pod with an independent RFC 6902
// implementation, and compares the result with what streamgate inject
// writes for the same pod.
func TestWebhookPatchEqualsInject(t *testing.T) {
	t.Parallel()
	srv := newWebhookServer(t)
	r, body := loadReview(t)
	pod, err := json.Marshal(r["request"].(map[string]any)["object"])
	require.NoError(t, err)

	out := review(t, srv, body)
	assert.Equal(t, "admission.k8s.io/v1", out.APIVersion)
	assert.Equal(t, "AdmissionReview", out.Kind)
	assert.Equal(t, "705ab4f5-6393-11e8-b7cc-42010a800002", string(out.Response.UID))
	require.True(t, out.Response.Allowed)
	require.NotNil(t, out.Response.PatchType)
	assert.Equal(t, admissionv1.PatchTypeJSONPatch, *out.Response.PatchType)
	patch, err := jsonpatch.DecodePatch(out.Response.Patch)
	require.NoError(t, err)
	patched, err := patch.Apply(pod)
	require.NoError(t, err)

	podYAML, err := sigsyaml.JSONToYAML(pod)
	require.NoError(t, err)
	in, err := inject.New(webhookOptions)
	require.NoError(t, err)
	injectedYAML, _, err := in.Stream(podYAML)
	require.NoError(t, err)
	injected, err := sigsyaml.YAMLToJSON(injectedYAML)
	require.NoError(t, err)

	var fromWebhook, fromInject map[string]any
	require.NoError(t, json.Unmarshal(patched, &fromWebhook))
	require.NoError(t, json.Unmarshal(injected, &fromInject))
	assert.Equal(t, fromInject, fromWebhook)

	// What the patch must not touch: the API server's defaults and the
	// service account volume stay as they were.
	spec := fromWebhook["spec"].(map[string]any)
	assert.Len(t, spec["volumes"], 2)
	assert.Equal(t, float64(50), spec["terminationGracePeriodSeconds"])
	assert.Len(t, spec["initContainers"], 1)

	// The injected pod, reviewed again (a re-invocation), needs no patch.
	r["request"].(map[string]any)["object"] = fromWebhook
	again, err := json.Marshal(r)
	require.NoError(t, err)
	second := review(t, srv, again)
	assert.True(t, second.Response.Allowed)
	assert.Empty(t, second.Response.Patch)
	assert.Nil(t, second.Response.PatchType)
}

func TestWebhookReviews(t *testing.T) {
	t.Parallel()
	srv := newWebhookServer(t)
	tests := []struct {
		name    string
		change  func(req, pod map[string]any)
		allowed bool
		patched bool
		message string
	}{
		{name: "annotated pod", change: func(map[string]any, map[string]any) {}, allowed: true, patched: true},
		{name: "not annotated", allowed: true, change: func(_, pod map[string]any) {
			delete(meta(pod)["annotations"].(map[string]any), "streamgate.io/inject")
		}},
		{name: "annotated false", allowed: true, change: func(_, pod map[string]any) {
			meta(pod)["annotations"].(map[string]any)["streamgate.io/inject"] = "false"
		}},
		{name: "update, not create", allowed: true, change: func(req, _ map[string]any) { req["operation"] = "UPDATE" }},
		{name: "another kind", allowed: true, change: func(req, _ map[string]any) {
			req["kind"] = map[string]any{"group": "apps", "version": "v1", "kind": "Deployment"}
		}},
		{name: "a subresource", allowed: true, change: func(req, _ map[string]any) { req["subResource"] = "ephemeralcontainers" }},
		{name: "port from the annotation", allowed: true, patched: true, change: func(_, pod map[string]any) {
			meta(pod)["annotations"].(map[string]any)["streamgate.io/port"] = "8081"
		}},
		{name: "missing port is denied", allowed: false, change: func(_, pod map[string]any) {
			meta(pod)["annotations"].(map[string]any)["streamgate.io/port"] = "media"
		}, message: `streamgate: cannot inject the sidecar: no container port "media" (container ports: nginx:8081/http); set -port on the webhook or the streamgate.io/port annotation on the pod`},
		{name: "port collision is denied", allowed: false, change: func(_, pod map[string]any) {
			c := pod["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
			c["ports"] = []any{map[string]any{"name": "http", "containerPort": 8081}, map[string]any{"name": "admin", "containerPort": 15090}}
		}, message: `container "nginx" uses port 15090, streamgate's admin port`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, _ := loadReview(t)
			req := r["request"].(map[string]any)
			tc.change(req, req["object"].(map[string]any))
			body, err := json.Marshal(r)
			require.NoError(t, err)
			out := review(t, srv, body)
			assert.Equal(t, "705ab4f5-6393-11e8-b7cc-42010a800002", string(out.Response.UID))
			assert.Equal(t, tc.allowed, out.Response.Allowed)
			assert.Equal(t, tc.patched, len(out.Response.Patch) > 0)
			if tc.message != "" {
				require.NotNil(t, out.Response.Result)
				assert.Contains(t, out.Response.Result.Message, tc.message)
				assert.Equal(t, int32(http.StatusUnprocessableEntity), out.Response.Result.Code)
			}
		})
	}
}

func meta(pod map[string]any) map[string]any { return pod["metadata"].(map[string]any) }

func TestWebhookBadRequests(t *testing.T) {
	t.Parallel()
	srv := newWebhookServer(t)
	tests := []struct {
		name, method, contentType, body string
		status                          int
	}{
		{name: "GET", method: http.MethodGet, status: http.StatusMethodNotAllowed},
		{name: "not JSON", method: http.MethodPost, contentType: "text/plain", body: "{}", status: http.StatusUnsupportedMediaType},
		{name: "broken JSON", method: http.MethodPost, contentType: "application/json", body: `{"request":`, status: http.StatusBadRequest},
		{name: "no request", method: http.MethodPost, contentType: "application/json", body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, status: http.StatusBadRequest},
		{name: "too large", method: http.MethodPost, contentType: "application/json", body: `{"x":"` + strings.Repeat("a", 5<<20) + `"}`, status: http.StatusBadRequest},
		{name: "pod not JSON", method: http.MethodPost, contentType: "application/json; charset=utf-8", status: http.StatusOK,
			body: `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"metadata":[]}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, srv.URL, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == http.StatusOK {
				var out admissionv1.AdmissionReview
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
				assert.False(t, out.Response.Allowed)
				assert.Contains(t, out.Response.Result.Message, "decoding the pod")
			}
		})
	}
}
