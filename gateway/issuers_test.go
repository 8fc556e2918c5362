package gateway_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
)

// Holds R-ISS-4.

// issuersFixture is a gateway over three issuers: employees and partners,
// which are up, and legacy, which is down from the start.
type issuersFixture struct {
	*fixture
	employees, partners, legacy *testIssuer
}

const issuersRules = `
upstream: "{{upstream}}"
auth_proxy: nginx
routes:
  - path: /partners/**
    issuers: [partners]
  - path: /staff/**
    issuers: [employees, legacy]
  - path: /any/**
`

func newIssuersFixture(t *testing.T) *issuersFixture {
	t.Helper()
	f := &issuersFixture{employees: newTestIssuer(t), partners: newTestIssuer(t), legacy: newTestIssuer(t)}
	f.legacy.srv.Close()
	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "employees", Issuer: f.employees.URL}},
		apiguard.Issuer{Config: apiguard.Config{Name: "partners", Issuer: f.partners.URL}},
		apiguard.Issuer{Config: apiguard.Config{Name: "legacy", Issuer: f.legacy.URL, FetchTimeout: time.Second}},
	)
	if err != nil {
		t.Fatal(err)
	}
	rules, opts := parseConfig(t, strings.ReplaceAll(issuersRules, "{{upstream}}", newEcho(t, "up").URL))
	gw, err := gateway.New(&apiguard.Middleware{Verifier: m}, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	f.fixture = &fixture{gw: gw, srv: srv, issuer: f.employees, logs: &syncBuffer{}}
	return f
}

func TestRouteIssuers(t *testing.T) {
	f := newIssuersFixture(t)
	emp, par, leg := f.employees.token(t, nil), f.partners.token(t, nil), f.legacy.token(t, nil)
	for _, tc := range []struct {
		path, token string
		status      int
		code, desc  string // on refusals
		issuer      string // X-Auth-Issuer upstream, on passes
	}{
		{"/partners/x", par, 200, "", "", f.partners.URL},
		{"/partners/x", emp, 401, "invalid_token", "wrong issuer: issuer employees is not accepted here", ""},
		// legacy is down: its tokens are refused as tokens of another
		// issuer where it is not allowed, 503 only where it is.
		{"/partners/x", leg, 401, "invalid_token", "wrong issuer: issuer legacy is not accepted here", ""},
		{"/staff/x", emp, 200, "", "", f.employees.URL},
		{"/staff/x", par, 401, "invalid_token", "wrong issuer: issuer partners is not accepted here", ""},
		{"/staff/x", leg, 503, "temporarily_unavailable", "", ""},
		{"/any/x", emp, 200, "", "", f.employees.URL},
		{"/any/x", par, 200, "", "", f.partners.URL},
		{"/any/x", leg, 503, "temporarily_unavailable", "", ""},
	} {
		resp := f.do(t, "GET", tc.path, tc.token, nil)
		if resp.StatusCode != tc.status {
			t.Errorf("%s with a token of %s: status %d, want %d", tc.path, tc.issuer, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			if code := errorCode(t, resp); code != tc.code {
				t.Errorf("%s: error %q, want %q", tc.path, code, tc.code)
			}
			if tc.desc != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error_description="`+tc.desc) {
				t.Errorf("%s: challenge %q, want description %q", tc.path, resp.Header.Get("WWW-Authenticate"), tc.desc)
			}
			continue
		}
		var e echo
		decode(t, resp, &e)
		if got := e.Header.Get(gateway.HeaderIssuer); got != tc.issuer {
			t.Errorf("%s: upstream got X-Auth-Issuer %q, want %q", tc.path, got, tc.issuer)
		}
		// The same subject at two issuers reads as two users upstream.
		if got := e.Header.Get(gateway.HeaderSubject); got != "alice@example.com" {
			t.Errorf("%s: X-Auth-Subject %q", tc.path, got)
		}
	}
	// A client cannot claim an issuer of its own.
	resp := f.do(t, "GET", "/any/x", emp, http.Header{"X-Auth-Issuer": {f.partners.URL}})
	var e echo
	decode(t, resp, &e)
	if got := e.Header.Values(gateway.HeaderIssuer); len(got) != 1 || got[0] != f.employees.URL {
		t.Errorf("X-Auth-Issuer sent by the client reached the upstream: %q", got)
	}
}

