package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/redistest"
)

// recoveryBound is how long after a replica is promoted every route of
// both instances must work again. Measured on a busy 2-CPU machine: under
// 2 s for Sentinel and 1 s for Cluster (RELIABILITY.md); the bound leaves
// room for a slower machine.
const recoveryBound = 20 * time.Second

// deployment is a replicated Redis whose master can be killed, and whose
// replica is promoted when the test says (redistest.Manual), so that the
// test can probe the dead master for as long as it needs.
type deployment struct {
	url  string
	sync func() // the replicas have every write
	// kill kills the master that holds the session.
	kill func()
	// failover promotes its replica and returns when it was asked;
	// promoted waits until the promotion is done.
	failover func() time.Time
	promoted func()
	// allDown: every key lived on the killed master (Sentinel); in a
	// cluster only the killed master's slots fail.
	allDown bool
}

// TestServeSurvivesSentinelFailover: two serve instances and a gateway
// share a Sentinel group (master, replica, three sentinels); the master is killed, then the
// sentinels promote the replica.
func TestServeSurvivesSentinelFailover(t *testing.T) {
	g := redistest.NewSentinelWith(t, redistest.Manual)
	testFailover(t, deployment{url: g.URL(), sync: g.Sync, kill: func() { g.KillMaster() },
		failover: g.Failover, promoted: func() { g.WaitFailover() }, allDown: true})
}

// TestServeSurvivesClusterFailover: two serve instances and a gateway
// share a Redis Cluster of three masters with a replica each; the master holding the
// browser session is killed and its replica promoted.
func TestServeSurvivesClusterFailover(t *testing.T) {
	c := redistest.NewReplicatedClusterWith(t, 3, 1, redistest.Manual)
	var replicas []*redistest.Server
	testFailover(t, deployment{url: c.URL(), sync: c.Sync,
		kill: func() {
			m := c.MasterHolding("apiguard:session:*")
			replicas = c.ReplicasOf(m)
			c.Kill(m)
		},
		failover: func() time.Time { return c.Failover(replicas[0]) },
		promoted: func() { c.WaitPromoted(replicas) },
	})
}

