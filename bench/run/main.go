// Command run is streamgate's side-by-side benchmark: on loopback, in one
// invocation, it starts a Go origin and each target in front of it — a bare
// httputil.ReverseProxy (the reference), streamgate with the memory store,
// streamgate with a Redis store, nginx with limit_conn and HAProxy with a
// stick table — and drives each with wrk, interleaved round by round. It
// reports requests per second, p50/p99 latency and the CPU time the proxy
// process spent per request, read from /proc.
//
//	go run ./bench/run                 # 5 rounds of 10 s per target and path
//	go run ./bench/run -short -check   # CI: a few seconds per target, counters checked
//	go run ./bench/run -write          # also rewrite bench/README.md's results and chart
//	go run ./bench/run -scale -write   # the decision at 1k to 10M tracked sessions, and its chart
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/streamgate/streamgate/bench/procs"
)

var paths = []struct{ name, path string }{
	{"playlist", "/live/playlist.m3u8"},
	{"segment", "/live/seg.ts"},
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	rounds := flag.Int("rounds", 5, "interleaved rounds")
	duration := flag.Duration("duration", 10*time.Second, "wrk run per target, path and round")
	conns := flag.Int("conns", 32, "wrk connections")
	warm := flag.Duration("warm", 10*time.Second, "unmeasured wrk run of the same target and path right before each measured one")
	order := flag.String("order", "random", "which session each request belongs to: random (a crowd's uneven gaps) or turn (every session in turn, at a player's steady pace)")
	short := flag.Bool("short", false, "one round of 2 s per target and path (CI)")
	check := flag.Bool("check", false, "fail unless every target answered every request and streamgate's counters match what wrk sent")
	only := flag.String("targets", "reference,streamgate,streamgate-redis,nginx,haproxy", "targets, comma-separated; a Go target named base+KEY=VALUE (streamgate-nolog+GOGC=100) runs with KEY=VALUE in its environment")
	write := flag.Bool("write", false, "write the results table and chart into bench/")
	scale := flag.Bool("scale", false, "run the limiter's decision at 1k, 100k, 1M and 10M tracked sessions instead")
	scaleCount := flag.Int("scale-count", 3, "runs of each size, with -scale (the median is kept)")
	replotOnly := flag.Bool("replot", false, "redraw the charts from results.json and scale.json, and run nothing")
	flag.Parse()
	if *order != "random" && *order != "turn" {
		fmt.Fprintf(os.Stderr, "bench: -order must be random or turn, not %q\n", *order)
		os.Exit(2)
	}
	if *short {
		*rounds, *duration, *warm = 1, 2*time.Second, time.Second
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *replotOnly {
		dir, err := repoBenchDir()
		if err == nil {
			err = replot(dir)
		}
		if err != nil {
			log.Fatal(err)
		}
		return
	}
	if *scale {
		if err := benchScale(ctx, *scaleCount, *write); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := bench(ctx, *rounds, *duration, *warm, *conns, *order, strings.Split(*only, ","), *check, *write); err != nil {
		log.Fatal(err)
	}
}

func bench(ctx context.Context, rounds int, d, warm time.Duration, conns int, order string, names []string, check, write bool) error {
	benchDir, err := repoBenchDir()
	if err != nil {
		return err
	}
	for _, tool := range []string{"wrk", "taskset"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install wrk util-linux)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "streamgate-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if os.Getenv("BENCH_KEEP") == "" {
			os.RemoveAll(dir)
		}
	}()
	if err := build(ctx, dir); err != nil {
		return err
	}

	// Two CPUs: wrk on one, origin and proxy on the other, so every proxy
	// gets the same budget. On one CPU everything shares it.
	loadCPU, serveCPU := "0", "1"
	if runtime.NumCPU() < 2 {
		serveCPU = "0"
	}
	originAddr, err := procs.FreeAddr()
	if err != nil {
		return err
	}
	origin, err := procs.Start(dir, "origin", serveCPU, []string{"GOMAXPROCS=1"}, filepath.Join(dir, "origin"), "-listen", originAddr)
	if err != nil {
		return err
	}
	defer origin.Stop()
	if err := procs.WaitListening(ctx, originAddr, origin, listenWithin); err != nil {
		return err
	}
	e := env{dir: dir, benchDir: benchDir, origin: originAddr, cpu: serveCPU, loadCPU: loadCPU}

	starters := map[string]func(context.Context, env) (*target, error){
		"reference":  startReference,
		"streamgate": func(ctx context.Context, e env) (*target, error) { return startStreamgate(ctx, e, "streamgate") },
		// The same without its access log (on by default, to the target's log file).
		"streamgate-nolog": func(ctx context.Context, e env) (*target, error) {
			return startStreamgate(ctx, e, "streamgate-nolog", "-access-log", "off")
		},
		"streamgate-redis": func(ctx context.Context, e env) (*target, error) {
			return startStreamgateRedis(ctx, e, "streamgate-redis")
		},
		// Redis without the access log: set beside streamgate-nolog, the
		// pair differs in the store alone.
		"streamgate-redis-nolog": func(ctx context.Context, e env) (*target, error) {
			return startStreamgateRedis(ctx, e, "streamgate-redis-nolog", "-access-log", "off")
		},
		"nginx":   startNginx,
		"haproxy": startHAProxy,
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.stop()
		}
	}()
	for _, name := range names {
		// "streamgate-nolog+GOGC=100" is streamgate-nolog run with GOGC=100.
		base, vars, _ := strings.Cut(name, "+")
		start, ok := starters[base]
		if !ok {
			return fmt.Errorf("unknown target %q", name)
		}
		te := e
		if vars != "" {
			te.extraEnv = strings.Split(vars, "+")
		}
		t, err := start(ctx, te)
		if t != nil {
			t.name = name
			t.placeFile = filepath.Join(dir, fmt.Sprintf("place-%d", len(targets)))
		}
		if err != nil {
			if t != nil {
				t.stop()
			}
			return fmt.Errorf("target %s: %w", name, err)
		}
		targets = append(targets, t)
		log.Printf("%s listening on %s", name, t.addr)
	}

	ld := load{lua: filepath.Join(benchDir, "users.lua"), cpu: loadCPU, order: order, conns: conns}
	ticks := clockTicks()
	// Warm-up: connections, pools, the gate's table.
	for _, t := range targets {
		for _, p := range paths {
			if _, err := runWrk(ctx, ld, t, p.path, time.Second); err != nil {
				return fmt.Errorf("warm-up of %s: %w", t.name, err)
			}
		}
	}

	started := time.Now()
	var samples []sample
	var failures []string
	for round := 1; round <= rounds; round++ {
		for _, p := range paths {
			// Each round starts with the next target, so that no target is
			// always measured right after the same neighbour.
			for i := range targets {
				t := targets[(i+round-1)%len(targets)]
				if err := ctx.Err(); err != nil {
					return err
				}
				// A target idle while the others ran is measured warm, as a
				// gate in service is: its pools, connections and caches are
				// in use, and with Redis its refresh table is current, which
				// takes one -refresh-interval (10 s) of traffic.
				if warm >= time.Second {
					if _, err := runWrk(ctx, ld, t, p.path, warm); err != nil {
						return fmt.Errorf("warming %s: %w", t.name, err)
					}
				}
				s, err := measure(ctx, t, ld, p.name, p.path, d, ticks)
				if err != nil {
					return err
				}
				s.Round = round
				samples = append(samples, s)
				log.Printf("round %d %-8s %-16s %8.0f req/s  p50 %6d µs  p99 %6d µs  %7.1f CPU µs/req (GC %.1f)",
					round, p.name, t.name, s.RPS, s.P50US, s.P99US, s.CPUPerReqUS, s.GCPerReqUS)
				failures = append(failures, s.problems(conns)...)
			}
		}
	}
	rep := summarize(samples, names)
	rep.Command = "go run ./bench/run " + strings.Join(os.Args[1:], " ")
	rep.Date = started.UTC().Format("2006-01-02")
	rep.Machine = machine()
	rep.Rounds, rep.Duration, rep.Warm, rep.Conns, rep.Order = rounds, d.String(), warm.String(), conns, order
	fmt.Println(rep.markdown())
	if write {
		if err := rep.write(benchDir); err != nil {
			return err
		}
	}
	if check && len(failures) > 0 {
		return errors.New("checks failed:\n  " + strings.Join(failures, "\n  "))
	}
	if check {
		log.Printf("checks passed: every target answered every request; streamgate's counters match what wrk sent")
	}
	return nil
}

func benchScale(ctx context.Context, count int, write bool) error {
	benchDir, err := repoBenchDir()
	if err != nil {
		return err
	}
	points, err := runScale(ctx, count, "2s")
	if err != nil {
		return err
	}
	ratio, err := runScaleRatio(ctx, 60)
	if err != nil {
		return err
	}
	md := scaleMarkdown(points, ratio, "go run ./bench/run "+strings.Join(os.Args[1:], " "))
	fmt.Println(md)
	if write {
		return writeScale(benchDir, md, points)
	}
	return nil
}

// build compiles streamgate (as make build does), the origin and the reference.
func build(ctx context.Context, dir string) error {
	for _, b := range []struct{ out, pkg string }{
		{"streamgate", "./cmd/streamgate"},
		{"origin", "./bench/origin"},
		{"reference", "./bench/reference"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// repoBenchDir finds bench/ from the working directory (the repository root
// or bench/ itself).
func repoBenchDir() (string, error) {
	for _, d := range []string{"bench", "."} {
		if _, err := os.Stat(filepath.Join(d, "users.lua")); err == nil {
			return filepath.Abs(d)
		}
	}
	return "", errors.New("run from the repository root: bench/users.lua not found")
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d CPUs, %s %s/%s", model, runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
