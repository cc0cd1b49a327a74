// Package redistest starts real redis-server processes for tests: one
// standalone server, or a Redis Cluster of several masters, each on a free
// loopback port, with persistence off, stopped by PID when the test ends.
//
// When redis-server is missing the tests that need it skip, except in CI
// (CI=true), where they fail: CI installs it (.ci/deps), so its absence there
// is a broken build, not a reason to pass.
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server may take to answer its first PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	dir  string
	port int
	tls  bool
	args []string
	cmd  *exec.Cmd
}

// Require fails the test when redis-server (or redis-cli, which the
// cluster needs) is not installed: make test installs them (.ci/deps).
func Require(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"redis-server"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: make deps installs it (Debian package redis-server)", tool)
		}
	}
}

// Start starts a standalone redis-server; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	Require(t)
	return start(t, t.TempDir())
}

func start(t testing.TB, dir string, extra ...string) *Server {
	t.Helper()
	var lastErr error
	for range 5 { // a free port can be taken between choosing and binding it
		s := &Server{t: t, dir: dir, port: freePort(t)}
		s.args = []string{
			"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--daemonize", "no", "--loglevel", "warning",
			// DEBUG SLEEP stands in for a Redis that answers too late.
			"--enable-debug-command", "local",
		}
		// Later options win in redis-server's command line: "--port 0" after
		// "--tls-port {port}" makes a TLS-only server.
		for _, a := range extra {
			s.tls = s.tls || a == "--tls-port"
			s.args = append(s.args, strings.ReplaceAll(a, "{port}", strconv.Itoa(s.port)))
		}
		if lastErr = s.launch(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("starting redis-server: %v", lastErr)
	return nil
}

// freePort returns a loopback port that is free, and whose cluster bus port
// (port+10000) is free too.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("finding a free port: %v", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if port+10000 > 65535 {
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		if err != nil {
			continue
		}
		_ = bus.Close()
		return port
	}
	t.Fatal("no free loopback port pair found")
	return 0
}

// launch starts the process and waits for its first PONG. Output goes to a
// file, so that exec starts no copying goroutine.
func (s *Server) launch() error {
	log, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command("redis-server", s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if reply, err := s.Do("PING"); err == nil && reply == "PONG" {
			return nil
		}
		if exited(cmd) {
			s.cmd = nil
			out, _ := os.ReadFile(log.Name())
			return fmt.Errorf("redis-server exited at start: %s", lastLines(string(out), 3))
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	return errors.New("redis-server did not answer PING in time")
}

// exited reaps the process if it has exited, without blocking.
func exited(cmd *exec.Cmd) bool {
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(cmd.Process.Pid, &ws, syscall.WNOHANG, nil)
	return err != nil || pid == cmd.Process.Pid
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], " | ")
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the -store URL of the server. A TLS server's URL skips
// certificate verification: its certificate is self-signed.
func (s *Server) URL() string {
	if s.tls {
		return "rediss://" + s.Addr() + "?skip_verify=true"
	}
	return "redis://" + s.Addr()
}

// PID is the process id, or 0 while the server is down.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Kill kills the server by its PID and waits for it; killing a dead server
// does nothing.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a stopped process must run to die
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server if it runs and starts it again on the same port,
// empty (nothing is persisted).
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		// The port may linger for a moment after the kill.
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("restarting redis-server on port %d: %v", s.port, err)
}

// Pause stops the process with SIGSTOP: connections stay open and nothing
// answers, as with a Redis stuck in a long command or a frozen VM.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume undoes Pause.
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil {
		s.t.Fatal("redis-server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signalling redis-server: %v", err)
	}
}

// Do sends one command and returns its reply when it is a simple string, an
// integer or a bulk string (nil bulk reads as ""). Errors come back as
// errors. It is enough for probing; tests that need more use a real client.
func (s *Server) Do(args ...string) (string, error) {
	var conn net.Conn
	var err error
	d := &net.Dialer{Timeout: time.Second}
	if s.tls {
		conn, err = tls.DialWithDialer(d, "tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true})
	} else {
		conn, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(conn)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unsupported reply %q", line)
}
