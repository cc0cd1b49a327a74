package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/streamgate/streamgate/config"
	"github.com/streamgate/streamgate/limiter"
)

// GOGC, when the operator sets none, depends on whether a memory limit
// bounds the heap. Each cycle marks what is live in Go's heap, which the
// session table no longer is (limiter's tableHeap) but golang-lru's node of
// each user still is: under the side-by-side benchmark (bench/, 10,000
// users) a cycle costs 2.0 ms of CPU against the bare proxy's 0.7, 0.8
// with one user. Cycles come every GOGC% of the live heap of garbage, and
// each proxied request leaves ~5 KiB, so a higher GOGC spends less CPU and
// more memory, in proportion to a live heap that is now small.
const (
	// limitedGCPercent applies under a memory limit (the container's, or
	// GOMEMLIMIT): memory the operator granted is spent to save CPU, and the
	// limit makes the collector work harder before the heap could pass it.
	limitedGCPercent = 400
	// unlimitedGCPercent applies with nothing bounding the heap. Measured
	// side by side (README, "Memory and the collector"), 200 keeps the
	// collector's CPU within 0.3 µs a playlist of the bare proxy's, where
	// Go's default of 100 spent 3 µs more, the whole gate's budget thrice
	// over, to hold 5 MiB less.
	unlimitedGCPercent = 200
)

// tableFollowInterval is how often followTable moves the Go memory limit.
const tableFollowInterval = 2 * time.Second

// memoryLimitShare is the part of the container's memory limit given to the
// Go runtime as GOMEMLIMIT, leaving room for stacks and the kernel's buffers.
const memoryLimitShare = 0.9

// cgroupMemoryFiles are where cgroup v2 and v1 show the container's limit.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// bytesPerUser is what one user of the memory table is reckoned to cost
// when -max-users is sized from the memory limit. Measured (README, bench:
// HeapPerUser) a user with one session takes 320-340 bytes from 1k to 1M
// users, 90-105 of them in Go's heap; 512 leaves room for what that
// benchmark does not hold: a second and third session, real user agents
// and addresses, and the garbage between two GC cycles.
const bytesPerUser = 512

// memoryShareForUsers is the part of the memory limit the table may fill;
// the rest is for requests in flight, buffers and the runtime.
const memoryShareForUsers = 0.5

// runtimeTuning is what tuneGC set, for the start-up log line.
type runtimeTuning struct {
	gcPercent string
	memLimit  string // as logged
	// limit is the Go memory limit in force in bytes, 0 for none.
	limit int64
	// limitFrom says where limit came from.
	limitFrom string
}

// tuneGC applies the sidecar GC defaults, leaving alone whatever the operator
// set through GOGC or GOMEMLIMIT, and returns what is in force. It logs
// nothing: serve logs it once start-up cannot fail any more.
func tuneGC(getenv func(string) string) runtimeTuning {
	rt := runtimeTuning{memLimit: getenv("GOMEMLIMIT")}
	if rt.memLimit != "" {
		if n, ok := parseGoMemLimit(rt.memLimit); ok {
			rt.limit, rt.limitFrom = n, "GOMEMLIMIT"
		}
	} else if l, ok := containerMemoryLimit(); ok {
		share := int64(float64(l) * memoryLimitShare)
		debug.SetMemoryLimit(share)
		rt.memLimit = strconv.FormatInt(share, 10) + "B (90% of the container's limit)"
		rt.limit, rt.limitFrom = share, "90% of the container's memory limit"
	} else {
		rt.memLimit = "none (no container limit found; set GOMEMLIMIT to bound the heap)"
	}
	rt.gcPercent = getenv("GOGC")
	if rt.gcPercent == "" {
		p := defaultGCPercent(rt.limit)
		debug.SetGCPercent(p)
		rt.gcPercent = strconv.Itoa(p)
	}
	return rt
}

// defaultGCPercent is GOGC when the operator sets none, under a memory
// limit of limit bytes (0: none).
func defaultGCPercent(limit int64) int {
	if limit > 0 {
		return limitedGCPercent
	}
	return unlimitedGCPercent
}

// maxUsers is the default of -max-users: as many users as fill half of the
// memory limit at bytesPerUser, never above limiter.DefaultMaxUsers nor
// below minShardUsers' worth of a small table.
func (rt runtimeTuning) maxUsers() int {
	if rt.limit <= 0 {
		return limiter.DefaultMaxUsers
	}
	n := int64(float64(rt.limit)*memoryShareForUsers) / bytesPerUser
	return int(max(1024, min(n, limiter.DefaultMaxUsers)))
}

// logAttrs are the start-up line's attributes: the GC settings and how
// -max-users was chosen.
func (rt runtimeTuning) logAttrs(cfg config.Config) []any {
	why := "given"
	switch {
	case cfg.MaxUsersGiven:
	case rt.limit <= 0:
		why = "default: no memory limit found"
	case cfg.MaxUsers == limiter.DefaultMaxUsers:
		why = fmt.Sprintf("default: half of the memory limit (%s, %d bytes) holds more at %d bytes per user", rt.limitFrom, rt.limit, bytesPerUser)
	default:
		why = fmt.Sprintf("half of the memory limit (%s, %d bytes) at %d bytes per user", rt.limitFrom, rt.limit, bytesPerUser)
	}
	memLimit := rt.memLimit
	if rt.limit > 0 {
		memLimit += ", less the session table's memory (out of Go's heap)"
	}
	return []any{"gogc", rt.gcPercent, "gomemlimit", memLimit, "max_users", cfg.MaxUsers, "max_users_from", why}
}

// parseGoMemLimit reads GOMEMLIMIT as the runtime does: a byte count with
// an optional unit B, KiB, MiB, GiB or TiB; "off" is no limit.
func parseGoMemLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/unit {
		return 0, false
	}
	return n * unit, true
}

// containerMemoryLimit reads the cgroup memory limit, if there is one.
func containerMemoryLimit() (int64, bool) {
	for _, f := range cgroupMemoryFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		return parseMemoryLimit(string(b))
	}
	return 0, false
}

// parseMemoryLimit reads a cgroup limit: "max" (v2) or a byte count where
// v1 writes a number near 2^63 for none.
func parseMemoryLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0, false
	}
	return n, true
}

// followTable keeps the Go runtime's memory limit at limit less what the
// memory table has mapped until ctx ends. The table lies out of Go's heap
// (limiter's tableHeap), where GOMEMLIMIT does not count it, so limit, the
// container's share or the operator's GOMEMLIMIT, would otherwise bound the
// heap alone and let heap and table together pass the container's limit.
func followTable(ctx context.Context, limit int64, table func() int64, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		debug.SetMemoryLimit(goMemoryLimit(limit, table()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// goMemoryLimit is the Go runtime's part of limit when the table holds
// table bytes: a quarter of limit at least, so that a table grown past its
// reckoning (bytesPerUser) leaves the collector room to work in, not a
// limit it could never meet.
func goMemoryLimit(limit, table int64) int64 {
	return max(limit-table, limit/4)
}
