package sharedstate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/session"
	"github.com/redis/go-redis/v9"
)

// failoverBound is how long after a master is killed, and its replica at
// once promoted, every shared state must answer again. Measured on a busy
// 2-CPU machine: about 2 s for Sentinel and 1 s for Cluster
// (RELIABILITY.md); the rest is margin.
const failoverBound = 20 * time.Second

// instance is what one apiguard instance keeps in Redis, on a client of
// its own.
type instance struct {
	sessions *session.RedisStore
	state    *sharedstate.Store
}

func newInstance(t *testing.T, url string) instance {
	t.Helper()
	client, err := session.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	secret := []byte("0123456789abcdef0123456789abcdef-failover")
	sessions, err := session.NewRedisStore(session.RedisConfig{Client: client, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	state, err := sharedstate.New(sharedstate.Config{Client: client, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return instance{sessions, state}
}

// TestSharedStateSurvivesFailover: two instances share sessions, DPoP
// proof ids and introspection results on a Sentinel group and on a
// three-master Cluster (keys spread over every master); a master is
// killed and its replica promoted at once (redistest.Manual: with Redis's
// own one-second detection a starved machine sometimes fails over a
// master that was only slow, losing its latest writes, as asynchronous
// replication does; detection alone is tested in redistest). Meanwhile no used proof
// id is fresh again and no session or result is lost or changed (an
// operation either answers right or fails); afterwards everything answers
// by itself within failoverBound, and the slots of the Cluster hold: no
// CROSSSLOT error anywhere.
func TestSharedStateSurvivesFailover(t *testing.T) {
	t.Run("Sentinel", func(t *testing.T) {
		g := redistest.NewSentinelWith(t, redistest.Manual)
		testFailover(t, g.URL(), g.Sync, func() { g.KillMaster(); g.Failover() }, func(string) {})
	})
	t.Run("Cluster", func(t *testing.T) {
		c := redistest.NewReplicatedClusterWith(t, 3, 1, redistest.Manual)
		// On a wrong answer, log what every node holds and thinks of the
		// cluster.
		diagnose := func(key string) {
			for _, n := range c.Nodes {
				cl := redis.NewClient(&redis.Options{Addr: n.Addr(), MaxRetries: -1})
				v, err := cl.Do(context.Background(), "GET", key).Result()
				nodes, _ := cl.Do(context.Background(), "CLUSTER", "NODES").Result()
				t.Logf("node %s: GET %s = %v, %v; CLUSTER NODES:\n%v", n.Addr(), key, v, err, nodes)
				cl.Close()
			}
		}
		kill := func() {
			m := c.Masters()[0]
			replicas := c.ReplicasOf(m)
			c.Kill(m)
			c.Failover(replicas[0])
		}
		testFailover(t, c.URL(), c.Sync, kill, diagnose)
	})
}

func testFailover(t *testing.T, url string, sync, kill func(), diagnose func(key string)) {
	ctx := context.Background()
	a, b := newInstance(t, url), newInstance(t, url)
	const n = 60 // keys of each kind, over every slot range
	ttl := time.Hour
	data := func(i int) []byte { return fmt.Appendf(nil, `{"user":"user-%d"}`, i) }
	for i := range n {
		if err := a.sessions.Save(ctx, fmt.Sprint("session-", i), data(i), ttl); err != nil {
			t.Fatal(err)
		}
		if fresh, err := a.state.Use(ctx, fmt.Sprint("proof-", i), ttl); err != nil || !fresh {
			t.Fatalf("Use proof-%d: %v, %v; want fresh", i, fresh, err)
		}
		if err := a.state.Set(ctx, fmt.Sprint("token-", i), data(i), ttl); err != nil {
			t.Fatal(err)
		}
	}
	// check reads every key through inst; it fails the test on a wrong
	// answer and returns how many could not be read.
	check := func(when string, inst instance) (failed int) {
		for i := range n {
			got, err := inst.sessions.Get(ctx, fmt.Sprint("session-", i))
			switch {
			case errors.Is(err, session.ErrUnavailable):
				failed++
			case err != nil || !bytes.Equal(got, data(i)):
				t.Fatalf("%s: session-%d: %q, %v; want its data or unavailable (a lost or another's session)", when, i, got, err)
			}
			fresh, err := inst.state.Use(ctx, fmt.Sprint("proof-", i), ttl)
			switch {
			case err != nil:
				failed++
			case fresh:
				diagnose(fmt.Sprint("apiguard:replay:proof-", i))
				t.Fatalf("%s: proof-%d is fresh again: a replay would be accepted", when, i)
			}
			got, err = inst.state.Get(ctx, fmt.Sprint("token-", i))
			switch {
			case err != nil:
				failed++
			case !bytes.Equal(got, data(i)):
				diagnose(fmt.Sprint("apiguard:introspect:token-", i))
				t.Fatalf("%s: token-%d: %q; want the stored result", when, i, got)
			}
		}
		return failed
	}
	if f := check("before, on the other instance", b); f != 0 {
		t.Fatalf("before: %d reads failed", f)
	}

	sync()
	kill()
	killed := time.Now()
	var rounds, failing int
	for round := 0; ; round++ {
		inst := []instance{a, b}[round%2]
		f := check("during the failover", inst)
		// New writes too: a new session and proof id on every slot range.
		for i := range n {
			id := fmt.Sprintf("new-%d-%d", round, i)
			if err := inst.sessions.Save(ctx, id, data(i), ttl); err != nil {
				f++
			}
			if fresh, err := inst.state.Use(ctx, id, ttl); err != nil {
				f++
			} else if !fresh {
				t.Fatalf("during the failover: a new proof id %s is not fresh", id)
			}
		}
		if f == 0 {
			break
		}
		rounds, failing = rounds+1, failing+f
		if time.Since(killed) > failoverBound {
			t.Fatalf("%d operations still failing %v after the master was killed", f, failoverBound)
		}
	}
	recovered := time.Since(killed)
	t.Logf("every operation answers %v after the master was killed (%d failing rounds, %d failed operations, none wrong)",
		recovered.Round(10*time.Millisecond), rounds, failing)
	if rounds == 0 {
		t.Log("no operation failed: the promotion was quicker than the first round")
	}
	if f := check("after, on the first instance", a); f != 0 {
		t.Errorf("after: %d reads failed on the first instance", f)
	}
}

// TestNoMultiKeyCommands audits the code that keeps state in Redis: every
// command names one key, so none can cross hash slots in a Cluster
// (CROSSSLOT). A multi-key command, transaction, pipeline or script added
// later must give its keys one hash tag ({…}) and be added here with the
// reason it is safe.
func TestNoMultiKeyCommands(t *testing.T) {
	multiKey := map[string]bool{
		"Eval": true, "EvalSha": true, "EvalRO": true, "EvalShaRO": true, "FCall": true, "FCallRO": true,
		"Pipelined": true, "TxPipelined": true, "Pipeline": true, "TxPipeline": true, "Watch": true,
		"MGet": true, "MSet": true, "MSetNX": true, "Rename": true, "RenameNX": true, "Copy": true,
		"SUnion": true, "SUnionStore": true, "SInter": true, "SInterStore": true, "SDiff": true, "SDiffStore": true,
		"SMove": true, "LMove": true, "BLMove": true, "RPopLPush": true, "ZUnionStore": true, "ZInterStore": true,
		"PFMerge": true, "BitOpAnd": true, "BitOpOr": true, "BitOpXor": true, "Keys": true, "Scan": true,
	}
	seen := 0
	for _, dir := range []string{"../../session", ".", "../../login"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			seen++
			ast.Inspect(file, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if ok && multiKey[sel.Sel.Name] {
					if x, ok := sel.X.(*ast.SelectorExpr); ok && x.Sel.Name == "client" {
						t.Errorf("%s: %s on the Redis client: give its keys one hash tag and list it here", f, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if seen < 5 {
		t.Fatalf("audited %d files; the paths are wrong", seen)
	}
}
