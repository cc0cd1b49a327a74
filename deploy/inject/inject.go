package inject

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrNoPort is returned, wrapped, when no container of a pod declares the
// port to go in front of.
var ErrNoPort = errors.New("no container port")

// Prometheus scrape annotations set on an injected pod, for scrapers that
// discover pods by annotation. The PodMonitor in deploy/monitoring needs none.
const (
	annotationScrape = "prometheus.io/scrape"
	annotationPort   = "prometheus.io/port"
	annotationPath   = "prometheus.io/path"
)

// Result says what Inject did.
type Result struct {
	// App is the container whose port streamgate now stands in front of.
	App string
	// Port is that container port.
	Port corev1.ContainerPort
	// Warnings are things the user should know, one sentence each.
	Warnings []string
}

// Inject adds the streamgate sidecar to a pod, or to a workload's pod
// template, in front of the container port Options.Port (or the pod's
// streamgate.io/port annotation). A sidecar added before is replaced, so
// injecting twice is the same as injecting once. It is the one injection of
// both streamgate inject and streamgate webhook.
func (in *Injector) Inject(meta *metav1.ObjectMeta, spec *corev1.PodSpec) (Result, error) {
	ref := in.opts.Port
	if v := strings.TrimSpace(meta.Annotations[AnnotationPort]); v != "" {
		ref = v
	}
	for _, c := range spec.Containers {
		if c.Name == ContainerName {
			return Result{}, fmt.Errorf("the pod already has a container named %q that is not a streamgate sidecar (not an init container with restartPolicy Always)", ContainerName)
		}
	}
	at := -1
	for i, c := range spec.InitContainers {
		if c.Name == ContainerName {
			at = i
		}
	}
	app, port, err := findPort(spec.Containers, ref)
	if err != nil {
		return Result{}, err
	}
	if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
		return Result{}, fmt.Errorf("container %q port %s is %s; streamgate proxies HTTP over TCP", app, portLabel(port), port.Protocol)
	}
	if err := in.checkCollisions(spec, at); err != nil {
		return Result{}, err
	}

	sidecar := in.sidecar(port.ContainerPort)
	if at >= 0 {
		spec.InitContainers[at] = sidecar
	} else {
		spec.InitContainers = append(spec.InitContainers, sidecar)
	}
	res := Result{App: app, Port: port}
	res.Warnings = in.annotate(meta)
	if spec.TerminationGracePeriodSeconds == nil || *spec.TerminationGracePeriodSeconds < in.graceSeconds {
		spec.TerminationGracePeriodSeconds = new(in.graceSeconds)
	}
	return res, nil
}

// findPort finds the TCP port ref (a name or a number) among the
// application's containers.
func findPort(containers []corev1.Container, ref string) (string, corev1.ContainerPort, error) {
	num, numErr := strconv.Atoi(ref)
	var seen []string
	for _, c := range containers {
		for _, p := range c.Ports {
			if (numErr == nil && int(p.ContainerPort) == num) || (p.Name != "" && p.Name == ref) {
				return c.Name, p, nil
			}
			seen = append(seen, c.Name+":"+portLabel(p))
		}
	}
	have := "none declared"
	if len(seen) > 0 {
		have = strings.Join(seen, ", ")
	}
	return "", corev1.ContainerPort{}, fmt.Errorf("%w %q (container ports: %s)", ErrNoPort, ref, have)
}

func portLabel(p corev1.ContainerPort) string {
	if p.Name != "" {
		return fmt.Sprintf("%d/%s", p.ContainerPort, p.Name)
	}
	return strconv.Itoa(int(p.ContainerPort))
}

// checkCollisions refuses a pod in which another container already uses the
// sidecar's ports or port names; skip is the index of an earlier sidecar.
func (in *Injector) checkCollisions(spec *corev1.PodSpec, skip int) error {
	check := func(c corev1.Container) error {
		for _, p := range c.Ports {
			switch {
			case p.ContainerPort == in.opts.ProxyPort:
				return fmt.Errorf("container %q uses port %d, streamgate's proxy port; choose another with -proxy-port", c.Name, p.ContainerPort)
			case p.ContainerPort == in.opts.AdminPort:
				return fmt.Errorf("container %q uses port %d, streamgate's admin port; choose another with -admin-port", c.Name, p.ContainerPort)
			case p.Name == ProxyPortName || p.Name == AdminPortName:
				return fmt.Errorf("container %q has a port named %q, which the sidecar's port needs", c.Name, p.Name)
			}
		}
		return nil
	}
	for _, c := range spec.Containers {
		if err := check(c); err != nil {
			return err
		}
	}
	for i, c := range spec.InitContainers {
		if i == skip {
			continue
		}
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

// annotate sets the Prometheus scrape annotations and warns about values it
// replaces, since those pointed the scraper at the application's metrics.
func (in *Injector) annotate(meta *metav1.ObjectMeta) []string {
	want := []struct{ key, value string }{
		{annotationScrape, "true"},
		{annotationPort, strconv.Itoa(int(in.opts.AdminPort))},
		{annotationPath, "/metrics"},
	}
	if meta.Annotations == nil {
		meta.Annotations = make(map[string]string, len(want))
	}
	var warnings []string
	for _, w := range want {
		if old, ok := meta.Annotations[w.key]; ok && old != w.value {
			warnings = append(warnings, fmt.Sprintf("annotation %s was %q and is now %q, streamgate's; scrape the application's own metrics with a PodMonitor", w.key, old, w.value))
		}
		meta.Annotations[w.key] = w.value
	}
	return warnings
}
