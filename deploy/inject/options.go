// Package inject adds the streamgate sidecar to Kubernetes pods. One
// function, Injector.Inject, changes a pod's metadata and spec; `streamgate
// inject` applies it to the workloads of a YAML stream and `streamgate
// webhook` to pods at admission, as a JSON patch.
package inject

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/streamgate/streamgate/config"
)

// Names the sidecar gives itself in a pod. The Service of an injected
// workload targets ProxyPortName; a PodMonitor scrapes AdminPortName.
const (
	ContainerName = "streamgate"
	ProxyPortName = "streamgate"
	AdminPortName = "streamgate-adm"
)

// Annotations read on a pod (template).
const (
	// AnnotationInject "true" asks the webhook to inject a pod; "false" makes
	// streamgate inject leave a workload alone.
	AnnotationInject = "streamgate.io/inject"
	// AnnotationPort overrides Options.Port for one workload.
	AnnotationPort = "streamgate.io/port"
)

// Options say which sidecar to add and in front of which port. Zero fields
// take the defaults named on each.
type Options struct {
	// Port is the application's container port that streamgate goes in
	// front of: a port name or a number (-port; required).
	Port string
	// Image is the sidecar's image (-image).
	Image string
	// ProxyPort and AdminPort are the sidecar's proxy and admin listeners
	// in the pod (-proxy-port, default 15080; -admin-port, default 15090):
	// reserved high ports, as service meshes use, so that the most common
	// origin ports (8080 above all) never collide by default.
	ProxyPort, AdminPort int32
	// PreStop is how long the sidecar sleeps after the pod starts
	// terminating and before it gets SIGTERM, so that endpoints stop sending
	// players first (-pre-stop, default 5s, whole seconds).
	PreStop time.Duration
	// StoreSecret is "secret" or "secret/key": the Secret key (default key
	// "url") holding the -store URL, passed as STREAMGATE_STORE so that a
	// Redis password never appears in the pod spec (-store-secret).
	StoreSecret string
	// AdminTokenSecret is "secret" or "secret/key": the Secret key (default
	// key "token") holding the admin API's bearer token, passed as
	// STREAMGATE_ADMIN_TOKEN so that it never appears in the pod spec
	// (-admin-token-secret). Without it the sidecar's admin API answers
	// loopback clients only; probes and /metrics never need the token.
	AdminTokenSecret string
	// CPURequest, MemoryRequest and MemoryLimit size the sidecar
	// (-cpu-request 100m, -memory-request 128Mi, -memory-limit 512Mi).
	CPURequest, MemoryRequest, MemoryLimit string
	// Args are streamgate flags passed to the sidecar as given, e.g.
	// "-max-streams=2". -listen, -admin-listen and -upstream are set by
	// the injection itself.
	Args []string
}

// Defaults of Options.
const (
	DefaultImage         = "ghcr.io/streamgate/streamgate"
	DefaultProxyPort     = 15080
	DefaultAdminPort     = 15090
	DefaultPreStop       = 5 * time.Second
	DefaultCPURequest    = "100m"
	DefaultMemoryRequest = "128Mi"
	DefaultMemoryLimit   = "512Mi"
	defaultSecretKey     = "url"
	defaultTokenKey      = "token"
	// graceSlack is time, beyond the sidecar's own preStop and drain, for the
	// application's containers: Kubernetes stops a native sidecar only after
	// them, within the one grace period of the pod.
	graceSlack = 15
)

// reservedFlags are the streamgate flags the injection sets itself or that
// make no sense in a sidecar, with what to do instead.
var reservedFlags = map[string]string{
	"listen":       "streamgate inject sets it; use -proxy-port",
	"admin-listen": "streamgate inject sets it; use -admin-port",
	"upstream":     "streamgate inject points the sidecar at the -port it goes in front of",
	"demo":         "a sidecar proxies its pod's own origin",
	"version":      "not a sidecar setting",
	"admin-token":  "a token in the pod spec is readable by whoever can read the pod; use -admin-token-secret",
}

// Injector adds the sidecar described by its Options.
type Injector struct {
	opts             Options
	image            string
	secretName       string
	secretKey        string
	tokenSecretName  string
	tokenSecretKey   string
	cpuReq           resource.Quantity
	memReq, memLimit resource.Quantity
	preStopSeconds   int64
	graceSeconds     int64
	shutdownTimeout  time.Duration
}

