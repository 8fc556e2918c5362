package gateway_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/gateway"
)

const reloadV1 = `
upstream: {{up}}
routes:
  - path: /old/**
    public: true
`

const reloadV2 = `
upstream: {{up}}
routes:
  - path: /new/**
    public: true
`

func (f *fixture) status(t *testing.T, path string) int {
	t.Helper()
	resp := f.do(t, "GET", path, "", nil)
	resp.Body.Close()
	return resp.StatusCode
}

// TestReload: good rules replace the running ones; bad rules are an error
// naming the route, and the running rules stay.
func TestReload(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	vars := map[string]string{"up": up.URL}
	f := newFixture(t, ti, reloadV1, vars)
	if got := f.status(t, "/new/x"); got != 404 {
		t.Fatalf("before reload: got %d for /new/x, want 404", got)
	}
	v2, _ := parseConfig(t, strings.ReplaceAll(reloadV2, "{{up}}", up.URL))
	if err := f.gw.Reload(v2); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := f.status(t, "/new/x"); got != 200 {
		t.Errorf("after reload: got %d for /new/x, want 200", got)
	}
	if got := f.status(t, "/old/x"); got != 404 {
		t.Errorf("after reload: got %d for /old/x, want 404", got)
	}

	bad, _ := parseConfig(t, strings.ReplaceAll(reloadV1, "{{up}}", up.URL)+"    scopes: [x]\n")
	err := f.gw.Reload(bad)
	var re *gateway.RouteError
	if !errors.As(err, &re) || re.Index != 0 || !strings.Contains(err.Error(), "public route must not name scopes") {
		t.Fatalf("Reload of a public route with scopes: got %v, want a RouteError for routes[0] naming the problem", err)
	}
	if got := f.status(t, "/new/x"); got != 200 {
		t.Errorf("after bad rules: got %d for /new/x, want the running rules (200)", got)
	}
	if got := f.status(t, "/old/x"); got != 404 {
		t.Errorf("after bad rules: got %d for /old/x, want 404", got)
	}
}

// TestRulesAreCopied: a caller changing its Rules after New or Reload does
// not change what the running gateway enforces (nor race with it).
func TestRulesAreCopied(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	rules, opts := parseConfig(t, "upstream: "+up.URL+"\nroutes:\n  - path: /orders/**\n    scopes: [orders:read]\n    groups: [Staff]\n    claims: {cid: [client-1]}\n")
	gw := newGateway(t, ti.URL, rules, opts, &syncBuffer{})
	f := &fixture{gw: gw, srv: newServer(t, gw), issuer: ti}
	weak := ti.token(t, map[string]any{"scp": []string{"other"}, "groups": []string{"Other"}, "cid": "client-2"})
	for _, change := range []func(){
		func() { rules.Routes[0].Scopes[0] = "other" },
		func() { rules.Routes[0].Groups[0] = "Other" },
		func() { rules.Routes[0].Claims["cid"][0] = "client-2" },
		func() { rules.Routes[0].Public = true },
		func() { rules.Routes[0].Path = "/nothing" },
	} {
		change()
	}
	if resp := f.do(t, "GET", "/orders/1", weak, nil); resp.StatusCode != 403 {
		t.Errorf("after the caller changed its rules: got %d, want 403 (the rules given to New)", resp.StatusCode)
	}
}
