package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a process the harness started, in its own process group so that
// stopping it stops its children too (nginx's workers).
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
}

// startPinned starts argv on the given CPU list with taskset, logging to dir.
func startPinned(dir, name, cpus string, env []string, argv ...string) (*proc, error) {
	// Variants of one target (see env.extraEnv) keep logs of their own.
	logName := filepath.Join(dir, name+".log")
	for i := 2; fileExists(logName); i++ {
		logName = filepath.Join(dir, name+"-"+strconv.Itoa(i)+".log")
	}
	logf, err := os.Create(logName)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-c", cpus}, argv...)
	cmd := exec.Command("taskset", args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, log: logf}, nil
}

// stop kills the process group and reaps the process.
func (p *proc) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.log.Close()
}

// cpuTicks is the user+system CPU time, in clock ticks, of every process in
// p's process group (taskset execs the target, so the group is the target
// and its children).
func (p *proc) cpuTicks() (int64, error) {
	var total int64
	err := p.eachInGroup(func(fields []string, _ string) {
		// fields[0] is state (field 3); utime is field 14, stime 15.
		ut, _ := strconv.ParseInt(fields[11], 10, 64)
		st, _ := strconv.ParseInt(fields[12], 10, 64)
		total += ut + st
	})
	return total, err
}

// rssBytes is the resident memory of the process's group (nginx's master and
// worker together), from /proc/PID/statm.
func (p *proc) rssBytes() (int64, error) {
	var total int64
	page := int64(os.Getpagesize())
	err := p.eachInGroup(func(_ []string, dir string) {
		b, err := os.ReadFile(filepath.Join(dir, "statm"))
		if err != nil {
			return // exited meanwhile
		}
		if f := strings.Fields(string(b)); len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			total += n * page
		}
	})
	return total, err
}

// eachInGroup calls fn with the /proc/PID/stat fields after the command
// name, and the /proc/PID directory, of every process in p's process group.
func (p *proc) eachInGroup(fn func(fields []string, dir string)) error {
	pgid := p.cmd.Process.Pid
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

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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

// freePort asks the kernel for a free loopback port.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitListening polls addr until it accepts connections or the deadline passes.
func waitListening(ctx context.Context, addr string, p *proc) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if p != nil && p.cmd.ProcessState != nil {
			return fmt.Errorf("%s exited; see %s", p.name, p.log.Name())
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	name := addr
	if p != nil {
		name = p.name + " (" + p.log.Name() + ")"
	}
	return fmt.Errorf("%s did not listen within 15s", name)
}
