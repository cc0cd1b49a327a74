package redistest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas, made by
// `redis-cli --cluster create`, every node a Server of the test.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts masters nodes, joins them into one cluster and waits
// until every node reports cluster_state:ok.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	Require(t, "redis-cli")
	c := &Cluster{}
	addrs := make([]string, masters)
	for i := range masters {
		dir := filepath.Join(t.TempDir(), "node"+strconv.Itoa(i))
		s := start(t, mkdir(t, dir), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		c.Nodes = append(c.Nodes, s)
		addrs[i] = s.Addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Nodes {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s not ready: %q %v", s.Addr(), info, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// URL is the -store URL naming every node: the first as the host, the others
// as addr= seed parameters.
func (c *Cluster) URL() string {
	seeds := make([]string, 0, len(c.Nodes)-1)
	for _, s := range c.Nodes[1:] {
		seeds = append(seeds, "addr="+s.Addr())
	}
	return "redis://" + c.Nodes[0].Addr() + "?" + strings.Join(seeds, "&")
}

func mkdir(t testing.TB, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("mkdir %s: %v", dir, err)
	}
	return dir
}
