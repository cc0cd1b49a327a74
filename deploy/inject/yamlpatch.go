package inject

import (
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// applyToNode applies JSON patch operations to a YAML node tree in place,
// so that what the patch does not touch keeps its order, style and comments.
// Unlike RFC 6902, "add" creates missing parent objects: a typed round trip
// can show an empty object (a pod template's metadata) that the YAML lacks.
func applyToNode(root *yaml.Node, ops []Operation) error {
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	for _, op := range ops {
		if err := applyOne(root, op); err != nil {
			return fmt.Errorf("%s %s: %w", op.Op, op.Path, err)
		}
	}
	return nil
}

func applyOne(root *yaml.Node, op Operation) error {
	tokens, err := splitPointer(op.Path)
	if err != nil {
		return err
	}
	if len(tokens) == 0 {
		return fmt.Errorf("cannot patch the whole document")
	}
	parent := root
	for _, t := range tokens[:len(tokens)-1] {
		next, err := child(parent, t)
		if err != nil {
			return err
		}
		if next == nil {
			if op.Op != "add" || parent.Kind != yaml.MappingNode {
				return fmt.Errorf("no %q", t)
			}
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			parent.Content = append(parent.Content, scalarKey(t), next)
		}
		parent = next
	}
	last := tokens[len(tokens)-1]
	var value *yaml.Node
	if op.Op != "remove" {
		if value, err = jsonToNode(op.Value); err != nil {
			return err
		}
	}
	switch parent.Kind {
	case yaml.MappingNode:
		return applyToMapping(parent, last, op.Op, value)
	case yaml.SequenceNode:
		return applyToSequence(parent, last, op.Op, value)
	default:
		return fmt.Errorf("parent of %q is neither an object nor an array", last)
	}
}

func applyToMapping(m *yaml.Node, key, op string, value *yaml.Node) error {
	i := mappingIndex(m, key)
	switch {
	case op == "remove" && i >= 0:
		m.Content = append(m.Content[:i], m.Content[i+2:]...)
	case op == "remove" || (op == "replace" && i < 0):
		return fmt.Errorf("no %q", key)
	case i >= 0:
		value.HeadComment, value.LineComment, value.FootComment = m.Content[i+1].HeadComment, m.Content[i+1].LineComment, m.Content[i+1].FootComment
		m.Content[i+1] = value
	default:
		m.Content = append(m.Content, scalarKey(key), value)
	}
	return nil
}

func applyToSequence(s *yaml.Node, token, op string, value *yaml.Node) error {
	if token == "-" && op == "add" {
		s.Content = append(s.Content, value)
		return nil
	}
	i, err := strconv.Atoi(token)
	if err != nil || i < 0 || i > len(s.Content) || (i == len(s.Content) && op != "add") {
		return fmt.Errorf("index %q out of range", token)
	}
	switch op {
	case "add":
		s.Content = append(s.Content[:i], append([]*yaml.Node{value}, s.Content[i:]...)...)
	case "replace":
		s.Content[i] = value
	case "remove":
		s.Content = append(s.Content[:i], s.Content[i+1:]...)
	default:
		return fmt.Errorf("unsupported operation %q", op)
	}
	return nil
}

// child returns the node under token, nil when a mapping lacks it.
func child(n *yaml.Node, token string) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.MappingNode:
		if i := mappingIndex(n, token); i >= 0 {
			return n.Content[i+1], nil
		}
		return nil, nil
	case yaml.SequenceNode:
		i, err := strconv.Atoi(token)
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil, fmt.Errorf("index %q out of range", token)
		}
		return n.Content[i], nil
	default:
		return nil, fmt.Errorf("%q is under a scalar", token)
	}
}

// mappingIndex is the index of key's key node in m.Content, or -1.
func mappingIndex(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return i
		}
	}
	return -1
}

func scalarKey(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// jsonToNode turns a JSON value into block-style YAML nodes, keeping the
// order of its object keys (the order of the Kubernetes struct fields).
func jsonToNode(raw []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("converting %s to YAML: %w", raw, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("converting %s to YAML: not one value", raw)
	}
	blockStyle(doc.Content[0])
	return doc.Content[0], nil
}

// blockStyle drops flow and quoting styles; the encoder quotes again any
// string that would otherwise read as another type ("true", "8080").
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
