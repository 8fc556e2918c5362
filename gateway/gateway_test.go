package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
)

const rulesConfig = `
upstream: {{up1}}
routes:
  - path: /public/**
    public: true
  - name: items
    path: /orders/*/items
    methods: [GET]
    scopes: [items:read]
  - path: /orders/**
    methods: [GET]
    scopes: [orders:read]
  - path: /orders/**
    methods: [post, PUT, DELETE]
    scopes: [orders:write]
    groups: [Admins, Ops]
  - path: /admin/**
    claims: {cid: [admin-client]}
  - path: /reports/**
    upstream: {{up2}}
  - path: /raw/**
    forward_token: true
  - path: /cookies/**
    public: true
    forward_cookies: true
`

func TestRules(t *testing.T) {
	ti := newTestIssuer(t)
	up1, up2 := newEcho(t, "up1"), newEcho(t, "up2")
	f := newFixture(t, ti, rulesConfig, map[string]string{"up1": up1.URL, "up2": up2.URL + "/base"})

	scopes := func(s ...string) map[string]any { return map[string]any{"scp": s} }
	tests := []struct {
		name     string
		method   string
		path     string
		claims   map[string]any // nil: no token
		want     int
		upstream string // want this upstream when 2xx
		upPath   string // want this path upstream, default path
	}{
		{"public without token", "GET", "/public/a/b", nil, 200, "up1", ""},
		{"** matches zero segments", "GET", "/public", nil, 200, "up1", ""},
		{"query passes", "GET", "/public/x?a=1&b=2", nil, 200, "up1", "/public/x"},
		{"* one segment: first match wins", "GET", "/orders/7/items", scopes("items:read"), 200, "up1", ""},
		{"first match wins over a later allowing rule", "GET", "/orders/7/items", scopes("orders:read"), 403, "", ""},
		{"* does not span segments", "GET", "/orders/7/items/1", scopes("orders:read"), 200, "up1", ""},
		{"* does not span segments: items scope is not enough", "GET", "/orders/7/items/1", scopes("items:read"), 403, "", ""},
		{"* needs a segment", "GET", "/orders//items", scopes("items:read"), 400, "", ""},
		{"GET implies HEAD", "HEAD", "/orders/7", scopes("orders:read"), 200, "", ""},
		{"write needs scope and group", "POST", "/orders/7", map[string]any{"scp": []string{"orders:write"}, "groups": []string{"Ops"}}, 200, "up1", ""},
		{"write scope without group", "POST", "/orders/7", scopes("orders:write"), 403, "", ""},
		{"read scope cannot write", "DELETE", "/orders/7", scopes("orders:read"), 403, "", ""},
		{"unlisted method", "PATCH", "/orders/7", scopes("orders:write", "orders:read"), 404, "", ""},
		{"claim allowed", "GET", "/admin/users", map[string]any{"cid": "admin-client"}, 200, "up1", ""},
		{"claim refused", "GET", "/admin/users", map[string]any{"cid": "client-1"}, 403, "", ""},
		{"no route", "GET", "/elsewhere", scopes("orders:read"), 404, "", ""},
		{"prefix is not a segment", "GET", "/publicity", nil, 404, "", ""},
		{"another case is ambiguous", "GET", "/PUBLIC/x", nil, 400, "", ""},
		{"per-route upstream", "GET", "/reports/q1", map[string]any{}, 200, "up2", "/base/reports/q1"},
		{"any valid token, none sent", "GET", "/reports/q1", nil, 401, "", ""},
		{"dot-dot refused", "GET", "/public/../admin/users", nil, 400, "", ""},
		{"tomcat dot-dot refused", "GET", "/public/..;/admin/users", nil, 400, "", ""},
		{"encoded slash refused", "GET", "/public%2F..%2Fadmin/users", nil, 400, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := ""
			if tt.claims != nil {
				token = ti.token(t, tt.claims)
			}
			resp := f.do(t, tt.method, tt.path, token, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s: got status %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
			if tt.upstream == "" {
				return
			}
			var got echo
			decode(t, resp, &got)
			wantPath := tt.upPath
			if wantPath == "" {
				wantPath = tt.path
			}
			if got.Upstream != tt.upstream || got.Path != wantPath || got.Method != tt.method {
				t.Errorf("upstream got %s %s at %s, want %s %s at %s", got.Method, got.Path, got.Upstream, tt.method, wantPath, tt.upstream)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, rulesConfig, map[string]string{"up1": up.URL, "up2": up.URL})
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		method    string
		path      string
		token     string
		want      int
		code      string
		challenge string // substring of WWW-Authenticate; "" means none expected
	}{
		{"no token", "GET", "/orders/1", "", 401, "unauthorized", `Bearer realm="apiguard"`},
		{"garbage token", "GET", "/orders/1", "not-a-jwt", 401, "invalid_token", `error="invalid_token"`},
		{"bad signature", "GET", "/orders/1", ti.tokenWithKey(t, otherKey, map[string]any{"scp": []string{"orders:read"}}), 401, "invalid_token", `error="invalid_token"`},
		{"wrong audience", "GET", "/orders/1", ti.token(t, map[string]any{"aud": "api://other", "scp": []string{"orders:read"}}), 401, "invalid_token", `error="invalid_token"`},
		{"missing scope", "GET", "/orders/1", ti.token(t, nil), 403, "insufficient_scope", `scope="orders:read"`},
		{"missing group", "PUT", "/orders/1", ti.token(t, map[string]any{"scp": []string{"orders:write"}, "groups": []string{"Everyone"}}), 403, "insufficient_scope", `error="insufficient_scope"`},
		{"claim mismatch", "GET", "/admin/x", ti.token(t, map[string]any{"cid": "client-1"}), 403, "insufficient_scope", `error="insufficient_scope"`},
		{"no route", "GET", "/nowhere", ti.token(t, nil), 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := f.do(t, tt.method, tt.path, tt.token, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if tt.challenge == "" && got != "" {
				t.Errorf("got WWW-Authenticate %q, want none", got)
			}
			if !strings.Contains(got, tt.challenge) {
				t.Errorf("got WWW-Authenticate %q, want it to contain %q", got, tt.challenge)
			}
			if tt.want == 401 && tt.token == "" && strings.Contains(got, "error=") {
				t.Errorf("got WWW-Authenticate %q, want no error code without credentials", got)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("got Content-Type %q, want application/json", ct)
			}
			if code := errorCode(t, resp); code != tt.code {
				t.Errorf("got error %q, want %q", code, tt.code)
			}
		})
	}

	t.Run("issuer down", func(t *testing.T) {
		down := newTestIssuer(t)
		token := down.token(t, map[string]any{"scp": []string{"orders:read"}})
		down.srv.Close()
		f := newFixture(t, down, rulesConfig, map[string]string{"up1": up.URL, "up2": up.URL})
		resp := f.do(t, "GET", "/orders/1", token, nil)
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("got status %d, want 503", resp.StatusCode)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Error("got no Retry-After on 503")
		}
		if code := errorCode(t, resp); code != "temporarily_unavailable" {
			t.Errorf("got error %q, want temporarily_unavailable", code)
		}
		// Public routes do not need the issuer.
		if resp := f.do(t, "GET", "/public/x", "", nil); resp.StatusCode != 200 {
			t.Errorf("public route with issuer down: got status %d, want 200", resp.StatusCode)
		}
	})

	t.Run("upstream down", func(t *testing.T) {
		dead := newEcho(t, "dead")
		dead.Close()
		f := newFixture(t, ti, rulesConfig, map[string]string{"up1": dead.URL, "up2": dead.URL})
		resp := f.do(t, "GET", "/orders/1", ti.token(t, map[string]any{"scp": []string{"orders:read"}}), nil)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("got status %d, want 502", resp.StatusCode)
		}
		if code := errorCode(t, resp); code != "bad_gateway" {
			t.Errorf("got error %q, want bad_gateway", code)
		}
		if !strings.Contains(f.logs.String(), "upstream failed") {
			t.Errorf("got logs %q, want an upstream failure logged", f.logs.String())
		}
	})
}