// New checks o, the pass-through flags included (with the same validation
// the sidecar will apply at start), and returns every problem joined.
func New(o Options) (*Injector, error) {
	in := &Injector{opts: o, image: o.Image}
	if in.image == "" {
		in.image = DefaultImage + ":latest"
	}
	if in.opts.ProxyPort == 0 {
		in.opts.ProxyPort = DefaultProxyPort
	}
	if in.opts.AdminPort == 0 {
		in.opts.AdminPort = DefaultAdminPort
	}
	if in.opts.PreStop == 0 {
		in.opts.PreStop = DefaultPreStop
	}
	var errs []error
	bad := func(flagName, format string, args ...any) {
		errs = append(errs, fmt.Errorf("invalid value for flag -%s: %s", flagName, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(o.Port) == "" {
		bad("port", "required: the name or number of the container port streamgate goes in front of")
	}
	for _, p := range []struct {
		flag string
		port int32
	}{{"proxy-port", in.opts.ProxyPort}, {"admin-port", in.opts.AdminPort}} {
		if p.port < 1 || p.port > math.MaxUint16 {
			bad(p.flag, "%d is not a port number (1-65535)", p.port)
		}
	}
	if in.opts.ProxyPort == in.opts.AdminPort {
		bad("admin-port", "%d is the -proxy-port too", in.opts.AdminPort)
	}
	if in.opts.PreStop < 0 || in.opts.PreStop%time.Second != 0 {
		bad("pre-stop", "%s: want a whole number of seconds, e.g. 5s", in.opts.PreStop)
	}
	in.preStopSeconds = int64(in.opts.PreStop / time.Second)
	if o.StoreSecret != "" {
		name, key, _ := strings.Cut(o.StoreSecret, "/")
		if key == "" {
			key = defaultSecretKey
		}
		if name == "" || strings.Contains(key, "/") {
			bad("store-secret", "%q: want a Secret name, or name/key", o.StoreSecret)
		}
		in.secretName, in.secretKey = name, key
	}
	if o.AdminTokenSecret != "" {
		name, key, _ := strings.Cut(o.AdminTokenSecret, "/")
		if key == "" {
			key = defaultTokenKey
		}
		if name == "" || strings.Contains(key, "/") {
			bad("admin-token-secret", "%q: want a Secret name, or name/key", o.AdminTokenSecret)
		}
		in.tokenSecretName, in.tokenSecretKey = name, key
	}
	for _, q := range []struct {
		flag, value, def string
		dst              *resource.Quantity
	}{
		{"cpu-request", o.CPURequest, DefaultCPURequest, &in.cpuReq},
		{"memory-request", o.MemoryRequest, DefaultMemoryRequest, &in.memReq},
		{"memory-limit", o.MemoryLimit, DefaultMemoryLimit, &in.memLimit},
	} {
		v := q.value
		if v == "" {
			v = q.def
		}
		parsed, err := resource.ParseQuantity(v)
		if err != nil || parsed.Sign() <= 0 {
			bad(q.flag, "%q is not a positive quantity (e.g. %s)", v, q.def)
			continue
		}
		*q.dst = parsed
	}
	if in.memLimit.Sign() > 0 && in.memReq.Cmp(in.memLimit) > 0 {
		bad("memory-request", "%s is more than -memory-limit %s", in.memReq.String(), in.memLimit.String())
	}
	if err := in.checkArgs(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	in.graceSeconds = in.preStopSeconds + int64(math.Ceil(in.shutdownTimeout.Seconds())) + graceSlack
	return in, nil
}

// checkArgs runs the sidecar's own flag parsing and validation on the
// pass-through flags, so that a bad value fails here and not in a crash loop.
func (in *Injector) checkArgs() error {
	for _, a := range in.opts.Args {
		name := strings.TrimLeft(a, "-")
		name, _, _ = strings.Cut(name, "=")
		if why, ok := reservedFlags[name]; ok {
			return fmt.Errorf("flag -%s cannot be passed to the sidecar: %s", name, why)
		}
		if name == "store" && in.secretName != "" {
			return errors.New("give -store or -store-secret, not both")
		}
	}
	getenv := func(key string) string {
		if key == config.EnvName("store") && in.secretName != "" {
			return "redis://secret.invalid:6379" // stands for the Secret's URL, unknown here
		}
		return ""
	}
	cfg, err := config.Parse("streamgate", in.sidecarArgs(1), getenv, io.Discard)
	if err != nil {
		return err
	}
	in.shutdownTimeout = cfg.ShutdownTimeout
	return nil
}

// sidecarArgs are the sidecar's arguments for an origin on upstreamPort.
func (in *Injector) sidecarArgs(upstreamPort int32) []string {
	args := []string{
		"-listen=:" + strconv.Itoa(int(in.opts.ProxyPort)),
		"-admin-listen=:" + strconv.Itoa(int(in.opts.AdminPort)),
		"-upstream=http://127.0.0.1:" + strconv.Itoa(int(upstreamPort)),
	}
	return append(args, in.opts.Args...)
}
