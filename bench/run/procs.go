package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/streamgate/streamgate/bench/procs"
)

// What the harness reads of the processes it started (bench/procs), from /proc.

// cpuTicks is the user+system CPU time, in clock ticks, of every process in
// p's process group (taskset execs the target, so the group is the target
// and its children).
func cpuTicks(p *procs.Proc) (int64, error) {
	var total int64
	err := eachInGroup(p, func(fields []string, _ string) {
		// fields[0] is state (field 3); utime is field 14, stime 15.
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		total += ut + st
	})
	return total, err
}

// rssBytes is the resident memory of the process's group (nginx's master and
// worker together), from /proc/PID/statm, and the anonymous part of it: what
// is resident less the pages of files (the binary, its libraries), which the
// page cache shares and can drop, so that anon is the process's own memory.
func rssBytes(p *procs.Proc) (rss, anon int64, err error) {
	page := int64(os.Getpagesize())
	err = eachInGroup(p, func(_ []string, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, "statm"))
		if err != nil {
			return // exited meanwhile
		}
		r, shared, ok := parseStatm(string(b))
		if ok {
			rss += r * page
			anon += (r - shared) * page
		}
	})
	return rss, anon, err
}

// parseStatm reads /proc/PID/statm's resident and shared pages (fields 2
// and 3); shared counts the resident pages backed by files or shared memory.
func parseStatm(s string) (resident, shared int64, ok bool) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(f[1], 10, 64)
	sh, err2 := strconv.ParseInt(f[2], 10, 64)
	return r, sh, err1 == nil && err2 == nil
}

// eachInGroup calls fn with the /proc/PID/stat fields after the command
// name, and the /proc/PID directory, of every process in p's process group.
func eachInGroup(p *procs.Proc, fn func(fields []string, dir string)) error {
	pgid := p.Cmd.Process.Pid
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		dir := filepath.Join("/proc", e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name may hold spaces; fields start after its ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// pgrp is field 5; utime and stime (14, 15) must be there.
		if len(fields) < 13 {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g != pgid && pid != pgid {
			continue
		}
		fn(fields, dir)
	}
	return nil
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
func clockTicks() int64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 100
	}
	return n
}
