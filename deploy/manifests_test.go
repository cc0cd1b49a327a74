package deploy_test

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/streamgate/streamgate/config"
)

// The custom resources of cert-manager and the Prometheus Operator have no
// Go types among the dependencies: these structs hold the fields used here,
// and strict decoding fails on any other, so a typo cannot hide.

type podMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		NamespaceSelector struct {
			Any        bool     `json:"any"`
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port          string `json:"port"`
			Path          string `json:"path"`
			Interval      string `json:"interval"`
			ScrapeTimeout string `json:"scrapeTimeout"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              ruleFile `json:"spec"`
}

// ruleFile is a Prometheus rule file, the PrometheusRule's spec.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert,omitempty"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		DNSNames    []string `json:"dnsNames"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

type issuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SelfSigned *struct{} `json:"selfSigned"`
	} `json:"spec"`
}

// kinds maps apiVersion/kind to the type each object is decoded into.
var kinds = map[string]func() any{
	"v1/Namespace":      func() any { return &corev1.Namespace{} },
	"v1/Service":        func() any { return &corev1.Service{} },
	"v1/ConfigMap":      func() any { return &corev1.ConfigMap{} },
	"v1/Secret":         func() any { return &corev1.Secret{} },
	"v1/ServiceAccount": func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment": func() any {
		return &appsv1.Deployment{}
	},
	"policy/v1/PodDisruptionBudget":                                func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy":                           func() any { return &networkingv1.NetworkPolicy{} },
	"admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": func() any { return &admissionregistrationv1.MutatingWebhookConfiguration{} },
	"monitoring.coreos.com/v1/PodMonitor":                          func() any { return &podMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule":                      func() any { return &prometheusRule{} },
	"cert-manager.io/v1/Certificate":                               func() any { return &certificate{} },
	"cert-manager.io/v1/Issuer":                                    func() any { return &issuer{} },
}

// build is one kustomize target, built and decoded.
type build struct {
	dir     string
	objects []any
}

func (b build) deployments() []*appsv1.Deployment { return all[*appsv1.Deployment](b) }

func all[T any](b build) []T {
	var out []T
	for _, o := range b.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// targets lists every kustomize target under deploy/.
func targets(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(path))
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// kustomizeMu serialises builds: kyaml keeps its OpenAPI schema in a global
// it fills lazily without a lock, so two builds at once race on it
// (kubernetes-sigs/kustomize#5805). The tests around the builds stay parallel.
var kustomizeMu sync.Mutex

// kustomize builds dir in-process, as `kubectl kustomize` would, and decodes
// every object strictly into its type: an unknown field is an error.
func kustomize(t *testing.T, dir string) build {
	t.Helper()
	kustomizeMu.Lock()
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	kustomizeMu.Unlock()
	require.NoError(t, err, "kustomize build %s", dir)
	b := build{dir: dir}
	for _, r := range resources.Resources() {
		y, err := r.AsYAML()
		require.NoError(t, err)
		gvk := r.GetGvk()
		key := gvk.Kind
		if gvk.Group != "" {
			key = gvk.Group + "/" + gvk.Version + "/" + key
		} else {
			key = gvk.Version + "/" + key
		}
		newObj, ok := kinds[key]
		require.True(t, ok, "%s: no type known for %s %s; add one to kinds", dir, key, r.GetName())
		obj := newObj()
		require.NoError(t, sigsyaml.UnmarshalStrict(y, obj), "%s: %s %s:\n%s", dir, key, r.GetName(), y)
		b.objects = append(b.objects, obj)
	}
	return b
}

func TestKustomizeTargetsBuildAndDecodeStrictly(t *testing.T) {
	t.Parallel()
	dirs := targets(t)
	assert.ElementsMatch(t, []string{"base", "overlays/redis", "monitoring", "webhook"}, dirs)
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			b := kustomize(t, dir)
			require.NotEmpty(t, b.objects)
			checkNamespaces(t, b)
			checkReferences(t, b)
			for _, d := range b.deployments() {
				checkPodSecurity(t, d)
				checkSidecar(t, b, d)
			}
		})
	}
}

