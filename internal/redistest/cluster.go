package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterNodeTimeout is the nodes' cluster-node-timeout (ms): a master that
// does not answer for this long is failed over. Short, for tests.
const clusterNodeTimeout = 1000

// Cluster is a Redis Cluster of several masters, each with replicas, made
// by redis-cli --cluster create on loopback.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// NewReplicatedCluster starts a cluster that fails over by itself; see
// NewReplicatedClusterWith.
func NewReplicatedCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	return NewReplicatedClusterWith(t, masters, replicas, Automatic)
}

// NewReplicatedClusterWith starts masters×(1+replicas) cluster nodes, joins
// them with redis-cli --cluster create --cluster-replicas replicas, and
// returns once every slot is served, every node reports cluster_state:ok
// and every master has its replicas linked. The nodes are killed when the
// test ends. Set REDIS_CLI to use another redis-cli.
func NewReplicatedClusterWith(t testing.TB, masters, replicas int, mode Failover) *Cluster {
	t.Helper()
	timeout := clusterNodeTimeout
	if mode == Manual {
		timeout = manualDetect
	}
	cli := "redis-cli"
	if p, err := exec.LookPath(envOr("REDIS_CLI", cli)); err != nil {
		t.Fatalf("redistest: redis-cli not found (%v); install it (Debian: apt-get install -y redis-tools)", err)
	} else {
		cli = p
	}
	c := &Cluster{t: t}
	for range masters * (1 + replicas) {
		c.Nodes = append(c.Nodes, launch(t, true, func(dir, port string) ([]string, error) {
			// A node keeps its identity in nodes.conf; a restarted node
			// rejoins as what it was.
			return append(baseArgs(dir, port), "--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"),
				"--cluster-node-timeout", strconv.Itoa(timeout),
				// Any replica may be promoted, however long its link was down.
				"--cluster-replica-validity-factor", "0"), nil
		}))
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("[OK] All 16384 slots covered")) {
		t.Fatalf("redistest: redis-cli %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	c.WaitHealthy()
	// redis-cli waits until the nodes agree on the slots, not on who
	// replicates whom: until they do, a node's CLUSTER NODES may show a
	// master without its replica, and Sync would skip it.
	waitFor(t, "every node to know every master's replicas", func() error {
		for _, s := range c.live() {
			ns, err := nodes(s.Addr())
			if err != nil {
				return err
			}
			count := map[string]int{}
			for _, n := range ns {
				if !n.isMaster && n.linked && !n.failed {
					count[n.master]++
				}
			}
			for _, n := range ns {
				if n.isMaster && n.slots > 0 && count[n.id] < replicas {
					return fmt.Errorf("node %s sees %d replicas of %s", s.Addr(), count[n.id], n.addr)
				}
			}
		}
		return nil
	})
	return c
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// URL is the cluster's address as session.NewRedisClient takes it: every
// node as a seed.
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr() + "?"
	for i, n := range c.Nodes[1:] {
		if i > 0 {
			u += "&"
		}
		u += "addr=" + n.Addr()
	}
	return u
}

// node is one line of CLUSTER NODES.
type node struct {
	id, addr, master string // master: the master's id for a replica
	isMaster, failed bool
	linked           bool
	slots            int
}

// nodes returns CLUSTER NODES as seen by addr.
func nodes(addr string) ([]node, error) {
	v, err := do(addr, "CLUSTER", "NODES")
	if err != nil {
		return nil, err
	}
	text, _ := v.(string)
	var out []node
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		n := node{id: f[0], addr: strings.SplitN(f[1], "@", 2)[0], master: f[3], linked: f[7] == "connected"}
		flags := "," + f[2] + ","
		n.isMaster = strings.Contains(flags, ",master,")
		n.failed = strings.Contains(flags, ",fail,") || strings.Contains(flags, ",fail?,")
		for _, r := range f[8:] {
			if strings.HasPrefix(r, "[") {
				continue // a slot being migrated
			}
			lo, hi, found := strings.Cut(r, "-")
			a, _ := strconv.Atoi(lo)
			b := a
			if found {
				b, _ = strconv.Atoi(hi)
			}
			n.slots += b - a + 1
		}
		out = append(out, n)
	}
	return out, nil
}

