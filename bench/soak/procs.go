package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/streamgate/streamgate/bench/procs"
)

// moduleRoot is the directory of the go.mod above the working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the streamgate module")
	}
	return filepath.Dir(mod), nil
}

// buildStreamgate builds the proxy binary into dir.
func buildStreamgate(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "streamgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/streamgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/streamgate: %w\n%s", err, out)
	}
	return bin, nil
}

// startRedis starts a redis-server without persistence on a free loopback port.
func startRedis(dir string) (*procs.Proc, string, error) {
	addr, err := procs.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	p, err := procs.Start(dir, "redis", "", nil, "redis-server", "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning")
	if err != nil {
		return nil, "", err
	}
	if err := procs.WaitListening(context.Background(), addr, p, 10*time.Second); err != nil {
		p.Stop()
		return nil, "", fmt.Errorf("redis-server: %w", err)
	}
	return p, addr, nil
}

// replica is one streamgate process.
type replica struct {
	*procs.Proc
	url   string // the proxy listener
	admin string // the admin listener
}

// counter sums the samples of a metric on the replica's /metrics.
func (r *replica) counter(name string) float64 {
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

func startReplica(dir, bin, name, upstream string, o Options) (*replica, error) {
	listen, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	admin, err := procs.FreeAddr()
	if err != nil {
		return nil, err
	}
	args := []string{bin,
		"-listen", listen, "-admin-listen", admin, "-upstream", upstream,
		"-session-ttl", o.TTL.String(), "-max-streams", strconv.Itoa(o.Limit),
		"-log-format", "text", "-log-level", "warn", "-shutdown-timeout", "2s",
		// The simulator reads the replicas' warnings, not a line per request.
		"-access-log", "off",
	}
	if o.RedisURL != "" {
		args = append(args, "-store", o.RedisURL)
	}
	if o.StoreTimeout > 0 {
		args = append(args, "-store-timeout", o.StoreTimeout.String())
	}
	if o.RefreshInterval >= 0 {
		args = append(args, "-refresh-interval", o.RefreshInterval.String())
	}
	p, err := procs.Start(dir, name, "", nil, args...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return &replica{Proc: p, url: "http://" + listen, admin: "http://" + admin}, nil
			}
		}
		select {
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("%s not ready: %s", name, p.Tail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