// checkNamespaces: every namespaced object is in the build's Namespace.
func checkNamespaces(t *testing.T, b build) {
	t.Helper()
	nss := all[*corev1.Namespace](b)
	if len(nss) == 0 {
		return
	}
	for _, o := range b.objects {
		m, ok := o.(metav1.Object)
		if !ok {
			continue
		}
		switch o.(type) {
		case *corev1.Namespace, *admissionregistrationv1.MutatingWebhookConfiguration:
			continue
		}
		assert.Equal(t, nss[0].Name, m.GetNamespace(), "%s: %T %s", b.dir, o, m.GetName())
	}
}

// checkReferences: every ConfigMap, Secret and key a pod names exists in the
// build (kustomize renamed them with their hash), or is written by a
// Certificate of the build.
func checkReferences(t *testing.T, b build) {
	t.Helper()
	configMaps := map[string]*corev1.ConfigMap{}
	for _, c := range all[*corev1.ConfigMap](b) {
		configMaps[c.Name] = c
	}
	secrets := map[string]*corev1.Secret{}
	for _, s := range all[*corev1.Secret](b) {
		secrets[s.Name] = s
	}
	certSecrets := map[string]bool{}
	for _, c := range all[*certificate](b) {
		certSecrets[c.Spec.SecretName] = true
	}
	for _, d := range b.deployments() {
		spec := d.Spec.Template.Spec
		for _, v := range spec.Volumes {
			switch {
			case v.ConfigMap != nil:
				cm, ok := configMaps[v.ConfigMap.Name]
				if assert.True(t, ok, "%s: volume %s: no ConfigMap %s", d.Name, v.Name, v.ConfigMap.Name) {
					for _, item := range v.ConfigMap.Items {
						_, inData := cm.Data[item.Key]
						_, inBinary := cm.BinaryData[item.Key]
						assert.True(t, inData || inBinary, "%s: ConfigMap %s has no key %s", d.Name, cm.Name, item.Key)
					}
				}
			case v.Secret != nil:
				_, ok := secrets[v.Secret.SecretName]
				assert.True(t, ok || certSecrets[v.Secret.SecretName], "%s: volume %s: no Secret %s", d.Name, v.Name, v.Secret.SecretName)
			}
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			for _, e := range c.Env {
				if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
					continue
				}
				ref := e.ValueFrom.SecretKeyRef
				if ref.Optional != nil && *ref.Optional {
					continue // created by the operator, never in the build (the admin token)
				}
				s, ok := secrets[ref.Name]
				if assert.True(t, ok, "%s/%s: env %s: no Secret %s", d.Name, c.Name, e.Name, ref.Name) {
					_, inData := s.Data[ref.Key]
					_, inString := s.StringData[ref.Key]
					assert.True(t, inData || inString, "%s/%s: Secret %s has no key %s", d.Name, c.Name, s.Name, ref.Key)
				}
			}
		}
	}
	for _, s := range all[*corev1.Service](b) {
		selected := selectedPods(b, s.Namespace, s.Spec.Selector)
		require.NotEmpty(t, selected, "%s: Service %s selects no pod of the build", b.dir, s.Name)
		for _, p := range s.Spec.Ports {
			if p.TargetPort.StrVal == "" {
				continue
			}
			for _, pod := range selected {
				assert.True(t, hasPort(pod.Spec.Template.Spec, p.TargetPort.StrVal), "%s: Service %s targets port %q, which pods of %s do not declare", b.dir, s.Name, p.TargetPort.StrVal, pod.Name)
			}
		}
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](b) {
		assert.NotEmpty(t, selectedPods(b, pdb.Namespace, pdb.Spec.Selector.MatchLabels), "%s: PodDisruptionBudget %s selects nothing", b.dir, pdb.Name)
	}
}