// live returns the nodes that run.
func (c *Cluster) live() []*Server {
	var out []*Server
	for _, n := range c.Nodes {
		n.mu.Lock()
		up := n.cmd != nil
		n.mu.Unlock()
		if up {
			out = append(out, n)
		}
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok and
// sees every master that serves slots linked and not failing, and every
// such master has at least one linked replica when any replica runs.
func (c *Cluster) WaitHealthy() {
	c.t.Helper()
	c.waitHealthy(readyTimeout)
}

func (c *Cluster) waitHealthy(d time.Duration) {
	c.t.Helper()
	waitForWithin(c.t, d, "the cluster to be healthy", func() error {
		for _, s := range c.live() {
			info, err := do(s.Addr(), "CLUSTER", "INFO")
			if err != nil {
				return err
			}
			if text, _ := info.(string); !strings.Contains(text, "cluster_state:ok") {
				return fmt.Errorf("node %s: cluster state not ok", s.Addr())
			}
			ns, err := nodes(s.Addr())
			if err != nil {
				return err
			}
			served := 0
			for _, n := range ns {
				if n.isMaster && n.slots > 0 {
					if n.failed || !n.linked {
						return fmt.Errorf("node %s sees master %s failing or unlinked", s.Addr(), n.addr)
					}
					served += n.slots
				}
			}
			if served != 16384 {
				return fmt.Errorf("node %s sees %d slots served", s.Addr(), served)
			}
		}
		return nil
	})
}

// Masters returns the nodes that serve slots, as the first running node
// sees them.
func (c *Cluster) Masters() []*Server {
	c.t.Helper()
	ns := c.view()
	var out []*Server
	for _, n := range ns {
		if n.isMaster && n.slots > 0 && !n.failed {
			out = append(out, c.byAddr(n.addr))
		}
	}
	return out
}

// ReplicasOf returns the running replicas of master.
func (c *Cluster) ReplicasOf(master *Server) []*Server {
	c.t.Helper()
	ns := c.view()
	var id string
	for _, n := range ns {
		if n.addr == master.Addr() {
			id = n.id
		}
	}
	var out []*Server
	for _, n := range ns {
		if n.master == id && !n.failed {
			out = append(out, c.byAddr(n.addr))
		}
	}
	return out
}

// MasterOf returns the master that serves key's slot.
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	v, err := do(c.live()[0].Addr(), "CLUSTER", "KEYSLOT", key)
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER KEYSLOT: %v", err)
	}
	slot, _ := v.(int64)
	v, err = do(c.live()[0].Addr(), "CLUSTER", "SLOTS")
	if err != nil {
		c.t.Fatalf("redistest: CLUSTER SLOTS: %v", err)
	}
	ranges, _ := v.([]any)
	for _, r := range ranges {
		f, _ := r.([]any)
		if len(f) < 3 {
			continue
		}
		lo, _ := f[0].(int64)
		hi, _ := f[1].(int64)
		m, _ := f[2].([]any)
		if slot < lo || slot > hi || len(m) < 2 {
			continue
		}
		host, _ := m[0].(string)
		port, _ := m[1].(int64)
		return c.byAddr(host + ":" + strconv.FormatInt(port, 10))
	}
	c.t.Fatalf("redistest: no master serves slot %d", slot)
	return nil
}

// Sync waits until every replica has received every write its master has
// made, so that killing a master then loses nothing.
func (c *Cluster) Sync() {
	c.t.Helper()
	for _, m := range c.Masters() {
		for _, r := range c.ReplicasOf(m) {
			waitSynced(c.t, m.Addr(), r.Addr())
		}
	}
}

// Kill kills node (SIGKILL) and returns the time it died.
func (c *Cluster) Kill(n *Server) time.Time {
	n.Stop()
	return time.Now()
}

// Failover makes replica take over its master's slots now (CLUSTER
// FAILOVER FORCE: no handshake with the master, which may be dead; the
// other masters vote) and returns the time it was asked.
func (c *Cluster) Failover(replica *Server) time.Time {
	c.t.Helper()
	asked := time.Now()
	if v, err := do(replica.Addr(), "CLUSTER", "FAILOVER", "FORCE"); err != nil || v != "OK" {
		c.t.Fatalf("redistest: CLUSTER FAILOVER FORCE on %s: %v, %v", replica.Addr(), v, err)
	}
	return asked
}

// WaitPromoted waits until one of replicas serves slots as a master and
// the cluster is healthy again, and returns that replica and the time.
func (c *Cluster) WaitPromoted(replicas []*Server) (*Server, time.Time) {
	c.t.Helper()
	var promoted *Server
	waitForWithin(c.t, failoverTimeout, "a replica to be promoted", func() error {
		for _, r := range replicas {
			ns, err := nodes(r.Addr())
			if err != nil {
				return err
			}
			for _, n := range ns {
				if n.addr == r.Addr() && n.isMaster && n.slots > 0 {
					promoted = r
					return nil
				}
			}
		}
		return errors.New("no replica serves slots yet")
	})
	c.waitHealthy(failoverTimeout)
	return promoted, time.Now()
}

func (c *Cluster) view() []node {
	c.t.Helper()
	var ns []node
	waitFor(c.t, "CLUSTER NODES", func() error {
		var err error
		for _, s := range c.live() {
			if ns, err = nodes(s.Addr()); err == nil {
				return nil
			}
		}
		return err
	})
	return ns
}

func (c *Cluster) byAddr(addr string) *Server {
	for _, n := range c.Nodes {
		if n.Addr() == addr {
			return n
		}
	}
	c.t.Fatalf("redistest: no node at %s", addr)
	return nil
}

// Promoted reports whether one of replicas already serves slots as a
// master, as it sees itself.
func (c *Cluster) Promoted(replicas []*Server) bool {
	for _, r := range replicas {
		ns, err := nodes(r.Addr())
		if err != nil {
			continue
		}
		for _, n := range ns {
			if n.addr == r.Addr() && n.isMaster && n.slots > 0 {
				return true
			}
		}
	}
	return false
}

// MasterHolding returns the master that holds a key matching pattern (a
// SCAN MATCH pattern), failing the test when none does.
func (c *Cluster) MasterHolding(pattern string) *Server {
	c.t.Helper()
	for _, m := range c.Masters() {
		v, err := do(m.Addr(), "SCAN", "0", "MATCH", pattern, "COUNT", "100000")
		if err != nil {
			c.t.Fatalf("redistest: SCAN on %s: %v", m.Addr(), err)
		}
		if reply, _ := v.([]any); len(reply) == 2 {
			if keys, _ := reply[1].([]any); len(keys) > 0 {
				return m
			}
		}
	}
	c.t.Fatalf("redistest: no master holds a key matching %q", pattern)
	return nil
}