func TestHeaders(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, rulesConfig, map[string]string{"up1": up.URL, "up2": up.URL})
	token := ti.token(t, map[string]any{"sub": "bob", "cid": "client-9", "scp": []string{"orders:read", "profile"}, "groups": []string{"Everyone", "Ops"}})

	spoof := http.Header{
		"X-Auth-Subject":     {"admin"},
		"X-Auth-Groups":      {"Admins"},
		"X-Auth-Extra":       {"1"},
		"X_auth_subject":     {"admin"}, // read as X-Auth-Subject by CGI-style upstreams
		"X-Forwarded-For":    {"10.9.9.9"},
		"X-Forwarded-Host":   {"evil.example"},
		"X-Forwarded-Proto":  {"https"},
		"X-Forwarded-Prefix": {"/evil"},
		"Forwarded":          {"for=10.9.9.9"},
		"X-Real-Ip":          {"10.9.9.9"},
		"X-Original-Uri":     {"/admin"},
		"Cookie":             {"session=s3cret"},
		"X-Request-Id":       {"keep-me"},
		// A hop-by-hop trick asking the proxy to drop the identity headers.
		"Connection": {"X-Auth-Subject, X-Auth-Scopes"},
	}

	get := func(t *testing.T, path, token string) echo {
		t.Helper()
		resp := f.do(t, "GET", path, token, spoof)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
		}
		var got echo
		decode(t, resp, &got)
		return got
	}
	checkStripped := func(t *testing.T, h http.Header) {
		t.Helper()
		for k := range h {
			norm := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
			if norm == "x-auth-extra" || norm == "x-forwarded-prefix" || norm == "forwarded" || norm == "x-real-ip" || norm == "x-original-uri" || k == "X_auth_subject" {
				t.Errorf("upstream got spoofable header %s: %q", k, h[k])
			}
		}
		if got := h.Get("X-Forwarded-For"); got != "127.0.0.1" {
			t.Errorf("got X-Forwarded-For %q, want 127.0.0.1", got)
		}
		if got, want := h.Get("X-Forwarded-Host"), strings.TrimPrefix(f.srv.URL, "http://"); got != want {
			t.Errorf("got X-Forwarded-Host %q, want %q", got, want)
		}
		if got := h.Get("X-Forwarded-Proto"); got != "http" {
			t.Errorf("got X-Forwarded-Proto %q, want http", got)
		}
		if got := h.Get("X-Request-Id"); got != "keep-me" {
			t.Errorf("got X-Request-Id %q, want other headers kept", got)
		}
	}

	t.Run("protected route", func(t *testing.T) {
		got := get(t, "/orders/1", token)
		checkStripped(t, got.Header)
		want := map[string]string{
			"X-Auth-Subject":   "bob",
			"X-Auth-Client-Id": "client-9",
			"X-Auth-Scopes":    "orders:read profile",
			"X-Auth-Groups":    "Everyone,Ops",
			"Authorization":    "",
			"Cookie":           "",
		}
		for k, v := range want {
			if vs := got.Header.Values(k); strings.Join(vs, "|") != v {
				t.Errorf("upstream got %s %q, want %q", k, vs, v)
			}
		}
	})
	t.Run("public route has no identity", func(t *testing.T) {
		got := get(t, "/public/x", token)
		checkStripped(t, got.Header)
		for _, k := range []string{"X-Auth-Subject", "X-Auth-Groups", "Authorization", "Cookie"} {
			if v := got.Header.Get(k); v != "" {
				t.Errorf("upstream got %s %q, want none", k, v)
			}
		}
	})
	t.Run("forward_token", func(t *testing.T) {
		got := get(t, "/raw/x", token)
		checkStripped(t, got.Header)
		if v := got.Header.Get("Authorization"); v != "Bearer "+token {
			t.Errorf("upstream got Authorization %q, want the client's", v)
		}
		if v := got.Header.Get("X-Auth-Subject"); v != "bob" {
			t.Errorf("upstream got X-Auth-Subject %q, want bob", v)
		}
		if v := got.Header.Get("Cookie"); v != "" {
			t.Errorf("upstream got Cookie %q, want none without forward_cookies", v)
		}
	})
	t.Run("forward_cookies", func(t *testing.T) {
		got := get(t, "/cookies/x", "")
		if v := got.Header.Get("Cookie"); v != "session=s3cret" {
			t.Errorf("upstream got Cookie %q, want the client's", v)
		}
	})
}

