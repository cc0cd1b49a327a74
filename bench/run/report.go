package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// stat is a median with its range over the rounds.
type stat struct {
	Median, Min, Max float64
}

func newStat(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{Median: m, Min: s[0], Max: s[len(s)-1]}
}

type row struct {
	Target  string `json:"target"`
	Path    string `json:"path"`
	RPS     stat   `json:"rps"`
	P50US   stat   `json:"p50_us"`
	P99US   stat   `json:"p99_us"`
	CPUUS   stat   `json:"cpu_us_per_request"`
	GCUS    stat   `json:"gc_cpu_us_per_request"`
	RSSMiB  stat   `json:"rss_mib"`
	AnonMiB stat   `json:"anon_mib"`
	// Ratios to the reference computed within each round, then the median.
	RPSVsRef stat `json:"rps_vs_reference"`
	CPUVsRef stat `json:"cpu_vs_reference"`
	// StoreCallsPerReq is the store round trips per request (streamgate).
	StoreCallsPerReq stat `json:"store_calls_per_request"`
	// StoreCPUUS is redis-server's CPU per request (Redis targets).
	StoreCPUUS stat `json:"store_cpu_us_per_request"`
	// gcTraced is set when GCUS was measured: a Go proxy.
	gcTraced bool
}

// storeRow compares a Redis target with the same streamgate on the memory
// store, round by round: what the shared store costs.
type storeRow struct {
	Target    string `json:"target"`
	Base      string `json:"base"`
	Path      string `json:"path"`
	RPSVsBase stat   `json:"rps_vs_base"`
	CPUVsBase stat   `json:"cpu_vs_base"`
}

type report struct {
	Date     string `json:"date"`
	Machine  string `json:"machine"`
	Command  string `json:"command"`
	Rounds   int    `json:"rounds"`
	Duration string `json:"duration"`
	Warm     string `json:"warm"`
	Conns    int    `json:"connections"`
	// Order is users.lua's BENCH_ORDER; empty in results written before it.
	Order   string     `json:"order,omitempty"`
	Rows    []row      `json:"rows"`
	Stores  []storeRow `json:"stores,omitempty"`
	Samples []sample   `json:"samples"`
}

func summarize(samples []sample, targets []string) report {
	rep := report{Samples: samples}
	for _, p := range paths {
		for _, t := range targets {
			var rps, p50, p99, cpu, gc, rss, anon, calls, storeCPU []float64
			for _, s := range samples {
				if s.Target != t || s.Path != p.name {
					continue
				}
				rps = append(rps, s.RPS)
				p50 = append(p50, float64(s.P50US))
				p99 = append(p99, float64(s.P99US))
				cpu = append(cpu, s.CPUPerReqUS)
				if s.GoRuntime {
					gc = append(gc, s.GCPerReqUS)
				}
				rss = append(rss, s.RSSMiB)
				anon = append(anon, s.AnonMiB)
				if s.Gate && s.Requests > 0 {
					calls = append(calls, s.StoreCalls/float64(s.Requests))
				}
				if s.StoreCPUPerReqUS > 0 {
					storeCPU = append(storeCPU, s.StoreCPUPerReqUS)
				}
			}
			rpsRatio, cpuRatio := pairedRatios(samples, t, "reference", p.name)
			if len(rps) == 0 {
				continue
			}
			rep.Rows = append(rep.Rows, row{Target: t, Path: p.name, RPS: newStat(rps), P50US: newStat(p50), P99US: newStat(p99),
				CPUUS: newStat(cpu), GCUS: newStat(gc), RSSMiB: newStat(rss), AnonMiB: newStat(anon), RPSVsRef: newStat(rpsRatio), CPUVsRef: newStat(cpuRatio), StoreCallsPerReq: newStat(calls),
				StoreCPUUS: newStat(storeCPU), gcTraced: len(gc) > 0})
			if base, ok := memoryTwin(t); ok && slices.Contains(targets, base) {
				rs, cs := pairedRatios(samples, t, base, p.name)
				if len(rs) > 0 {
					rep.Stores = append(rep.Stores, storeRow{Target: t, Base: base, Path: p.name, RPSVsBase: newStat(rs), CPUVsBase: newStat(cs)})
				}
			}
		}
	}
	return rep
}

