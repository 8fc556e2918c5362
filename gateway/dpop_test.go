package gateway_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/dpoptest"
)

// TestDPoP: with Middleware.Binding set to a dpop.Checker, a DPoP-bound token passes with a proof
// for the public URL plus the path, the proof never reaches the upstream
// unless the route forwards the token, and /auth checks the proof against
// the forwarded method and URI.
func TestDPoP(t *testing.T) {
	const public = "https://api.example.test"
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	rules, opts := parseConfig(t, "upstream: "+up.URL+`
auth_proxy: traefik
routes:
  - path: /fwd/**
    forward_token: true
  - path: /orders/**
`)
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dpop.New(dpop.Config{PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v, Binding: d}, rules, withLogger(opts, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	key := dpoptest.NewKey(t, "ES256")
	token := ti.token(t, map[string]any{"cnf": map[string]string{"jkt": key.JKT()}})
	send := func(t *testing.T, path string, h http.Header) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	dpop := func(proof string, kv ...string) http.Header {
		h := http.Header{"Authorization": {"DPoP " + token}, "Dpop": {proof}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}

	tests := []struct {
		name      string
		path      string
		header    http.Header
		status    int
		errCode   string
		forwarded bool // the upstream gets Authorization and DPoP
	}{
		{"proxy", "/orders/1", dpop(key.Proof(t, "GET", public+"/orders/1", token)), 200, "", false},
		{"proxy, forward_token", "/fwd/1", dpop(key.Proof(t, "GET", public+"/fwd/1", token)), 200, "", true},
		{"proxy, proof for the listener's URL", "/orders/1", dpop(key.Proof(t, "GET", srv.URL+"/orders/1", token)), 401, "invalid_dpop_proof", false},
		{"auth", "/auth", dpop(key.Proof(t, "DELETE", public+"/orders/2", token),
			"X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/orders/2?force=1"), 200, "", false},
		{"auth, proof for GET /auth", "/auth", dpop(key.Proof(t, "GET", public+"/auth", token),
			"X-Forwarded-Method", "DELETE", "X-Forwarded-Uri", "/orders/2"), 401, "invalid_dpop_proof", false},
		{"auth, proof for the forwarded host", "/auth", dpop(key.Sign(t, key.Header(), key.Claims("GET", "https://other.example/orders/2", token, time.Now())),
			"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/orders/2", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "other.example"), 401, "invalid_dpop_proof", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, tt.path, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.errCode != "" {
				if got := errorCode(t, resp); got != tt.errCode {
					t.Errorf("got error %q, want %q", got, tt.errCode)
				}
				return
			}
			if tt.path == "/auth" {
				return
			}
			var e echo
			decode(t, resp, &e)
			gotAuth, gotProof := e.Header.Get("Authorization") != "", e.Header.Get("DPoP") != ""
			if gotAuth != tt.forwarded || gotProof != tt.forwarded {
				t.Errorf("upstream got Authorization %t, DPoP %t; want both %t", gotAuth, gotProof, tt.forwarded)
			}
		})
	}
}