// /readyz names the issuers that are not ready, and only them.
func TestReadyNamesIssuers(t *testing.T) {
	f := newIssuersFixture(t)
	resp := f.do(t, "GET", "/readyz", "", nil)
	var body struct {
		Status, Reason string
		NotReady       []string `json:"not_ready"`
	}
	decode(t, resp, &body)
	if resp.StatusCode != 503 || body.Status != "unavailable" || body.Reason != "signing keys not loaded: legacy" ||
		len(body.NotReady) != 1 || body.NotReady[0] != "legacy" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("/readyz with legacy down: %d %+v Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

func TestAuthIssuers(t *testing.T) {
	f := newIssuersFixture(t)
	emp, par := f.employees.token(t, nil), f.partners.token(t, nil)
	ask := func(uri, token string) *http.Response {
		req, _ := http.NewRequest("GET", f.srv.URL+"/auth", nil)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-Uri", uri)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := ask("/partners/x", par)
	if resp.StatusCode != 200 || resp.Header.Get(gateway.HeaderIssuer) != f.partners.URL {
		t.Errorf("/auth, partners token on a partners route: %d, X-Auth-Issuer %q", resp.StatusCode, resp.Header.Get(gateway.HeaderIssuer))
	}
	resp = ask("/partners/x", emp)
	if resp.StatusCode != 401 || errorCode(t, resp) != "invalid_token" {
		t.Errorf("/auth, employees token on a partners route: %d", resp.StatusCode)
	}
	resp = ask("/any/x", emp)
	if resp.StatusCode != 200 || resp.Header.Get(gateway.HeaderIssuer) != f.employees.URL {
		t.Errorf("/auth: X-Auth-Issuer %q", resp.Header.Get(gateway.HeaderIssuer))
	}
}

func TestRouteIssuersErrors(t *testing.T) {
	f := newIssuersFixture(t)
	upstream := newEcho(t, "up").URL
	rules := func(text string) gateway.Rules {
		r, _ := parseConfig(t, "upstream: "+upstream+"\nroutes:\n"+text)
		return r
	}
	for _, tc := range []struct{ text, want string }{
		{"  - path: /a\n    issuers: [nobody]\n", `routes[0] (/a): issuers: apiguard: no issuer is named "nobody"`},
		{"  - path: /a\n    issuers: [partners, partners]\n", `routes[0] (/a): issuers: "partners" is named twice`},
		{"  - path: /a\n    issuers: [\"\"]\n", `routes[0] (/a): issuers: empty issuer name`},
		{"  - path: /a\n    public: true\n    issuers: [partners]\n", "a public route must not name scopes, groups, claims or issuers"},
	} {
		err := f.gw.Reload(rules(tc.text))
		var re *gateway.RouteError
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &re) {
			t.Errorf("%s: %v, want a RouteError containing %q", tc.text, err, tc.want)
		}
	}
	// The running rules stayed.
	if resp := f.do(t, "GET", "/partners/x", f.partners.token(t, nil), nil); resp.StatusCode != 200 {
		t.Errorf("after refused reloads: %d", resp.StatusCode)
	}
	// One issuer's verifier cannot restrict routes to issuers.
	v, err := apiguard.New(apiguard.Config{Issuer: f.employees.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(&apiguard.Middleware{Verifier: v}, rules("  - path: /a\n    issuers: [employees]\n"), gateway.Options{})
	if err == nil || !strings.Contains(err.Error(), "needs an apiguard.Issuers") {
		t.Errorf("issuers with a lone Verifier: %v", err)
	}
}

// A thousand tokens of made-up issuers add no series to the gateway's
// metrics once the first has added its one, whatever their iss. Holds
// R-ISS-3.
func TestUnknownIssuersAddNoSeries(t *testing.T) {
	f := newIssuersFixture(t)
	series := func() []string {
		n, err := f.gw.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range n {
			if strings.HasPrefix(mf.GetName(), "apiguard_") {
				for _, m := range mf.GetMetric() {
					out = append(out, mf.GetName()+m.String())
				}
			}
		}
		return out
	}
	f.do(t, "GET", "/any/x", f.employees.token(t, map[string]any{"iss": "https://warm.example"}), nil)
	before := len(series())
	for i := range 1000 {
		tok := f.employees.token(t, map[string]any{"iss": fmt.Sprintf("https://%d.example/oauth2/%d", i, i)})
		resp := f.do(t, "GET", "/any/x", tok, nil)
		if resp.StatusCode != 401 {
			t.Fatalf("token %d of a made-up issuer: %d", i, resp.StatusCode)
		}
	}
	if after := len(series()); after != before {
		t.Errorf("1,000 tokens of made-up issuers: %d series, was %d", after, before)
	}
}
