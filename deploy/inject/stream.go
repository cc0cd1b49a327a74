package inject

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// templatePaths are the kinds that hold a pod, by apiVersion and kind, with
// the JSON pointer of the pod template ("" for a Pod itself).
var templatePaths = map[[2]string]string{
	{"v1", "Pod"}:              "",
	{"apps/v1", "Deployment"}:  "/spec/template",
	{"apps/v1", "StatefulSet"}: "/spec/template",
	{"apps/v1", "DaemonSet"}:   "/spec/template",
	{"apps/v1", "ReplicaSet"}:  "/spec/template",
}

// Report says what Stream did, for the user's terminal.
type Report struct {
	// Injected names the workloads that now have the sidecar ("Deployment/web").
	Injected []string
	// Retargeted names the Service ports that now target streamgate.
	Retargeted []string
	// Skipped names the workloads left alone, and why.
	Skipped []string
	// Warnings are things the user should know, one sentence each.
	Warnings []string
}

// object is one Kubernetes object of a stream: a document, or an item of a
// List document.
type object struct {
	doc     int
	line    int
	prefix  string // JSON pointer of the object in its document
	raw     json.RawMessage
	header  objectHeader
	display string
}

type objectHeader struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name         string `json:"name"`
		GenerateName string `json:"generateName"`
		Namespace    string `json:"namespace"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// injected is a workload that got the sidecar, for matching its Services.
type injected struct {
	namespace string
	labels    map[string]string
	port      corev1.ContainerPort
}

// Stream adds the sidecar to every workload of a YAML stream (Deployment,
// StatefulSet, DaemonSet, ReplicaSet, Pod, alone, in a multi-document stream
// or in a List) that declares the port, and points the Services of the same
// stream that target that port at streamgate instead. Documents it does not
// change come out byte for byte. Bad YAML, or no workload with the port, is
// an error.
func (in *Injector) Stream(input []byte) ([]byte, Report, error) {
	var rep Report
	docs, err := splitDocuments(input)
	if err != nil {
		return nil, rep, err
	}
	var objects []object
	for i, d := range docs {
		objs, err := readObjects(i, d)
		if err != nil {
			return nil, rep, err
		}
		objects = append(objects, objs...)
	}

	ops := make(map[int][]Operation)
	var workloads []injected
	var services []object
	handled := 0
	for _, o := range objects {
		if o.header.APIVersion == "v1" && o.header.Kind == "Service" {
			services = append(services, o)
			continue
		}
		tmpl, ok := templatePaths[[2]string{o.header.APIVersion, o.header.Kind}]
		if !ok {
			continue
		}
		w, objOps, res, err := in.workloadPatch(o, tmpl)
		switch {
		case errors.Is(err, errOptedOut):
			handled++
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: annotated %s: \"false\"", o.display, AnnotationInject))
			continue
		case errors.Is(err, ErrNoPort):
			rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s: %v", o.display, err))
			continue
		case err != nil:
			return nil, rep, fmt.Errorf("%s: %w", o.display, err)
		}
		handled++
		workloads = append(workloads, w)
		ops[o.doc] = append(ops[o.doc], objOps...)
		rep.Injected = append(rep.Injected, fmt.Sprintf("%s (in front of container %q port %s)", o.display, res.App, portLabel(res.Port)))
		for _, warn := range res.Warnings {
			rep.Warnings = append(rep.Warnings, o.display+": "+warn)
		}
	}
	if handled == 0 {
		if len(rep.Skipped) > 0 {
			return nil, rep, fmt.Errorf("no workload declares container port %q: %s", in.opts.Port, rep.Skipped[0])
		}
		return nil, rep, errors.New("no workload to inject: the input has no Deployment, StatefulSet, DaemonSet, ReplicaSet or Pod")
	}
	for _, s := range services {
		svcOps, ports, err := retarget(s, workloads)
		if err != nil {
			return nil, rep, fmt.Errorf("%s: %w", s.display, err)
		}
		ops[s.doc] = append(ops[s.doc], svcOps...)
		for _, p := range ports {
			rep.Retargeted = append(rep.Retargeted, fmt.Sprintf("%s port %s", s.display, p))
		}
	}

	var out bytes.Buffer
	for i, d := range docs {
		out.Write(d.sep)
		if len(ops[i]) == 0 {
			out.Write(d.body)
			continue
		}
		body, err := patchDocument(d.body, ops[i])
		if err != nil {
			return nil, rep, fmt.Errorf("document %d, line %d: %w", i+1, d.line, err)
		}
		out.Write(body)
	}
	return out.Bytes(), rep, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlError rewrites a YAML parser's message, whose line numbers count from
// the document's first line, to stream line numbers on one line.
func yamlError(err error, firstLine int) string {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "\n  ", " ")
	return yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(strings.TrimPrefix(m, "line "))
		return "line " + strconv.Itoa(firstLine+n-1)
	})
}

// readObjects decodes a document's objects: itself, or a List's items.
func readObjects(i int, d document) ([]object, error) {
	where := fmt.Sprintf("document %d, line %d", i+1, d.line)
	raw, err := sigsyaml.YAMLToJSONStrict(d.body)
	if err != nil {
		return nil, fmt.Errorf("document %d: %s", i+1, yamlError(err, d.line))
	}
	if k := jsonKind(raw); k == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil // empty, or comments only
	} else if k != '{' {
		return nil, fmt.Errorf("%s: not a Kubernetes object (a YAML mapping with apiVersion and kind)", where)
	}
	top, err := readObject(i, d.line, "", raw, where)
	if err != nil {
		return nil, err
	}
	if top.header.Items == nil {
		return []object{top}, nil
	}
	objs := make([]object, 0, len(top.header.Items))
	for j, item := range top.header.Items {
		o, err := readObject(i, d.line, "/items/"+strconv.Itoa(j), item, fmt.Sprintf("%s, item %d", where, j))
		if err != nil {
			return nil, err
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func readObject(doc, line int, prefix string, raw json.RawMessage, where string) (object, error) {
	o := object{doc: doc, line: line, prefix: prefix, raw: raw}
	if err := json.Unmarshal(raw, &o.header); err != nil {
		return o, fmt.Errorf("%s: not a Kubernetes object: %w", where, err)
	}
	if o.header.Kind == "" || o.header.APIVersion == "" {
		return o, fmt.Errorf("%s: not a Kubernetes object: no apiVersion or kind", where)
	}
	name := o.header.Metadata.Name
	if name == "" {
		name = o.header.Metadata.GenerateName
	}
	o.display = fmt.Sprintf("%s/%s (%s)", o.header.Kind, name, where)
	return o, nil
}

var errOptedOut = errors.New("opted out")

// workloadPatch injects one workload's pod template and returns the patch.
func (in *Injector) workloadPatch(o object, tmpl string) (injected, []Operation, Result, error) {
	raw := o.raw
	if tmpl != "" {
		var w struct {
			Spec struct {
				Template json.RawMessage `json:"template"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(raw, &w); err != nil || jsonKind(w.Spec.Template) != '{' {
			return injected{}, nil, Result{}, errors.New("no pod template at spec.template")
		}
		raw = w.Spec.Template
		var t corev1.PodTemplateSpec
		ops, res, err := in.patchPodLike(o.prefix+tmpl, raw, &t, &t.ObjectMeta, &t.Spec, true)
		return injected{namespace: o.header.Metadata.Namespace, labels: t.Labels, port: res.Port}, ops, res, err
	}
	var p corev1.Pod
	ops, res, err := in.patchPodLike(o.prefix, raw, &p, &p.ObjectMeta, &p.Spec, true)
	return injected{namespace: p.Namespace, labels: p.Labels, port: res.Port}, ops, res, err
}

