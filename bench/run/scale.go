package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// scalePoint is BenchmarkScale at one table size.
type scalePoint struct {
	Sessions  int     `json:"sessions"`
	NsPerOp   float64 `json:"ns_per_op"`
	HeapBytes float64 `json:"heap_bytes_per_session"`
}

// scaleLine reads a BenchmarkScale line: its size, ns/op and B/session,
// the memory per session in Go's heap and out of it (the table) together.
var scaleLine = regexp.MustCompile(`^BenchmarkScale/sessions=(\d+)\S*\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) B/session`)

// runScale runs the limiter's BenchmarkScale count times and keeps, per size,
// the median latency and the heap per session.
func runScale(ctx context.Context, count int, benchtime string) ([]scalePoint, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "./limiter/", "-run", "^$", "-bench", "^BenchmarkScale$",
		"-benchtime", benchtime, "-count", strconv.Itoa(count), "-timeout", "60m")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("BenchmarkScale: %w\n%s", err, out.String())
	}
	lat := map[int][]float64{}
	heap := map[int]float64{}
	var sizes []int
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		m := scaleLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		ns, _ := strconv.ParseFloat(m[2], 64)
		hb, _ := strconv.ParseFloat(m[3], 64)
		if _, seen := lat[n]; !seen {
			sizes = append(sizes, n)
		}
		lat[n] = append(lat[n], ns)
		heap[n] = hb
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("BenchmarkScale printed no result:\n%s", out.String())
	}
	points := make([]scalePoint, len(sizes))
	for i, n := range sizes {
		points[i] = scalePoint{Sessions: n, NsPerOp: newStat(lat[n]).Median, HeapBytes: heap[n]}
	}
	return points, nil
}

// scaleRatio is BenchmarkScaleRatio: the decision over the largest table
// against over 1k, in alternating chunks of one process.
type scaleRatio struct {
	Median, Q1, Q3   float64
	SmallNs, LargeNs float64
	Pairs            int
}

var ratioMetric = regexp.MustCompile(`([\d.]+) (x-vs-1k|x-q1|x-q3|ns/decision-1k|ns/decision-large)`)

// runScaleRatio runs BenchmarkScaleRatio once, pairs chunk pairs.
func runScaleRatio(ctx context.Context, pairs int) (scaleRatio, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "./limiter/", "-run", "^$", "-bench", "^BenchmarkScaleRatio$",
		"-benchtime", strconv.Itoa(pairs)+"x", "-count", "1", "-timeout", "30m")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return scaleRatio{}, fmt.Errorf("BenchmarkScaleRatio: %w\n%s", err, out.String())
	}
	r := scaleRatio{Pairs: pairs}
	fields := map[string]*float64{"x-vs-1k": &r.Median, "x-q1": &r.Q1, "x-q3": &r.Q3,
		"ns/decision-1k": &r.SmallNs, "ns/decision-large": &r.LargeNs}
	for _, m := range ratioMetric.FindAllStringSubmatch(out.String(), -1) {
		*fields[m[2]], _ = strconv.ParseFloat(m[1], 64)
	}
	if r.Median == 0 {
		return scaleRatio{}, fmt.Errorf("BenchmarkScaleRatio printed no ratio:\n%s", out.String())
	}
	return r, nil
}

func scaleMarkdown(points []scalePoint, r scaleRatio, command string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s · `%s`\n\n", machine(), command)
	b.WriteString("| tracked sessions | decision ns/op (median) | vs smallest | bytes per session (Go's heap and the table) |\n| --- | --- | --- | --- |\n")
	for _, p := range points {
		fmt.Fprintf(&b, "| %s | %.0f | %.2f× | %.0f |\n", thousands(p.Sessions), p.NsPerOp, p.NsPerOp/points[0].NsPerOp, p.HeapBytes)
	}
	large := points[len(points)-1].Sessions
	fmt.Fprintf(&b, "\nSide by side in one process (`BenchmarkScaleRatio`, %d pairs of 20,000 decisions over 1k and over %s "+
		"sessions, alternating): the decision over %s took %.2f× (half the pairs %.2f–%.2f×) its time over 1k, %.0f against %.0f ns (medians).\n",
		r.Pairs, thousands(large), thousands(large), r.Median, r.Q1, r.Q3, r.LargeNs, r.SmallNs)
	return b.String()
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// scaleChart draws latency and heap per session against the table size.
func scaleChart(points []scalePoint, path string) error {
	p := plot.New()
	p.Title.Text = "The decision at growing table sizes (one heartbeat of a random session)"
	p.X.Label.Text = "tracked sessions"
	p.Y.Label.Text = "ns per decision · heap bytes per session"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	lat, heap := make(plotter.XYs, len(points)), make(plotter.XYs, len(points))
	top := 0.0
	for i, pt := range points {
		lat[i] = plotter.XY{X: float64(pt.Sessions), Y: pt.NsPerOp}
		heap[i] = plotter.XY{X: float64(pt.Sessions), Y: pt.HeapBytes}
		top = max(top, pt.NsPerOp, pt.HeapBytes)
	}
	p.Y.Min, p.Y.Max = 0, top*1.3
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		i    int
	}{{"ns per decision", lat, 0}, {"heap bytes per session", heap, 1}} {
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return err
		}
		l.Color = []color.Color{colorBlue, colorRed}[s.i]
		pts.Color = l.Color
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(8*vg.Inch, 4.5*vg.Inch, path)
}

// writeScale saves scale.json and the chart, and puts the table into
// bench/README.md between its scale markers.
func writeScale(benchDir, md string, points []scalePoint) error {
	js, err := json.MarshalIndent(points, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(benchDir, "scale.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := scaleChart(points, filepath.Join(benchDir, "scale.png")); err != nil {
		return err
	}
	return replaceBetween(filepath.Join(benchDir, "README.md"), "<!-- scale:start -->", "<!-- scale:end -->", md)
}

func replaceBetween(path, start, end, text string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s … %s markers", path, start, end)
	}
	return os.WriteFile(path, []byte(s[:i+len(start)]+"\n"+text+"\n"+s[j:]), 0o644)
}

// replot redraws both charts from results.json and scale.json.
func replot(benchDir string) error {
	var rep report
	if err := readJSON(filepath.Join(benchDir, "results.json"), &rep); err != nil {
		return err
	}
	if err := rep.chart(filepath.Join(benchDir, "proxies.png")); err != nil {
		return err
	}
	var points []scalePoint
	if err := readJSON(filepath.Join(benchDir, "scale.json"), &points); err != nil {
		return err
	}
	return scaleChart(points, filepath.Join(benchDir, "scale.png"))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
