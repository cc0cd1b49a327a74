package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamgate/streamgate/limiter/limitertest"
)

// TestWebhookDrainsOnGroupSignal: a SIGTERM sent to streamgate's whole
// process group (systemd's stop, Ctrl-C's SIGINT alike) reaches
// streamgate-kube once, through streamgate, so that it drains and exits 0
// rather than take streamgate's SIGTERM for a second signal and die.
func TestWebhookDrainsOnGroupSignal(t *testing.T) {
	dir := kubeOnPath(t, true)
	addr, certFile, keyFile := webhookArgs(t)
	var stderr limitertest.SyncBuffer
	cmd := exec.Command(filepath.Join(dir, "streamgate"), "webhook", "-listen", addr, "-tls-cert", certFile, "-tls-key", keyFile)
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	waitHealthy(t, addr)
	kube := childOf(t, cmd.Process.Pid)
	assert.Equal(t, kube, processGroup(t, kube), "streamgate-kube leads a process group of its own")
	// A request half sent keeps the drain waiting, as one in flight would,
	// until the test lets it go.
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a certificate made for the test
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("POST /mutate HTTP/1.1\r\nHost: webhook\r\n"))
	require.NoError(t, err)

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, stderr.String(), `"msg":"webhook draining"`)
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, conn.Close())
	select {
	case err := <-done:
		done <- err // for the cleanup
		require.NoError(t, err, "stderr: %s", stderr.String())
	case <-time.After(time.Minute):
		t.Fatal("streamgate webhook did not stop after SIGTERM")
	}
	assert.Equal(t, 1, strings.Count(stderr.String(), `"msg":"webhook draining"`), stderr.String())
	assert.Contains(t, stderr.String(), `"msg":"webhook stopped"`)
}

// childOf is the one child process of pid, from /proc.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	require.NoError(t, err)
	var children []int
	for _, f := range stats {
		if fields := procStat(f); len(fields) > 2 && fields[1] == strconv.Itoa(pid) {
			child, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			require.NoError(t, err)
			children = append(children, child)
		}
	}
	require.Len(t, children, 1, "streamgate runs streamgate-kube, and nothing else")
	return children[0]
}

// processGroup is the process group of pid, from /proc.
func processGroup(t *testing.T, pid int) int {
	t.Helper()
	fields := procStat(fmt.Sprintf("/proc/%d/stat", pid))
	require.Greater(t, len(fields), 2)
	pgrp, err := strconv.Atoi(fields[2])
	require.NoError(t, err)
	return pgrp
}

// procStat is a /proc/PID/stat's fields after the command's name (which
// may hold spaces): state, ppid, pgrp, and on; nil when it is gone.
func procStat(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}