// PodPatch injects a Pod given as JSON and returns the JSON patch that does
// it, empty when the pod is injected already. The webhook answers with it.
func (in *Injector) PodPatch(raw []byte) ([]Operation, Result, error) {
	var p corev1.Pod
	return in.patchPodLike("", raw, &p, &p.ObjectMeta, &p.Spec, false)
}

// patchPodLike decodes raw into obj (a Pod or a pod template, whose metadata
// and spec are meta and spec), injects it and diffs the two encodings: both
// come from the typed structs, so fields this version of the Kubernetes API
// does not know are neither lost nor touched.
func (in *Injector) patchPodLike(prefix string, raw []byte, obj any, meta *metav1.ObjectMeta, spec *corev1.PodSpec, optOut bool) ([]Operation, Result, error) {
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, Result{}, fmt.Errorf("decoding the pod: %w", err)
	}
	if optOut && meta.Annotations[AnnotationInject] == "false" {
		return nil, Result{}, errOptedOut
	}
	before, err := json.Marshal(obj)
	if err != nil {
		return nil, Result{}, err
	}
	res, err := in.Inject(meta, spec)
	if err != nil {
		return nil, res, err
	}
	after, err := json.Marshal(obj)
	if err != nil {
		return nil, res, err
	}
	ops, err := diff(prefix, before, after)
	return ops, res, err
}

// retarget points the ports of a Service that select an injected workload's
// pods and target its application port at streamgate's proxy port.
func retarget(s object, workloads []injected) ([]Operation, []string, error) {
	var svc corev1.Service
	if err := json.Unmarshal(s.raw, &svc); err != nil {
		return nil, nil, fmt.Errorf("decoding the Service: %w", err)
	}
	if len(svc.Spec.Selector) == 0 || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, nil, nil
	}
	var ops []Operation
	var names []string
	for i, p := range svc.Spec.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		for _, w := range workloads {
			if w.namespace != svc.Namespace || !selects(svc.Spec.Selector, w.labels) || !targets(p, w.port) {
				continue
			}
			ops = append(ops, Operation{
				Op:    "add", // sets the member whether or not it is there (RFC 6902 4.1)
				Path:  fmt.Sprintf("%s/spec/ports/%d/targetPort", s.prefix, i),
				Value: json.RawMessage(strconv.Quote(ProxyPortName)),
			})
			label := strconv.Itoa(int(p.Port))
			if p.Name != "" {
				label += "/" + p.Name
			}
			names = append(names, label)
			break
		}
	}
	return ops, names, nil
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// targets reports whether a Service port sends its traffic to container
// port cp: by name, by number, or, with no targetPort, by its own number.
func targets(p corev1.ServicePort, cp corev1.ContainerPort) bool {
	tp := p.TargetPort
	switch {
	case tp.StrVal != "":
		if n, err := strconv.Atoi(tp.StrVal); err == nil {
			return int32(n) == cp.ContainerPort
		}
		return cp.Name != "" && tp.StrVal == cp.Name
	case tp.IntVal != 0:
		return tp.IntVal == cp.ContainerPort
	default:
		return p.Port == cp.ContainerPort
	}
}

// patchDocument applies ops to one document and writes it back as YAML.
func patchDocument(body []byte, ops []Operation) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(body, &root); err != nil {
		return nil, err
	}
	if isJSON(body) {
		blockStyle(&root)
	}
	if err := applyToNode(&root, ops); err != nil {
		return nil, err
	}
	return encode(&root, body)
}