func selectedPods(b build, namespace string, selector map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, d := range b.deployments() {
		if d.Namespace != namespace || len(selector) == 0 {
			continue
		}
		match := true
		for k, v := range selector {
			if d.Spec.Template.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, d)
		}
	}
	return out
}

func hasPort(spec corev1.PodSpec, name string) bool {
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// checkPodSecurity: the restricted Pod Security Standard and sized
// containers, for every pod of every target.
func checkPodSecurity(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	require.NotNil(t, spec.SecurityContext, d.Name)
	assert.Equal(t, new(true), spec.SecurityContext.RunAsNonRoot, d.Name)
	if assert.NotNil(t, spec.SecurityContext.SeccompProfile, d.Name) {
		assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, spec.SecurityContext.SeccompProfile.Type, d.Name)
	}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		where := d.Name + "/" + c.Name
		sc := c.SecurityContext
		require.NotNil(t, sc, where)
		assert.Equal(t, new(true), sc.RunAsNonRoot, where)
		assert.NotNil(t, sc.RunAsUser, where)
		assert.Equal(t, new(true), sc.ReadOnlyRootFilesystem, where)
		assert.Equal(t, new(false), sc.AllowPrivilegeEscalation, where)
		if assert.NotNil(t, sc.Capabilities, where) {
			assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, where)
			assert.Empty(t, sc.Capabilities.Add, where)
		}
		if assert.NotNil(t, sc.SeccompProfile, where) {
			assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type, where)
		}
		assert.False(t, c.Resources.Requests.Cpu().IsZero(), "%s: no CPU request", where)
		assert.False(t, c.Resources.Requests.Memory().IsZero(), "%s: no memory request", where)
		assert.False(t, c.Resources.Limits.Memory().IsZero(), "%s: no memory limit", where)
		assert.NotNil(t, c.LivenessProbe, "%s: no liveness probe", where)
		assert.NotNil(t, c.ReadinessProbe, "%s: no readiness probe", where)
		assert.NotContains(t, c.Image, ":latest@", where)
	}
}

// checkSidecar: a streamgate container is a native sidecar with the probes,
// the preStop sleep and a grace period the drain fits in, and its flags and
// STREAMGATE_* variables pass streamgate's own validation.
func checkSidecar(t *testing.T, b build, d *appsv1.Deployment) {
	t.Helper()
	spec := d.Spec.Template.Spec
	i := slices.IndexFunc(spec.InitContainers, func(c corev1.Container) bool { return c.Name == "streamgate" })
	if i < 0 {
		for _, c := range spec.Containers {
			assert.NotEqual(t, "streamgate", c.Name, "%s: streamgate must be a native sidecar (an init container)", d.Name)
		}
		return
	}
	c := spec.InitContainers[i]
	require.NotNil(t, c.RestartPolicy, d.Name)
	assert.Equal(t, corev1.ContainerRestartPolicyAlways, *c.RestartPolicy, d.Name)
	checkProbe(t, c.LivenessProbe, "/healthz", d.Name)
	checkProbe(t, c.ReadinessProbe, "/readyz", d.Name)

	env := map[string]string{}
	secrets := map[string]*corev1.Secret{}
	for _, s := range all[*corev1.Secret](b) {
		secrets[s.Name] = s
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			if s := secrets[e.ValueFrom.SecretKeyRef.Name]; s != nil {
				env[e.Name] = string(s.Data[e.ValueFrom.SecretKeyRef.Key])
			}
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		}
	}
	cfg, err := config.Parse("streamgate", c.Args, func(k string) string { return env[k] }, io.Discard)
	require.NoError(t, err, "%s: the sidecar's flags and environment", d.Name)

	require.NotNil(t, c.Lifecycle, d.Name)
	require.NotNil(t, c.Lifecycle.PreStop, d.Name)
	require.NotNil(t, c.Lifecycle.PreStop.Sleep, "%s: the image has no shell: the preStop must be the kubelet's sleep", d.Name)
	sleep := time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	assert.Positive(t, sleep, d.Name)
	require.NotNil(t, spec.TerminationGracePeriodSeconds, d.Name)
	grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	assert.Greater(t, grace, sleep+cfg.ShutdownTimeout, "%s: terminationGracePeriodSeconds must exceed the preStop sleep plus -shutdown-timeout", d.Name)
}

