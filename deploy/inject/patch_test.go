package inject

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	sigsyaml "sigs.k8s.io/yaml"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		before, after string
		want          string
	}{
		{name: "equal", before: `{"a":1,"b":[1,2]}`, after: `{"a":1,"b":[1,2]}`, want: `null`},
		{name: "member added, removed, replaced", before: `{"a":1,"b":2}`, after: `{"b":3,"c":{"d":true}}`,
			want: `[{"op":"remove","path":"/a"},{"op":"replace","path":"/b","value":3},{"op":"add","path":"/c","value":{"d":true}}]`},
		{name: "pointer escaping", before: `{"m":{}}`, after: `{"m":{"prometheus.io/port":"9090","a~b":"x"}}`,
			want: `[{"op":"add","path":"/m/a~0b","value":"x"},{"op":"add","path":"/m/prometheus.io~1port","value":"9090"}]`},
		{name: "array elements", before: `{"l":[{"n":1},{"n":2}]}`, after: `{"l":[{"n":1},{"n":5}]}`,
			want: `[{"op":"replace","path":"/l/1/n","value":5}]`},
		{name: "array appended", before: `{"l":[1]}`, after: `{"l":[1,2,3]}`,
			want: `[{"op":"add","path":"/l/-","value":2},{"op":"add","path":"/l/-","value":3}]`},
		{name: "array shortened", before: `{"l":[1,2]}`, after: `{"l":[2]}`, want: `[{"op":"replace","path":"/l","value":[2]}]`},
		{name: "type changed", before: `{"a":"1"}`, after: `{"a":1}`, want: `[{"op":"replace","path":"/a","value":1}]`},
		{name: "null to object", before: `{"a":null}`, after: `{"a":{}}`, want: `[{"op":"replace","path":"/a","value":{}}]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ops, err := diff("", []byte(tc.before), []byte(tc.after))
			require.NoError(t, err)
			got, err := json.Marshal(ops)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
			if len(ops) == 0 {
				return
			}
			// An independent RFC 6902 implementation agrees.
			p, err := jsonpatch.DecodePatch(got)
			require.NoError(t, err)
			patched, err := p.Apply([]byte(tc.before))
			require.NoError(t, err)
			assert.JSONEq(t, tc.after, string(patched))
		})
	}
}

func TestApplyToNode(t *testing.T) {
	t.Parallel()
	const doc = "# head\na: 1 # keep\nl:\n- x\n- y\n"
	tests := []struct {
		name string
		ops  string
		want string
		err  string
	}{
		{name: "replace keeps the comment", ops: `[{"op":"replace","path":"/a","value":2}]`, want: "# head\na: 2 # keep\nl:\n- x\n- y\n"},
		{name: "add to a mapping", ops: `[{"op":"add","path":"/b","value":{"c":"true"}}]`, want: "# head\na: 1 # keep\nl:\n- x\n- y\nb:\n  c: \"true\"\n"},
		{name: "insert, append, remove", ops: `[{"op":"add","path":"/l/0","value":"w"},{"op":"add","path":"/l/-","value":"z"},{"op":"remove","path":"/l/1"}]`,
			want: "# head\na: 1 # keep\nl:\n- w\n- y\n- z\n"},
		{name: "add creates parents", ops: `[{"op":"add","path":"/m/n/o","value":1}]`, want: "# head\na: 1 # keep\nl:\n- x\n- y\nm:\n  n:\n    o: 1\n"},
		{name: "remove a member", ops: `[{"op":"remove","path":"/a"}]`, want: "l:\n- x\n- y\n"},
		{name: "replace a missing member", ops: `[{"op":"replace","path":"/nope","value":1}]`, err: `replace /nope: no "nope"`},
		{name: "index out of range", ops: `[{"op":"replace","path":"/l/2","value":1}]`, err: `replace /l/2: index "2" out of range`},
		{name: "under a scalar", ops: `[{"op":"add","path":"/a/b","value":1}]`, err: `add /a/b: parent of "b" is neither an object nor an array`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var root yaml.Node
			require.NoError(t, yaml.Unmarshal([]byte(doc), &root))
			var ops []Operation
			require.NoError(t, json.Unmarshal([]byte(tc.ops), &ops))
			err := applyToNode(&root, ops)
			if tc.err != "" {
				require.Error(t, err)
				assert.Equal(t, tc.err, err.Error())
				return
			}
			require.NoError(t, err)
			out, err := encode(&root, []byte(doc))
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(out))
		})
	}
}

// TestYAMLPatchMatchesJSONPatch: the YAML applier and an RFC 6902 library
// give the same document for the operations diff produces.
func TestYAMLPatchMatchesJSONPatch(t *testing.T) {
	t.Parallel()
	before := `{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}]}],"initContainers":[{"name":"i"}]}}`
	after := `{"metadata":{"labels":{"a":"b"},"annotations":{"x/y":"1"}},"spec":{"containers":[{"name":"c","ports":[{"containerPort":80}]}],"initContainers":[{"name":"i"},{"name":"s","args":["-a","-b"]}],"terminationGracePeriodSeconds":50}}`
	ops, err := diff("", []byte(before), []byte(after))
	require.NoError(t, err)
	var root yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(before), &root))
	require.NoError(t, applyToNode(&root, ops))
	out, err := encode(&root, nil)
	require.NoError(t, err)
	got, err := sigsyaml.YAMLToJSON(out)
	require.NoError(t, err)
	assert.JSONEq(t, after, string(got))
}

func TestSplitDocuments(t *testing.T) {
	t.Parallel()
	docs, err := splitDocuments([]byte("a: 1\n---\nb: 2\n--- # c\n---\r\nd: 4"))
	require.NoError(t, err)
	require.Len(t, docs, 4)
	assert.Equal(t, "a: 1\n", string(docs[0].body))
	assert.Equal(t, "---\n", string(docs[1].sep))
	assert.Equal(t, 3, docs[1].line)
	assert.Equal(t, "--- # c\n", string(docs[2].sep))
	assert.Empty(t, docs[2].body)
	assert.Equal(t, "d: 4", string(docs[3].body))
	assert.Equal(t, 6, docs[3].line)
}

func TestIndentedSequences(t *testing.T) {
	t.Parallel()
	assert.False(t, indentedSequences([]byte("spec:\n  containers:\n  - name: a\n")))
	assert.True(t, indentedSequences([]byte("spec:\n  containers:\n    - name: a\n")))
	assert.False(t, indentedSequences([]byte("a: 1\n")))
}
