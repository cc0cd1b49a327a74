package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/deploy/inject"
)

// bindOptions registers the injection flags and streamgate's own flags,
// which are passed through to the sidecar in the order given.
func bindInjectOptions(fs *flag.FlagSet, o *inject.Options, version string) {
	fs.StringVar(&o.Port, "port", o.Port, "the application's container `port`, by name or number, that streamgate goes in front of (a pod's streamgate.io/port annotation overrides it)")
	fs.StringVar(&o.Image, "image", inject.DefaultImage+":"+imageTag(version), "the sidecar's `image`")
	fs.Var(int32Value{&o.ProxyPort}, "proxy-port", fmt.Sprintf("the sidecar's proxy port in the pod (default %d)", inject.DefaultProxyPort))
	fs.Var(int32Value{&o.AdminPort}, "admin-port", fmt.Sprintf("the sidecar's admin port in the pod: probes and /metrics (default %d)", inject.DefaultAdminPort))
	fs.DurationVar(&o.PreStop, "pre-stop", inject.DefaultPreStop, "how long the sidecar waits, once its pod is terminating, before it stops accepting players")
	fs.StringVar(&o.StoreSecret, "store-secret", "", "a Secret, `name[/key]` (key default url), holding the -store URL, given to the sidecar as STREAMGATE_STORE")
	fs.StringVar(&o.AdminTokenSecret, "admin-token-secret", "", "a Secret, `name[/key]` (key default token), holding the admin API's bearer token, given to the sidecar as STREAMGATE_ADMIN_TOKEN")
	fs.StringVar(&o.CPURequest, "cpu-request", inject.DefaultCPURequest, "the sidecar's CPU request")
	fs.StringVar(&o.MemoryRequest, "memory-request", inject.DefaultMemoryRequest, "the sidecar's memory request")
	fs.StringVar(&o.MemoryLimit, "memory-limit", inject.DefaultMemoryLimit, "the sidecar's memory limit (about 230 bytes per user of -max-users, plus 50Mi)")

	own := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	config.FlagSet("streamgate").VisitAll(func(f *flag.Flag) {
		if own[f.Name] {
			return
		}
		if why, ok := inject.ReservedFlag(f.Name); ok {
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
