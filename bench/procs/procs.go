// Package procs starts and stops the child processes of the side-by-side
// benchmark (bench/run) and the soak (bench/soak): the origin, the proxies,
// redis-server, nginx and HAProxy.
package procs

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Proc is a child process in a process group of its own, so that stopping
// it stops its children too (nginx's workers).
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	log  *os.File
}

// Start starts argv with env added to its environment, logging to
// dir/name.log (name-2.log and on when taken, so that variants of one
// target keep logs of their own). A non-empty cpus pins it there with
// taskset.
func Start(dir, name, cpus string, env []string, argv ...string) (*Proc, error) {
	logName := filepath.Join(dir, name+".log")
	for i := 2; exists(logName); i++ {
		logName = filepath.Join(dir, name+"-"+strconv.Itoa(i)+".log")
	}
	logf, err := os.Create(logName)
	if err != nil {
		return nil, err
	}
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return &Proc{Name: name, Cmd: cmd, log: logf}, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// Stop sends the process group SIGTERM, then SIGKILL after 5 s, and reaps
// the process.
func (p *Proc) Stop() {
	if p == nil || p.Cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = p.Cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	p.log.Close()
}

// LogSize is how much the process has written so far: where LogFrom
// starts for what it writes next.
func (p *Proc) LogSize() (int64, error) {
	fi, err := os.Stat(p.log.Name())
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// LogFrom is what the process wrote from offset off on.
func (p *Proc) LogFrom(off int64) ([]byte, error) {
	f, err := os.Open(p.log.Name())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// Tail is the end of the process's output, for error messages.
func (p *Proc) Tail() string {
	b, _ := os.ReadFile(p.log.Name())
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(len(lines)-5, 0):], "\n")
}

// FreeAddr asks the kernel for a free loopback address.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WaitListening polls addr until it accepts connections, for at most
// within; p, when given, names the process in the error.
func WaitListening(ctx context.Context, addr string, p *Proc, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	name := addr
	if p != nil {
		name = p.Name + " (" + p.log.Name() + ": " + p.Tail() + ")"
	}
	return fmt.Errorf("%s did not listen within %s", name, within)
}
