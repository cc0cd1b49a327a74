package inject

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/streamgate/streamgate/config"
)

// UsageError is a bad flag, bad input or a workload that cannot be
// injected: streamgate exits with status 2 on it.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// bindOptions registers the injection flags and streamgate's own flags,
// which are passed through to the sidecar in the order given.
func bindOptions(fs *flag.FlagSet, o *Options, version string) {
	fs.StringVar(&o.Port, "port", o.Port, "the application's container `port`, by name or number, that streamgate goes in front of (a pod's streamgate.io/port annotation overrides it)")
	fs.StringVar(&o.Image, "image", DefaultImage+":"+imageTag(version), "the sidecar's `image`")
	fs.Var(int32Value{&o.ProxyPort}, "proxy-port", fmt.Sprintf("the sidecar's proxy port in the pod (default %d)", DefaultProxyPort))
	fs.Var(int32Value{&o.AdminPort}, "admin-port", fmt.Sprintf("the sidecar's admin port in the pod: probes and /metrics (default %d)", DefaultAdminPort))
	fs.DurationVar(&o.PreStop, "pre-stop", DefaultPreStop, "how long the sidecar waits, once its pod is terminating, before it stops accepting players")
	fs.StringVar(&o.StoreSecret, "store-secret", "", "a Secret, `name[/key]` (key default url), holding the -store URL, given to the sidecar as STREAMGATE_STORE")
	fs.StringVar(&o.AdminTokenSecret, "admin-token-secret", "", "a Secret, `name[/key]` (key default token), holding the admin API's bearer token, given to the sidecar as STREAMGATE_ADMIN_TOKEN")
	fs.StringVar(&o.CPURequest, "cpu-request", DefaultCPURequest, "the sidecar's CPU request")
	fs.StringVar(&o.MemoryRequest, "memory-request", DefaultMemoryRequest, "the sidecar's memory request")
	fs.StringVar(&o.MemoryLimit, "memory-limit", DefaultMemoryLimit, "the sidecar's memory limit (about 230 bytes per user of -max-users, plus 50Mi)")

	own := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	config.FlagSet("streamgate").VisitAll(func(f *flag.Flag) {
		if own[f.Name] {
			return
		}
		if why, ok := reservedFlags[f.Name]; ok {
			fs.Var(reserved{f.Name, why}, f.Name, "not passed to the sidecar: "+why)
			return
		}
		b, isBool := f.Value.(interface{ IsBoolFlag() bool })
		usage := "passed to the sidecar: " + strings.TrimSuffix(f.Usage, " ["+config.EnvName(f.Name)+"]")
		if f.DefValue != "" && f.DefValue != "false" {
			usage += " (sidecar default " + f.DefValue + ")"
		}
		fs.Var(&passThrough{name: f.Name, args: &o.Args, isBool: isBool && b.IsBoolFlag()}, f.Name, usage)
	})
}

// imageTag is the image tag matching this build: its version, or latest
// for a development build.
func imageTag(version string) string {
	if version == "" || version == "dev" || strings.ContainsAny(version, "+ ") {
		return "latest"
	}
	return version
}

// parseInterleaved parses flags that may come after file names, as
// `streamgate inject deploy.yaml -port http` expects; "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		left := fs.Args()
		if len(left) == 0 {
			return rest, nil
		}
		if consumed := len(args) - len(left); consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), nil
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
}

// passThrough records a streamgate flag as a sidecar argument.
type passThrough struct {
	name   string
	args   *[]string
	isBool bool
	value  string
}

func (p *passThrough) String() string { return p.value }
func (p *passThrough) Set(v string) error {
	p.value = v
	*p.args = append(*p.args, "-"+p.name+"="+v)
	return nil
}
func (p *passThrough) IsBoolFlag() bool { return p.isBool }

// reserved refuses a streamgate flag the injection sets itself.
type reserved struct{ name, why string }

func (r reserved) String() string { return "" }
func (r reserved) Set(string) error {
	return fmt.Errorf("not passed to the sidecar: %s", r.why)
}

type int32Value struct{ p *int32 }

func (v int32Value) String() string {
	if v.p == nil || *v.p == 0 {
		return ""
	}
	return fmt.Sprint(*v.p)
}

func (v int32Value) Set(s string) error {
	var n int32
	if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != s {
		return fmt.Errorf("not a port number")
	}
	*v.p = n
	return nil
}

func printUsage(w io.Writer, fs *flag.FlagSet, usage string) {
	fmt.Fprint(w, usage)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