// testFailover logs in, uses DPoP and introspection through two instances
// (and DPoP through a gateway),
// kills the Redis master, checks what every route answers while it is
// dead, has the replica promoted, probes every route until all work again
// and checks that nothing was lost or let through.
func testFailover(t *testing.T, d deployment) {
	lb := &switchProxy{}
	lbServer := httptest.NewServer(lb)
	t.Cleanup(lbServer.Close)
	dcfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: stateClient, ClientSecret: stateSecret,
		Username: devUser, Password: devPass, BaseURLs: []string{lbServer.URL}})
	if err != nil {
		t.Fatal(err)
	}
	ci := &countingIssuer{}
	ci.url = devissuertest.NewServer(t, dcfg, devissuertest.Wrap(func(dev http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/v1/introspect") {
				ci.introspect.Add(1)
			}
			dev.ServeHTTP(w, r)
		})
	})).URL

	env := stateEnv(ci, d.url, "APIGUARD_PUBLIC_URL", lbServer.URL, "APIGUARD_INTROSPECTION", "always")
	a, b := startServe(t, env), startServe(t, env)
	instances := map[string]*server{"A": a, "B": b}
	target := lbServer.URL + "/secure-data"
	// A gateway on the same Redis, for its DPoP replay cache.
	var dpopToken, bearer string // made below
	up, _ := newRecordingUpstream(t)
	gw := startStateGateway(t, stateGatewayFile(t, ci.url, up.URL, "public_url: "+gwPublicURL+"\ndpop: on\n"),
		map[string]string{"APIGUARD_REDIS_URL": d.url, "APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-gateway"})
	gwOrders := gwPublicURL + "/orders/1"
	gwDPoP := func(proof string) reply {
		return do(t, http.MethodGet, gw+"/orders/1", map[string]string{"Authorization": "DPoP " + dpopToken, "DPoP": proof})
	}
	gwBearer := func() reply {
		return do(t, http.MethodGet, gw+"/orders/1", map[string]string{"Authorization": "Bearer " + bearer})
	}

	// Before: a session made through A works on B, a proof used at A is a
	// replay at B, and B reuses A's introspection result.
	br := newBrowser(t)
	lb.use(t, a.url)
	br.logIn(lbServer.URL)
	cookies := br.client.Jar.Cookies(must(t, lbServer.URL))
	lb.use(t, b.url)
	if r := profile(t, lbServer.URL, cookies); r.status != 200 || !strings.Contains(r.raw, devUser) {
		t.Fatalf("before: B does not know A's session: %d", r.status)
	}
	key := dpoptest.NewKey(t, "ES256")
	dpopToken, _ = ci.token(t, key.Proof(t, http.MethodPost, ci.url+"/v1/token", ""))
	used := key.Proof(t, http.MethodGet, target, dpopToken)
	lb.use(t, a.url)
	if r := dpopGet(t, lbServer.URL, dpopToken, used); r.status != 200 {
		t.Fatalf("before: fresh proof at A: %d %s", r.status, r.raw)
	}
	lb.use(t, b.url)
	if r := dpopGet(t, lbServer.URL, dpopToken, used); r.status != 401 {
		t.Fatalf("before: proof replayed at B: %d %s, want 401", r.status, r.raw)
	}
	bearer, _ = ci.token(t, "")     // used throughout
	untouched, _ := ci.token(t, "") // introspected once before, next after
	for _, tok := range []string{bearer, untouched} {
		lb.use(t, a.url)
		n := ci.introspect.Load()
		if r := bearerGet(t, lbServer.URL, tok); r.status != 200 {
			t.Fatalf("before: bearer at A: %d %s", r.status, r.raw)
		}
		lb.use(t, b.url)
		if r := bearerGet(t, lbServer.URL, tok); r.status != 200 {
			t.Fatalf("before: bearer at B: %d %s", r.status, r.raw)
		}
		if got := ci.introspect.Load() - n; got != 1 {
			t.Fatalf("before: %d introspection calls for one token at two instances, want 1 (shared cache)", got)
		}
	}

	gwUsed := key.Proof(t, http.MethodGet, gwOrders, dpopToken)
	if r := gwDPoP(gwUsed); r.status != 200 {
		t.Fatalf("before: fresh proof at the gateway: %d %s", r.status, r.raw)
	}
	if r := gwDPoP(gwUsed); r.status != 401 {
		t.Fatalf("before: proof replayed at the gateway: %d %s, want 401", r.status, r.raw)
	}

	// The replica has every write; then the master dies.
	d.sync()
	d.kill()

	// During: bearer tokens work, a replay is never accepted, and what
	// needs the dead master answers 503 (DPoP with Retry-After).
	is503 := func(r reply) bool { return r.status == 503 && r.header.Get("Retry-After") != "" }
	fresh := func() reply {
		return dpopGet(t, lbServer.URL, dpopToken, key.Proof(t, http.MethodGet, target, dpopToken))
	}
	for _, name := range []string{"A", "B"} {
		lb.use(t, instances[name].url)
		if r := bearerGet(t, lbServer.URL, bearer); r.status != 200 {
			t.Errorf("%s, master dead: bearer token: %d %s, want 200", name, r.status, r.raw)
		}
		if r := dpopGet(t, lbServer.URL, dpopToken, used); !is503(r) && (d.allDown || r.status != 401) {
			t.Errorf("%s, master dead: replayed proof: %d %s, want 503 with Retry-After (or 401 in a cluster)", name, r.status, r.raw)
		}
		if r := profile(t, lbServer.URL, cookies); r.status != 503 {
			t.Errorf("%s, master dead: /profile with the session: %d, want 503\n%s", name, r.status, r.raw)
		}
		// In a cluster a new proof id or session id lands on the dead
		// master one time in three: try until one does (the odds of 60
		// misses are below 1e-10).
		var dpop503, login503 bool
		for i := 0; i < 60 && !(dpop503 && login503); i++ {
			if !dpop503 {
				r := fresh()
				switch {
				case is503(r):
					dpop503 = true
				case d.allDown || r.status != 200:
					t.Fatalf("%s, master dead: fresh proof: %d %s, want 503 with Retry-After (or 200 in a cluster)", name, r.status, r.raw)
				}
			}
			if !login503 {
				r := noRedirectGet(t, lbServer.URL+"/login", nil)
				switch {
				case r.status == 503:
					login503 = true
				case d.allDown || r.status != http.StatusFound:
					t.Fatalf("%s, master dead: /login: %d, want 503 (or a redirect to the issuer in a cluster)", name, r.status)
				}
			}
		}
		if !dpop503 || !login503 {
			t.Errorf("%s, master dead: 60 tries and no 503 (DPoP %v, /login %v)", name, dpop503, login503)
		}
	}
	if r := gwBearer(); r.status != 200 {
		t.Errorf("gateway, master dead: bearer token: %d %s, want 200", r.status, r.raw)
	}
	if r := gwDPoP(gwUsed); !is503(r) && (d.allDown || r.status != 401) {
		t.Errorf("gateway, master dead: replayed proof: %d %s, want 503 with Retry-After (or 401 in a cluster)", r.status, r.raw)
	}
	gwDPoP503 := false
	for i := 0; i < 60 && !gwDPoP503; i++ {
		switch r := gwDPoP(key.Proof(t, http.MethodGet, gwOrders, dpopToken)); {
		case is503(r):
			gwDPoP503 = true
		case d.allDown || r.status != 200:
			t.Fatalf("gateway, master dead: fresh proof: %d %s, want 503 with Retry-After (or 200 in a cluster)", r.status, r.raw)
		}
	}
	if !gwDPoP503 {
		t.Error("gateway, master dead: 60 fresh proofs and no 503")
	}
	if t.Failed() {
		t.FailNow()
	}

	// The replica is promoted; every route of both instances must work
	// again by itself.
	asked := d.failover()
	d.promoted()
	promoted := time.Since(asked)
	var timeline []string // what still failed, when, for the log
	for {
		ok := true
		fail := func(name, what string, r reply) {
			ok = false
			timeline = append(timeline, fmt.Sprintf("+%.2fs %s %s %d", time.Since(asked).Seconds(), name, what, r.status))
		}
		for _, name := range []string{"A", "B"} {
			lb.use(t, instances[name].url)
			if r := bearerGet(t, lbServer.URL, bearer); r.status != 200 {
				t.Fatalf("%s, after the promotion: bearer token: %d %s, want 200", name, r.status, r.raw)
			}
			switch r := dpopGet(t, lbServer.URL, dpopToken, used); {
			case r.status == 401:
			case is503(r):
				fail(name, "replayed proof", r)
			default:
				t.Fatalf("%s, after the promotion: replayed proof: %d %s, want 401 (or 503 while recovering)", name, r.status, r.raw)
			}
			switch r := fresh(); {
			case r.status == 200:
			case is503(r):
				fail(name, "fresh proof", r)
			default:
				t.Fatalf("%s, after the promotion: fresh proof: %d %s, want 200 (or 503 while recovering)", name, r.status, r.raw)
			}
			switch r := noRedirectGet(t, lbServer.URL+"/login", nil); r.status {
			case http.StatusFound:
			case 503:
				fail(name, "/login", r)
			default:
				t.Fatalf("%s, after the promotion: /login: %d, want a redirect (or 503 while recovering)", name, r.status)
			}
			// The session made before is kept: never lost, never another's.
			switch r := profile(t, lbServer.URL, cookies); {
			case r.status == 200 && strings.Contains(r.raw, devUser):
			case r.status == 503:
				fail(name, "/profile", r)
			default:
				t.Fatalf("%s, after the promotion: /profile with the session: %d, want 200 with the user (or 503 while recovering)\n%s", name, r.status, r.raw)
			}
		}
		if r := gwBearer(); r.status != 200 {
			t.Fatalf("gateway, after the promotion: bearer token: %d %s, want 200", r.status, r.raw)
		}
		switch r := gwDPoP(gwUsed); {
		case r.status == 401:
		case is503(r):
			fail("gateway", "replayed proof", r)
		default:
			t.Fatalf("gateway, after the promotion: replayed proof: %d %s, want 401 (or 503 while recovering)", r.status, r.raw)
		}
		switch r := gwDPoP(key.Proof(t, http.MethodGet, gwOrders, dpopToken)); {
		case r.status == 200:
		case is503(r):
			fail("gateway", "fresh proof", r)
		default:
			t.Fatalf("gateway, after the promotion: fresh proof: %d %s, want 200 (or 503 while recovering)", r.status, r.raw)
		}
		if ok {
			break
		}
		if time.Since(asked) > recoveryBound {
			t.Fatalf("not recovered %v after the failover was asked for: %s", recoveryBound, strings.Join(timeline, ", "))
		}
		time.Sleep(50 * time.Millisecond) // between rounds of probes, not waiting for a server
	}
	recovered := time.Since(asked)
	t.Logf("failover: replica promoted %v after it was asked, every route of both instances and the gateway working %v after (still failing: %s)",
		promoted.Round(10*time.Millisecond), recovered.Round(10*time.Millisecond), strings.Join(timeline, ", "))

	// After: the introspection result stored before the failover is still
	// shared (the proof used before was refused at both above).
	lb.use(t, b.url)
	n := ci.introspect.Load()
	if r := bearerGet(t, lbServer.URL, untouched); r.status != 200 {
		t.Fatalf("after: bearer: %d %s", r.status, r.raw)
	}
	if got := ci.introspect.Load() - n; got != 0 {
		t.Errorf("after: %d introspection calls for a token introspected before the failover, want 0 (the result was replicated)", got)
	}
}

func must(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// profile gets /profile with the session's cookies, not following redirects
// and not storing any cookie, so a probe cannot change the browser's state.
func profile(t *testing.T, base string, cookies []*http.Cookie) reply {
	t.Helper()
	return noRedirectGet(t, base+"/profile", cookies)
}

func noRedirectGet(t *testing.T, u string, cookies []*http.Cookie) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return reply{status: res.StatusCode, header: res.Header, raw: string(body)}
}
