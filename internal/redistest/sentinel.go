package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name a Sentinel group monitors.
const SentinelMaster = "apiguard"

// Sentinel timings, short so that a test sees a failover in a few seconds:
// a master is subjectively down after sentinelDownAfter without answering,
// and a failed failover attempt is retried after twice sentinelFailover.
const (
	sentinelDownAfter = 1000 // ms
	sentinelFailover  = 4000 // ms
)

// Failover says who promotes a replica when a master dies.
type Failover int

const (
	// Automatic: Redis detects the dead master within about a second and
	// promotes a replica by itself, as in production (with shorter
	// timeouts).
	Automatic Failover = iota
	// Manual: Redis would take a minute to notice, so a test can probe a
	// dead master for as long as it needs; Failover then promotes the
	// replica at once, as Redis does once it has noticed.
	Manual
)

// manualDetect (ms) is how long Redis takes to notice a dead master in
// Manual mode: longer than any test.
const manualDetect = 600_000

// failoverTimeout bounds how long WaitFailover and the cluster's
// WaitPromoted wait for a new master. Redis needs about three seconds
// with the timings above; the rest is margin for a busy machine.
const failoverTimeout = 30 * time.Second

// Sentinel is a Redis Sentinel group on loopback: one master, one replica
// and three sentinels (quorum 2), as a small production deployment has.
type Sentinel struct {
	t         testing.TB
	Master    *Server   // the first master; after a failover, see Current
	Replica   *Server   // the first replica
	Sentinels []*Server // three sentinels
	killed    string    // the address KillMaster killed
}

// NewSentinel starts a group that fails over by itself; see
// NewSentinelWith.
func NewSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return NewSentinelWith(t, Automatic)
}

// NewSentinelWith starts a master, a replica and three sentinels, and returns
// once the replica is in sync and every sentinel knows the replica and the
// two other sentinels (so a failover can be voted). Everything is killed
// when the test ends.
func NewSentinelWith(t testing.TB, mode Failover) *Sentinel {
	t.Helper()
	g := &Sentinel{t: t}
	downAfter := sentinelDownAfter
	if mode == Manual {
		downAfter = manualDetect
	}
	g.Master = New(t)
	_, mport, _ := net.SplitHostPort(g.Master.Addr())
	g.Replica = launch(t, false, func(dir, port string) ([]string, error) {
		return append(baseArgs(dir, port), "--replicaof", "127.0.0.1", mport), nil
	})
	for range 3 {
		g.Sentinels = append(g.Sentinels, launch(t, false, func(dir, port string) ([]string, error) {
			// A sentinel rewrites its configuration file: write a fresh one
			// at each start.
			conf := filepath.Join(dir, "sentinel-"+port+".conf")
			text := fmt.Sprintf("port %s\nbind 127.0.0.1\ndaemonize no\ndir %s\nloglevel warning\n"+
				"sentinel monitor %s 127.0.0.1 %s 2\n"+
				"sentinel down-after-milliseconds %[3]s %[5]d\n"+
				"sentinel failover-timeout %[3]s %[6]d\n"+
				"sentinel parallel-syncs %[3]s 1\n",
				port, dir, SentinelMaster, mport, downAfter, sentinelFailover)
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, err
			}
			return []string{conf, "--sentinel"}, nil
		}))
	}
	g.waitReady()
	return g
}

// baseArgs is a plain server's command line without persistence.
func baseArgs(dir, port string) []string {
	return []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning"}
}

// URL is the group's address as session.NewRedisClient takes it: the first
// sentinel as the host, the others as addr parameters.
func (g *Sentinel) URL() string {
	u := "redis://" + g.Sentinels[0].Addr() + "?master_name=" + SentinelMaster
	for _, s := range g.Sentinels[1:] {
		u += "&addr=" + s.Addr()
	}
	return u
}

