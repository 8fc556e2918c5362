package redistest

import (
	"testing"
	"time"
)

// TestSentinelFailover: the group starts ready, a write synced to the
// replica survives the master's death, and the sentinels promote the
// replica.
func TestSentinelFailover(t *testing.T) {
	g := NewSentinel(t)
	if got := g.MasterAddr(); got != g.Master.Addr() {
		t.Fatalf("MasterAddr() = %s, want the first master %s", got, g.Master.Addr())
	}
	if _, err := do(g.Master.Addr(), "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	g.Sync()
	killed := g.KillMaster()
	promoted := g.WaitFailover()
	t.Logf("failover took %v", promoted.Sub(killed).Round(time.Millisecond))
	if got := g.MasterAddr(); got != g.Replica.Addr() {
		t.Errorf("MasterAddr() after failover = %s, want the replica %s", got, g.Replica.Addr())
	}
	if v, err := do(g.Replica.Addr(), "GET", "k"); err != nil || v != "v" {
		t.Errorf("GET k on the new master = %v, %v; want v", v, err)
	}
}

// TestReplicatedClusterFailover: three masters with a replica each; the
// master of a key is killed, its replica is promoted and has the key.
func TestReplicatedClusterFailover(t *testing.T) {
	c := NewReplicatedCluster(t, 3, 1)
	if got := len(c.Masters()); got != 3 {
		t.Fatalf("%d masters, want 3", got)
	}
	m := c.MasterOf("k")
	if _, err := do(m.Addr(), "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	c.Sync()
	replicas := c.ReplicasOf(m)
	if len(replicas) != 1 {
		t.Fatalf("master %s has %d replicas, want 1", m.Addr(), len(replicas))
	}
	killed := c.Kill(m)
	r, promoted := c.WaitPromoted(replicas)
	t.Logf("promotion took %v", promoted.Sub(killed).Round(time.Millisecond))
	if got := c.MasterOf("k"); got != r {
		t.Errorf("MasterOf(k) = %s, want the promoted replica %s", got.Addr(), r.Addr())
	}
	if v, err := do(r.Addr(), "GET", "k"); err != nil || v != "v" {
		t.Errorf("GET k on the promoted replica = %v, %v; want v", v, err)
	}
}