func TestOnRefuseHook(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reasons []string
	rules, opts := parseConfig(t, "upstream: "+up.URL+"\nroutes:\n  - path: /orders/**\n    scopes: [orders:read]\n")
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v, OnRefuse: func(r *http.Request, err error) {
		mu.Lock()
		defer mu.Unlock()
		reasons = append(reasons, r.URL.Path+" "+apiguard.Reason(err))
	}}, rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{gw: gw, srv: newServer(t, gw), issuer: ti}
	f.do(t, "GET", "/orders/1", "", nil)
	f.do(t, "GET", "/orders/1", ti.token(t, nil), nil)
	f.do(t, "GET", "/orders/1", ti.token(t, map[string]any{"scp": []string{"orders:read"}}), nil)
	f.do(t, "GET", "/auth", "", http.Header{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/2"}})
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/orders/1 no_token", "/orders/1 forbidden", "/auth no_token"}
	if strings.Join(reasons, "|") != strings.Join(want, "|") {
		t.Errorf("got refusals %q, want %q", reasons, want)
	}
}

func TestNewRequiresMiddlewareAndRoutes(t *testing.T) {
	rules, opts := parseConfig(t, "routes:\n  - path: /**\n")
	if _, err := gateway.New(nil, rules, opts); err == nil {
		t.Error("New without a Middleware: got no error, want one")
	}
	if _, err := gateway.New(&apiguard.Middleware{}, rules, opts); err == nil {
		t.Error("New with a Middleware without a Verifier: got no error, want one")
	}
	v, err := apiguard.New(apiguard.Config{Issuer: "https://example.okta.com/oauth2/default"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gateway.New(&apiguard.Middleware{Verifier: v}, gateway.Rules{}, opts); err == nil || !strings.Contains(err.Error(), "routes") {
		t.Errorf("New without routes: got %v, want an error naming routes", err)
	}
}