func (g *Sentinel) waitReady() {
	g.t.Helper()
	waitFor(g.t, "the replica to sync with the master", func() error {
		info, err := infoSection(g.Replica.Addr(), "replication")
		if err != nil {
			return err
		}
		if info["master_link_status"] != "up" {
			return fmt.Errorf("master_link_status %q", info["master_link_status"])
		}
		return nil
	})
	for _, s := range g.Sentinels {
		waitFor(g.t, "sentinel "+s.Addr()+" to know the replica and the other sentinels", func() error {
			m, err := sentinelMaster(s.Addr())
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("num-slaves %s, num-other-sentinels %s", m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
	}
}

// MasterAddr returns the master's address as the first sentinel that
// answers reports it.
func (g *Sentinel) MasterAddr() string {
	g.t.Helper()
	var addr string
	waitFor(g.t, "a sentinel to name the master", func() error {
		var err error
		for _, s := range g.Sentinels {
			if addr, err = masterByName(s.Addr()); err == nil {
				return nil
			}
		}
		return err
	})
	return addr
}

// Current returns the server the sentinels name as master, and the other.
func (g *Sentinel) Current() (master, replica *Server) {
	g.t.Helper()
	if g.MasterAddr() == g.Master.Addr() {
		return g.Master, g.Replica
	}
	return g.Replica, g.Master
}

// Sync waits until the replica has received every write the master has
// made, so that killing the master then loses nothing.
func (g *Sentinel) Sync() {
	g.t.Helper()
	m, r := g.Current()
	waitSynced(g.t, m.Addr(), r.Addr())
}

// KillMaster kills the current master (SIGKILL, as a crashed machine) and
// returns the time it died.
func (g *Sentinel) KillMaster() time.Time {
	g.t.Helper()
	m, _ := g.Current()
	g.killed = m.Addr()
	m.Stop()
	return time.Now()
}

// Failover makes a sentinel promote the replica now (SENTINEL FAILOVER),
// whether or not the master answers, and returns the time it was asked.
func (g *Sentinel) Failover() time.Time {
	g.t.Helper()
	asked := time.Now()
	if _, err := do(g.Sentinels[0].Addr(), "SENTINEL", "FAILOVER", SentinelMaster); err != nil {
		g.t.Fatalf("redistest: SENTINEL FAILOVER: %v", err)
	}
	return asked
}

// WaitFailover waits until every sentinel names the same new master (not
// the one KillMaster killed) and it answers as one, and returns the time
// that was first seen.
func (g *Sentinel) WaitFailover() time.Time {
	g.t.Helper()
	waitForWithin(g.t, failoverTimeout, "the sentinels to promote the replica", func() error {
		var named string
		for _, s := range g.Sentinels {
			addr, err := masterByName(s.Addr())
			if err != nil {
				return err
			}
			if addr == g.killed || (named != "" && addr != named) {
				return fmt.Errorf("sentinel %s names %s", s.Addr(), addr)
			}
			named = addr
		}
		info, err := infoSection(named, "replication")
		if err != nil {
			return err
		}
		if info["role"] != "master" {
			return fmt.Errorf("replica's role is %q", info["role"])
		}
		return nil
	})
	return time.Now()
}

// waitFor polls check until it returns nil, failing the test with the last
// error after readyTimeout.
func waitFor(t testing.TB, what string, check func() error) {
	t.Helper()
	waitForWithin(t, readyTimeout, what, check)
}

func waitForWithin(t testing.TB, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s: %v", d, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do runs one command on addr with a short-lived client.
func do(addr string, args ...any) (any, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second, ReadTimeout: time.Second,
		MaxRetries: -1, DisableIdentity: true, Protocol: 2})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// infoSection returns one section of INFO as a map.
func infoSection(addr, section string) (map[string]string, error) {
	v, err := do(addr, "INFO", section)
	if err != nil {
		return nil, err
	}
	text, _ := v.(string)
	m := map[string]string{}
	for line := range strings.SplitSeq(text, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok {
			m[k] = val
		}
	}
	return m, nil
}

// sentinelMaster is SENTINEL MASTER as a map.
func sentinelMaster(addr string) (map[string]string, error) {
	v, err := do(addr, "SENTINEL", "MASTER", SentinelMaster)
	if err != nil {
		return nil, err
	}
	list, _ := v.([]any)
	m := map[string]string{}
	for i := 0; i+1 < len(list); i += 2 {
		k, _ := list[i].(string)
		val, _ := list[i+1].(string)
		m[k] = val
	}
	return m, nil
}

// masterByName asks a sentinel for the master's address.
func masterByName(addr string) (string, error) {
	v, err := do(addr, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
	if err != nil {
		return "", err
	}
	list, _ := v.([]any)
	if len(list) != 2 {
		return "", fmt.Errorf("SENTINEL GET-MASTER-ADDR-BY-NAME answered %v", v)
	}
	host, _ := list[0].(string)
	port, _ := list[1].(string)
	return net.JoinHostPort(host, port), nil
}

// waitSynced waits until the replica at replica has processed the master's
// whole replication stream.
func waitSynced(t testing.TB, master, replica string) {
	t.Helper()
	waitFor(t, "replica "+replica+" to catch up with "+master, func() error {
		m, err := infoSection(master, "replication")
		if err != nil {
			return err
		}
		r, err := infoSection(replica, "replication")
		if err != nil {
			return err
		}
		want, err1 := strconv.ParseInt(m["master_repl_offset"], 10, 64)
		got, err2 := strconv.ParseInt(r["slave_repl_offset"], 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("offsets %q, %q", m["master_repl_offset"], r["slave_repl_offset"])
		}
		if r["master_link_status"] != "up" || got < want {
			return fmt.Errorf("replica at %d (link %s), master at %d", got, r["master_link_status"], want)
		}
		return nil
	})
}

// Promoted reports whether a server other than the one KillMaster killed
// answers as a master. A test calls it after probing to know whether the
// probe fell within the failover.
func (g *Sentinel) Promoted() bool {
	for _, s := range []*Server{g.Master, g.Replica} {
		if s.Addr() == g.killed {
			continue
		}
		if info, err := infoSection(s.Addr(), "replication"); err == nil && info["role"] == "master" {
			return true
		}
	}
	return false
}
