package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/streamgate/streamgate/bench/procs"
)

// listenWithin bounds how long a started process may take to listen.
const listenWithin = 15 * time.Second

// target is one proxy under test, listening on addr in front of the origin.
type target struct {
	name string
	addr string
	// admin is streamgate's admin address, for its counters; empty otherwise.
	admin string
	procs []*procs.Proc
	// main is the process whose CPU time is the proxy's.
	main *procs.Proc
	// store is the target's redis-server, nil for the others: its CPU
	// time, on the load generator's CPU, is reported apart.
	store *procs.Proc
	// placeFile keeps where users.lua's in-turn order stands for this
	// target between wrk runs.
	placeFile string
	// goRuntime is set for the Go proxies, which run with gctrace.
	goRuntime bool
}

func (t *target) stop() {
	for _, p := range t.procs {
		p.Stop()
	}
}

type env struct {
	dir      string // scratch directory: binaries, configs, logs
	benchDir string // the repository's bench/ folder
	origin   string
	cpu      string // the CPU the origin and every proxy are pinned to
	// loadCPU runs wrk, and redis-server: in production Redis is a service
	// of its own on other machines, so its CPU is not the proxy's budget.
	loadCPU string
	// extraEnv is what a target named "base+KEY=VALUE+…" adds to a Go
	// proxy's environment (GOGC=100, GOMEMLIMIT=64MiB), so that runtime
	// settings can be compared side by side in one run.
	extraEnv []string
}

// goEnv is a Go proxy's environment: one processor, and a line per
// collection (gctrace) from which measure reads the collector's CPU, kept
// when the target's name sets GODEBUG too.
func (e env) goEnv() []string {
	env := []string{"GOMAXPROCS=1", "GODEBUG=gctrace=1"}
	for _, kv := range e.extraEnv {
		if v, ok := strings.CutPrefix(kv, "GODEBUG="); ok {
			env[1] += "," + v
			continue
		}
		env = append(env, kv)
	}
	return env
}

func startReference(ctx context.Context, e env) (*target, error) {
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := procs.Start(e.dir, "reference", e.cpu, e.goEnv(),
		filepath.Join(e.dir, "reference"), "-listen", addr, "-upstream", "http://"+e.origin)
	if err != nil {
		return nil, err
	}
	t := &target{name: "reference", addr: addr, procs: []*procs.Proc{p}, main: p, goRuntime: true}
	return t, procs.WaitListening(ctx, addr, p, listenWithin)
}

func startStreamgate(ctx context.Context, e env, name string, extra ...string) (*target, error) {
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{filepath.Join(e.dir, "streamgate"), "-listen", addr, "-admin-listen", admin,
		"-upstream", "http://" + e.origin, "-log-level", "warn"}, extra...)
	p, err := procs.Start(e.dir, name, e.cpu, e.goEnv(), args...)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, addr: addr, admin: admin, procs: []*procs.Proc{p}, main: p, goRuntime: true}
	return t, procs.WaitListening(ctx, addr, p, listenWithin)
}

// startStreamgateRedis starts a redis-server on the load generator's CPU,
// then streamgate using it with the default refresh interval and the
// extra flags.
func startStreamgateRedis(ctx context.Context, e env, name string, extra ...string) (*target, error) {
	raddr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(raddr)
	r, err := procs.Start(e.dir, "redis", e.loadCPU, nil, "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", e.dir)
	if err != nil {
		return nil, err
	}
	if err := procs.WaitListening(ctx, raddr, r, listenWithin); err != nil {
		r.Stop()
		return nil, err
	}
	t, err := startStreamgate(ctx, e, name, append([]string{"-store", "redis://" + raddr}, extra...)...)
	if t != nil {
		t.procs, t.store = append(t.procs, r), r
	}
	if err != nil {
		r.Stop()
	}
	return t, err
}

// configFile renders bench/<name>.tmpl into the scratch directory.
func configFile(e env, name string, data any) (string, error) {
	tmpl, err := template.ParseFiles(filepath.Join(e.benchDir, name+".tmpl"))
	if err != nil {
		return "", err
	}
	path := filepath.Join(e.dir, name)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return path, tmpl.Execute(f, data)
}

func startNginx(ctx context.Context, e env) (*target, error) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/nginx"); err != nil {
			return nil, fmt.Errorf("nginx not installed (apt-get install nginx)")
		}
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	conf, err := configFile(e, "nginx.conf", map[string]any{"Dir": e.dir, "Listen": addr, "Origin": e.origin, "Root": os.Geteuid() == 0})
	if err != nil {
		return nil, err
	}
	p, err := procs.Start(e.dir, "nginx", e.cpu, nil, bin, "-c", conf, "-p", e.dir, "-e", filepath.Join(e.dir, "nginx-error.log"))
	if err != nil {
		return nil, err
	}
	t := &target{name: "nginx", addr: addr, procs: []*procs.Proc{p}, main: p}
	return t, procs.WaitListening(ctx, addr, p, listenWithin)
}

func startHAProxy(ctx context.Context, e env) (*target, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/haproxy"); err != nil {
			return nil, fmt.Errorf("haproxy not installed (apt-get install haproxy)")
		}
	}
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	conf, err := configFile(e, "haproxy.cfg", map[string]any{"Dir": e.dir, "Listen": addr, "Origin": e.origin})
	if err != nil {
		return nil, err
	}
	p, err := procs.Start(e.dir, "haproxy", e.cpu, nil, bin, "-db", "-f", conf)
	if err != nil {
		return nil, err
	}
	t := &target{name: "haproxy", addr: addr, procs: []*procs.Proc{p}, main: p}
	return t, procs.WaitListening(ctx, addr, p, listenWithin)
}