// pairedRatios are target's rate and CPU per request over base's, each
// computed within one round (the two ran seconds apart), on one path.
func pairedRatios(samples []sample, target, base, path string) (rps, cpu []float64) {
	for _, s := range samples {
		if s.Target != target || s.Path != path {
			continue
		}
		for _, b := range samples {
			if b.Target == base && b.Path == path && b.Round == s.Round && b.RPS > 0 && b.CPUPerReqUS > 0 {
				rps = append(rps, s.RPS/b.RPS)
				cpu = append(cpu, s.CPUPerReqUS/b.CPUPerReqUS)
			}
		}
	}
	return rps, cpu
}

// memoryTwin is the memory-store target a Redis target differs from by its
// store alone: streamgate-redis-nolog+GOGC=50 pairs with streamgate-nolog+GOGC=50.
func memoryTwin(target string) (string, bool) {
	name, env, _ := strings.Cut(target, "+")
	rest, ok := strings.CutPrefix(name, "streamgate-redis")
	if !ok {
		return "", false
	}
	if env != "" {
		env = "+" + env
	}
	return "streamgate" + rest + env, true
}

func (r report) markdown() string {
	var b strings.Builder
	order := "sessions at random"
	if r.Order == "turn" {
		order = "sessions in turn"
	}
	fmt.Fprintf(&b, "%s · %s · %d rounds × %s per target and path (each after %s unmeasured), %d connections, %s, interleaved · `%s`\n\n",
		r.Date, r.Machine, r.Rounds, r.Duration, r.Warm, r.Conns, order, r.Command)
	b.WriteString("| path | target | req/s median (min–max) | vs reference | p50 µs | p99 µs | CPU µs/req median (min–max) | CPU vs reference | of which GC | RSS MiB median (max) | of which anonymous |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.Rows {
		ratio, cpuRatio := "—", "—"
		if row.Target != "reference" && row.RPSVsRef.Median > 0 {
			ratio = fmt.Sprintf("%.3f× (%.3f–%.3f)", row.RPSVsRef.Median, row.RPSVsRef.Min, row.RPSVsRef.Max)
			cpuRatio = fmt.Sprintf("%.2f×", row.CPUVsRef.Median)
		}
		gc := "—" // not a Go proxy
		if row.gcTraced {
			gc = fmt.Sprintf("%.1f (%.1f–%.1f)", row.GCUS.Median, row.GCUS.Min, row.GCUS.Max)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f (%.0f–%.0f) | %s | %.0f | %.0f | %.1f (%.1f–%.1f) | %s | %s | %.0f (%.0f) | %.1f |\n",
			row.Path, row.Target, row.RPS.Median, row.RPS.Min, row.RPS.Max, ratio, row.P50US.Median, row.P99US.Median,
			row.CPUUS.Median, row.CPUUS.Min, row.CPUUS.Max, cpuRatio, gc, row.RSSMiB.Median, row.RSSMiB.Max, row.AnonMiB.Median)
	}
	for _, row := range r.Rows {
		if strings.HasPrefix(row.Target, "streamgate-redis") && row.StoreCallsPerReq.Median > 0 {
			fmt.Fprintf(&b, "\n%s, %s: %.3f store round trips", row.Target, row.Path, row.StoreCallsPerReq.Median)
			if row.StoreCPUUS.Median > 0 {
				// redis-server runs beside wrk, not on the proxy's CPU.
				fmt.Fprintf(&b, " and %.1f µs of redis-server's CPU", row.StoreCPUUS.Median)
			}
			b.WriteString(" per request (medians).")
		}
	}
	for _, st := range r.Stores {
		fmt.Fprintf(&b, "\n%s against %s, %s, within each round: %.3f× (%.3f–%.3f) the rate, %.2f× the CPU per request (median).",
			st.Target, st.Base, st.Path, st.RPSVsBase.Median, st.RPSVsBase.Min, st.RPSVsBase.Max, st.CPUVsBase.Median)
	}
	return b.String()
}

// write saves results.json, the chart, and the table into bench/README.md
// between its results markers.
func (r report) write(benchDir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(benchDir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := r.chart(filepath.Join(benchDir, "proxies.png")); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return replaceBetween(filepath.Join(benchDir, "README.md"), "<!-- results:start -->", "<!-- results:end -->", r.markdown())
}
