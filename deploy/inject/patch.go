package inject

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Operation is one RFC 6902 JSON patch operation.
type Operation struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value,omitempty"`
}

// diff returns the operations that turn before into after, both JSON
// documents, under path prefix. Objects are compared key by key; arrays of
// equal length element by element; a longer array that starts with the
// shorter one gets its new elements appended; any other array is replaced
// whole. Both sides must come from the same encoder (the typed Kubernetes
// structs), so that equal values are equal bytes.
func diff(prefix string, before, after []byte) ([]Operation, error) {
	var ops []Operation
	if err := diffValue(prefix, before, after, &ops); err != nil {
		return nil, err
	}
	return ops, nil
}

func diffValue(path string, a, b json.RawMessage, ops *[]Operation) error {
	switch ka, kb := jsonKind(a), jsonKind(b); {
	case ka == '{' && kb == '{':
		var ma, mb map[string]json.RawMessage
		if err := unmarshalBoth(a, b, &ma, &mb); err != nil {
			return err
		}
		keys := make([]string, 0, len(ma)+len(mb))
		for k := range ma {
			keys = append(keys, k)
		}
		for k := range mb {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := path + "/" + escapePointer(k)
			va, inA := ma[k]
			vb, inB := mb[k]
			switch {
			case !inB:
				*ops = append(*ops, Operation{Op: "remove", Path: p})
			case !inA:
				*ops = append(*ops, Operation{Op: "add", Path: p, Value: vb})
			default:
				if err := diffValue(p, va, vb, ops); err != nil {
					return err
				}
			}
		}
	case ka == '[' && kb == '[':
		var sa, sb []json.RawMessage
		if err := unmarshalBoth(a, b, &sa, &sb); err != nil {
			return err
		}
		switch {
		case len(sa) == len(sb):
			for i := range sa {
				if err := diffValue(path+"/"+strconv.Itoa(i), sa[i], sb[i], ops); err != nil {
					return err
				}
			}
		case len(sb) > len(sa) && slices.EqualFunc(sa, sb[:len(sa)], equalJSON):
			for _, v := range sb[len(sa):] {
				*ops = append(*ops, Operation{Op: "add", Path: path + "/-", Value: v})
			}
		default:
			*ops = append(*ops, Operation{Op: "replace", Path: path, Value: b})
		}
	default:
		if !equalJSON(a, b) {
			*ops = append(*ops, Operation{Op: "replace", Path: path, Value: b})
		}
	}
	return nil
}

func unmarshalBoth(a, b []byte, va, vb any) error {
	if err := json.Unmarshal(a, va); err != nil {
		return fmt.Errorf("comparing JSON: %w", err)
	}
	if err := json.Unmarshal(b, vb); err != nil {
		return fmt.Errorf("comparing JSON: %w", err)
	}
	return nil
}

func jsonKind(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func equalJSON(a, b json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(a), bytes.TrimSpace(b))
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// splitPointer splits a JSON pointer into its unescaped tokens.
func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("JSON pointer %q does not start with /", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}
