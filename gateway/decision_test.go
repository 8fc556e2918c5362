package gateway_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDecisionEndpoint: /auth decides on the request its auth_proxy's header
// pair describes, answers identity headers on success and RFC 6750 refusals
// otherwise (for nginx, with the challenges in X-Apiguard-* headers).
func TestDecisionEndpoint(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	reader := ti.token(t, map[string]any{"sub": "carol", "cid": "client-3", "scp": []string{"orders:read"}, "groups": []string{"Everyone"}})

	for _, proxy := range []struct {
		setting, method, uri string
		challenge            string // the header refusals carry the Bearer challenge in
	}{
		{"", "X-Original-Method", "X-Original-Uri", "X-Apiguard-Bearer-Challenge"},
		{"traefik", "X-Forwarded-Method", "X-Forwarded-Uri", "WWW-Authenticate"},
		{"caddy", "X-Forwarded-Method", "X-Forwarded-Uri", "WWW-Authenticate"},
	} {
		t.Run("auth_proxy="+proxy.setting, func(t *testing.T) {
			f := newFixture(t, ti, "auth_proxy: "+proxy.setting+"\n"+rulesConfig, map[string]string{"up1": up.URL, "up2": up.URL})
			describe := func(method, uri string) http.Header {
				return http.Header{proxy.method: {method}, proxy.uri: {uri}}
			}
			tests := []struct {
				name      string
				header    http.Header
				token     string
				want      int
				identity  string // want X-Auth-Subject
				challenge bool
			}{
				{"allowed", describe("GET", "/orders/1?x=y"), reader, 200, "carol", false},
				{"method taken from the header", describe("DELETE", "/orders/1"), reader, 403, "", true},
				{"no token", describe("GET", "/orders/1"), "", 401, "", true},
				{"invalid token", describe("GET", "/orders/1"), "x.y.z", 401, "", true},
				{"public", describe("GET", "/public/a"), "", 200, "", false},
				{"public does not identify", describe("GET", "/public/a"), reader, 200, "", false},
				{"no route", describe("GET", "/nowhere"), reader, 404, "", false},
				{"bad path", describe("GET", "/public/../orders/1"), "", 400, "", false},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp := f.do(t, "GET", "/auth", tt.token, tt.header)
					if resp.StatusCode != tt.want {
						t.Fatalf("got status %d, want %d", resp.StatusCode, tt.want)
					}
					if got := resp.Header.Get("X-Auth-Subject"); got != tt.identity {
						t.Errorf("got X-Auth-Subject %q, want %q", got, tt.identity)
					}
					if tt.identity != "" {
						if got := resp.Header.Get("X-Auth-Scopes"); got != "orders:read" {
							t.Errorf("got X-Auth-Scopes %q, want orders:read", got)
						}
						if got := resp.Header.Get("X-Auth-Client-Id"); got != "client-3" {
							t.Errorf("got X-Auth-Client-Id %q, want client-3", got)
						}
					}
					if got := resp.Header.Get(proxy.challenge); (got != "") != tt.challenge || (tt.challenge && !strings.HasPrefix(got, "Bearer ")) {
						t.Errorf("got %s %q, want a Bearer challenge: %v", proxy.challenge, got, tt.challenge)
					}
				})
			}
		})
	}
}

func TestReservedPaths(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	const config = `
upstream: {{up}}
routes:
  - path: /**
    public: true
`
	t.Run("shared listener", func(t *testing.T) {
		f := newFixture(t, ti, config, map[string]string{"up": up.URL})
		for _, p := range []string{"/healthz", "/readyz"} {
			resp := f.do(t, "GET", p, "", nil)
			var body struct{ Status string }
			decode(t, resp, &body)
			if resp.StatusCode != 200 || body.Status == "" {
				t.Errorf("GET %s: got %d %+v, want 200 from the gateway", p, resp.StatusCode, body)
			}
		}
		// Only exact paths are reserved.
		resp := f.do(t, "GET", "/healthz/deep", "", nil)
		var got echo
		decode(t, resp, &got)
		if got.Path != "/healthz/deep" {
			t.Errorf("GET /healthz/deep: got upstream path %q, want it proxied", got.Path)
		}
	})
	t.Run("admin listener", func(t *testing.T) {
		f := newFixture(t, ti, "separate_admin: true\n"+config, map[string]string{"up": up.URL})
		for _, p := range []string{"/healthz", "/metrics", "/auth"} {
			resp := f.do(t, "GET", p, "", nil)
			var got echo
			decode(t, resp, &got)
			if got.Path != p {
				t.Errorf("GET %s on the main listener: got upstream path %q, want it proxied", p, got.Path)
			}
		}
		admin := newAdmin(t, f)
		resp, err := admin.Client().Get(admin.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("admin /healthz: got %d, want 200", resp.StatusCode)
		}
		resp, err = admin.Client().Get(admin.URL + "/orders")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("admin /orders: got %d, want 404", resp.StatusCode)
		}
	})
	t.Run("not ready while the issuer is down", func(t *testing.T) {
		down := newTestIssuer(t)
		down.srv.Close()
		f := newFixture(t, down, config, map[string]string{"up": up.URL})
		resp := f.do(t, "GET", "/readyz", "", nil)
		var body struct{ Status, Reason string }
		decode(t, resp, &body)
		if resp.StatusCode != http.StatusServiceUnavailable || body.Status != "unavailable" ||
			!strings.HasPrefix(body.Reason, "signing keys not loaded") || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET /readyz: got %d %+v Retry-After %q, want 503 unavailable, why, and Retry-After", resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
		if resp := f.do(t, "GET", "/healthz", "", nil); resp.StatusCode != 200 {
			t.Errorf("GET /healthz: got %d, want 200", resp.StatusCode)
		}
	})
}