func checkProbe(t *testing.T, p *corev1.Probe, path, where string) {
	t.Helper()
	if !assert.NotNil(t, p, where) || !assert.NotNil(t, p.HTTPGet, where) {
		return
	}
	assert.Equal(t, path, p.HTTPGet.Path, where)
	assert.Equal(t, "streamgate-adm", p.HTTPGet.Port.StrVal, "%s: probes go to the admin port", where)
}

func TestBaseIsTheSidecarPattern(t *testing.T) {
	t.Parallel()
	b := kustomize(t, "base")
	deps := b.deployments()
	require.Len(t, deps, 1)
	d := deps[0]
	assert.Equal(t, int32(1), *d.Spec.Replicas, "one replica: the memory store's limit is per replica")
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	assert.Equal(t, "origin", d.Spec.Template.Spec.Containers[0].Name)
	assert.Contains(t, d.Spec.Template.Spec.InitContainers[0].Args, "-upstream=http://127.0.0.1:8081")
	assert.Equal(t, "ghcr.io/streamgate/streamgate:latest", d.Spec.Template.Spec.InitContainers[0].Image)
	assert.NotNil(t, d.Spec.Template.Spec.Containers[0].Lifecycle.PreStop.Sleep, "the origin keeps serving while endpoints update")

	svcs := all[*corev1.Service](b)
	require.Len(t, svcs, 1)
	assert.Equal(t, "streamgate", svcs[0].Spec.Ports[0].TargetPort.StrVal, "players go through streamgate")
	require.Len(t, all[*policyv1.PodDisruptionBudget](b), 1)
}

func TestRedisOverlaySharesOneStore(t *testing.T) {
	t.Parallel()
	b := kustomize(t, filepath.Join("overlays", "redis"))
	var origin, redis *appsv1.Deployment
	for _, d := range b.deployments() {
		switch d.Name {
		case "hls-origin":
			origin = d
		case "redis":
			redis = d
		}
	}
	require.NotNil(t, origin)
	require.NotNil(t, redis)
	assert.Equal(t, int32(3), *origin.Spec.Replicas)
	sidecar := origin.Spec.Template.Spec.InitContainers[0]
	var store *corev1.EnvVar
	for i, e := range sidecar.Env {
		assert.NotEqual(t, "STREAMGATE_STATE_FILE", e.Name, "Redis keeps the sessions")
		if e.Name == "STREAMGATE_STORE" {
			store = &sidecar.Env[i]
		}
	}
	require.NotNil(t, store, "the Redis URL comes from a Secret")
	require.NotNil(t, store.ValueFrom.SecretKeyRef)
	assert.True(t, strings.HasPrefix(store.ValueFrom.SecretKeyRef.Name, "streamgate-redis-"), "kustomize's hashed Secret name: %s", store.ValueFrom.SecretKeyRef.Name)
	assert.Empty(t, sidecar.VolumeMounts)
	for _, v := range origin.Spec.Template.Spec.Volumes {
		assert.NotEqual(t, "state", v.Name)
	}
	assert.NotEmpty(t, origin.Spec.Template.Spec.TopologySpreadConstraints)
	require.Len(t, all[*networkingv1.NetworkPolicy](b), 1)
}

