package inject

import (
	"bytes"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// document is one YAML document of a stream, with the separator line that
// came before it, kept so that untouched documents come out byte for byte.
type document struct {
	sep  []byte // "---\n" or the like; empty before the first document
	body []byte
	line int // line of the body's first line in the stream, from 1
}

// separator matches a document separator line: "---", maybe followed by a
// comment. Content after "---" on the same line is refused by splitDocuments.
var separator = regexp.MustCompile(`^---(?:[ \t]+#.*|[ \t]*)\r?\n?$`)

// splitDocuments cuts a YAML stream at its "---" lines.
func splitDocuments(b []byte) ([]document, error) {
	docs := []document{{line: 1}}
	line := 1
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n') + 1
		if end == 0 {
			end = len(b)
		}
		l := b[:end]
		b = b[end:]
		line++
		switch {
		case separator.Match(l):
			docs = append(docs, document{sep: l, line: line})
		case bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\t'):
			return nil, fmt.Errorf("line %d: content after the document separator \"---\" is not supported; put it on the next line", line-1)
		default:
			cur := &docs[len(docs)-1]
			cur.body = append(cur.body, l...)
		}
	}
	return docs, nil
}

// encode writes a changed document, in the sequence indentation its
// original used (kubectl and kustomize write "- " at the key's indentation).
func encode(root *yaml.Node, original []byte) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if !indentedSequences(original) {
		enc.CompactSeqIndent()
	}
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var keyThenItem = regexp.MustCompile(`(?m)^( *)[^\s#-][^\n]*:[ \t]*\n( *)- `)

// indentedSequences reports whether the first block sequence of a document
// is indented under its key.
func indentedSequences(b []byte) bool {
	m := keyThenItem.FindSubmatch(b)
	return m != nil && len(m[2]) > len(m[1])
}

// isJSON reports whether a document is written as JSON (kubectl get -o json).
func isJSON(body []byte) bool {
	t := bytes.TrimSpace(body)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
