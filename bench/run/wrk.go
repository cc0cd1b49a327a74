package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what bench/users.lua prints when wrk is done.
type wrkResult struct {
	Requests      int64 `json:"requests"`
	Sent          int64 `json:"sent"`
	DurationUS    int64 `json:"duration_us"`
	Bytes         int64 `json:"bytes"`
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	StatusErrors  int64 `json:"status_errors"`
	Timeouts      int64 `json:"timeouts"`
	P50US         int64 `json:"p50_us"`
	P99US         int64 `json:"p99_us"`
}

func (r wrkResult) errors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.StatusErrors + r.Timeouts
}

// load is how wrk drives the targets: bench/users.lua at lua, pinned to
// cpu, over conns connections, its sessions asked in order (users.lua's
// BENCH_ORDER).
type load struct {
	lua, cpu, order string
	conns           int
}

// runWrk drives t for d from one wrk thread, requesting path as the users of
// bench/users.lua.
func runWrk(ctx context.Context, ld load, t *target, path string, d time.Duration) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "taskset", "-c", ld.cpu, "wrk", "-t1", "-c", strconv.Itoa(ld.conns),
		"-d", strconv.Itoa(int(d.Seconds()))+"s", "--timeout", "10s", "-s", ld.lua, "http://"+t.addr+path)
	// Each target's sessions go on in turn from where its last run left
	// them, whichever path that run asked for: the gate's table is one.
	cmd.Env = append(os.Environ(), "BENCH_PATH="+path, "BENCH_ORDER="+ld.order, "BENCH_PLACE_FILE="+t.placeFile)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, out.String())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "BENCH_RESULT "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return r, fmt.Errorf("parsing wrk result: %w", err)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("wrk printed no result: %s", out.String())
}

// gateCounters reads streamgate's admission and rejection counters.
type gateCounters struct {
	admitted, rejected, invalid, storeCalls float64
}

// settledGate scrapes the gate's counters once its decisions have stopped
// changing: the wrk run before may have left requests in flight that the
// gate decides a moment later (with Redis, after a round trip), and counting
// them in the next window would make it look as if the gate admitted more
// than wrk sent. It gives up waiting after a few seconds.
func settledGate(ctx context.Context, admin string) (gateCounters, error) {
	last, err := scrapeGate(admin)
	deadline := time.Now().Add(3 * time.Second)
	for err == nil && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		var c gateCounters
		if c, err = scrapeGate(admin); err == nil {
			if c.decisions() == last.decisions() {
				return c, nil
			}
			last = c
		}
	}
	return last, err
}

func (c gateCounters) decisions() float64 { return c.admitted + c.rejected + c.invalid }

func scrapeGate(admin string) (gateCounters, error) {
	var c gateCounters
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}}
	resp, err := client.Get("http://" + admin + "/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return c, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "streamgate_admissions_total"):
			c.admitted += v
		case strings.HasPrefix(name, "streamgate_rejections_total"):
			c.rejected += v
		case strings.HasPrefix(name, "streamgate_invalid_requests_total"):
			c.invalid += v
		case name == "streamgate_store_calls_total":
			c.storeCalls += v
		}
	}
	return c, nil
}