func TestWebhookManifests(t *testing.T) {
	t.Parallel()
	b := kustomize(t, "webhook")
	hooks := all[*admissionregistrationv1.MutatingWebhookConfiguration](b)
	require.Len(t, hooks, 1)
	require.Len(t, hooks[0].Webhooks, 1)
	w := hooks[0].Webhooks[0]
	assert.Equal(t, []string{"v1"}, w.AdmissionReviewVersions)
	require.NotNil(t, w.SideEffects)
	assert.Equal(t, admissionregistrationv1.SideEffectClassNone, *w.SideEffects)
	require.NotNil(t, w.ClientConfig.Service)
	svcRef := w.ClientConfig.Service

	svcs := all[*corev1.Service](b)
	require.Len(t, svcs, 1)
	svc := svcs[0]
	assert.Equal(t, svc.Name, svcRef.Name)
	assert.Equal(t, svc.Namespace, svcRef.Namespace)
	assert.Equal(t, "/mutate", *svcRef.Path)
	assert.Equal(t, svc.Spec.Ports[0].Port, *svcRef.Port)

	certs := all[*certificate](b)
	require.Len(t, certs, 1)
	cert := certs[0]
	assert.Equal(t, cert.Namespace+"/"+cert.Name, hooks[0].Annotations["cert-manager.io/inject-ca-from"])
	assert.Contains(t, cert.Spec.DNSNames, fmt.Sprintf("%s.%s.svc", svc.Name, svc.Namespace))
	issuers := all[*issuer](b)
	require.Len(t, issuers, 1)
	assert.Equal(t, issuers[0].Name, cert.Spec.IssuerRef.Name)

	deps := b.deployments()
	require.Len(t, deps, 1)
	c := deps[0].Spec.Template.Spec.Containers[0]
	assert.Equal(t, []string{"/streamgate-kube"}, c.Command, "the image's binary of the Kubernetes tooling")
	assert.Equal(t, "webhook", c.Args[0])
	assert.Contains(t, c.Args, "-tls-cert=/etc/streamgate/tls/tls.crt")
	assert.Equal(t, cert.Spec.SecretName, deps[0].Spec.Template.Spec.Volumes[0].Secret.SecretName)
	assert.Equal(t, corev1.URISchemeHTTPS, c.ReadinessProbe.HTTPGet.Scheme)
}

func TestPodMonitorScrapesTheAdminPort(t *testing.T) {
	t.Parallel()
	b := kustomize(t, "monitoring")
	pms := all[*podMonitor](b)
	require.Len(t, pms, 1)
	require.Len(t, pms[0].Spec.PodMetricsEndpoints, 1)
	assert.Equal(t, "streamgate-adm", pms[0].Spec.PodMetricsEndpoints[0].Port)
	assert.Equal(t, "/metrics", pms[0].Spec.PodMetricsEndpoints[0].Path)
	cms := all[*corev1.ConfigMap](b)
	require.Len(t, cms, 1)
	assert.Equal(t, "1", cms[0].Labels["grafana_dashboard"])
}

// TestAlertsHaveRunbooks: every alert links to a section of deploy/README.md
// that exists, and says how bad it is.
func TestAlertsHaveRunbooks(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if h, ok := strings.CutPrefix(line, "### "); ok {
			anchors[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(h), " ", "-"))] = true
		}
	}
	rules := alertRules(t)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			_, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "/deploy/README.md#")
			assert.True(t, ok, "%s: runbook_url must point into deploy/README.md", r.Alert)
			assert.Equal(t, strings.ToLower(r.Alert), anchor, r.Alert)
			assert.True(t, anchors[anchor], "%s: deploy/README.md has no section ### %s", r.Alert, r.Alert)
			assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			assert.NotEmpty(t, r.Annotations["summary"], r.Alert)
		}
	}
	assert.ElementsMatch(t, []string{"StreamgateRejectionRatioHigh", "StreamgateStoreErrors", "StreamgateUsersEvicted", "StreamgateEvictionRateHigh", "StreamgateAccessLogDropping", "StreamgateSessionsShared", "StreamgateNoReplicaReady"}, alerts)
}

func alertRules(t *testing.T) ruleFile {
	t.Helper()
	rules := all[*prometheusRule](kustomize(t, "monitoring"))
	require.Len(t, rules, 1)
	return rules[0].Spec
}
