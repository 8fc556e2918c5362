package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/redistest"
)

// gwPublicURL is the URL clients reach the gateways at in these tests: not
// their listen address, so a proof made for the address a gateway happens to
// listen on is for the wrong URL.
const gwPublicURL = "https://api.example.test"

// seen is what an upstream received: the headers of its last request.
type seen struct {
	mu     sync.Mutex
	header http.Header
}

func (s *seen) last() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header.Clone()
}

// newRecordingUpstream starts an upstream that remembers the headers of the
// last request it received.
func newRecordingUpstream(t *testing.T) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{header: http.Header{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.header = r.Header.Clone()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"upstream":"ok"}`)
	}))
	t.Cleanup(up.Close)
	return up, s
}

// stateGatewayFile is a rules file for the issuer at issuerURL and the
// upstream at upstream, plus extra top-level lines.
func stateGatewayFile(t *testing.T, issuerURL, upstream, extra string) string {
	t.Helper()
	return writeGatewayConfig(t, "issuer: "+issuerURL+"\nupstream: "+upstream+"\n"+extra+`
auth_proxy: traefik  # authHeaders are Traefik's
routes:
  - path: /public/**
    public: true
  - path: /fwd/**
    forward_token: true
  - path: /orders/**
`)
}

// startStateGateway runs a gateway with env set (after clearing the rest).
func startStateGateway(t *testing.T, path string, env map[string]string) string {
	t.Helper()
	gwClearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	return "http://" + g.addr
}

func dpopHeaders(token, proof string) map[string]string {
	return map[string]string{"Authorization": "DPoP " + token, "DPoP": proof}
}

// authHeaders are the headers of a forward-auth decision request.
func authHeaders(method, uri string, kv ...string) map[string]string {
	h := map[string]string{"X-Forwarded-Method": method, "X-Forwarded-Uri": uri}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = kv[i+1]
	}
	return h
}

// TestGatewayDPoP runs two gateways sharing a real redis-server, in front of
// one upstream, with the development issuer issuing DPoP-bound tokens.
func TestGatewayDPoP(t *testing.T) {
	ci := newCountingIssuer(t)
	redisServer := redistest.New(t)
	up, got := newRecordingUpstream(t)
	path := stateGatewayFile(t, ci.url, up.URL, "public_url: "+gwPublicURL+"\ndpop: on\n")
	env := map[string]string{"APIGUARD_REDIS_URL": redisServer.URL() + "/0", "APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-gateway"}
	a, b := startStateGateway(t, path, env), startStateGateway(t, path, env)

	key := dpoptest.NewKey(t, "ES256")
	token, tokenType := ci.token(t, key.Proof(t, http.MethodPost, ci.url+"/v1/token", ""))
	if tokenType != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", tokenType)
	}
	plain, _ := ci.token(t, "")
	orders := gwPublicURL + "/orders/1"

	// One proof, used at A, then replayed at A and at B.
	proof := key.Proof(t, http.MethodGet, orders, token)
	r := do(t, http.MethodGet, a+"/orders/1", dpopHeaders(token, proof))
	if r.status != http.StatusOK {
		t.Fatalf("bound token with a valid proof at A: got %d %s, want 200", r.status, r.raw)
	}
	h := got.last()
	if h.Get("X-Auth-Client-Id") != stateClient || h.Get("Authorization") != "" || len(h.Values("DPoP")) != 0 {
		t.Errorf("upstream got X-Auth-Client-Id %q, Authorization %q, DPoP %q; want %s and neither the token nor the proof",
			h.Get("X-Auth-Client-Id"), h.Get("Authorization"), h.Values("DPoP"), stateClient)
	}
	for name, base := range map[string]string{"A": a, "B": b} {
		r := do(t, http.MethodGet, base+"/orders/1", dpopHeaders(token, proof))
		ch := r.header.Values("WWW-Authenticate")
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_dpop_proof" || len(ch) != 2 ||
			!strings.HasPrefix(ch[1], `DPoP algs="`) || !strings.Contains(ch[1], `error="invalid_dpop_proof"`) {
			t.Errorf("proof replayed at %s: got %d %s %q, want 401 invalid_dpop_proof with a DPoP challenge carrying the error", name, r.status, r.raw, ch)
		}
	}

	tests := []struct {
		name    string
		base    string
		path    string
		header  map[string]string
		status  int
		errCode string
	}{
		{"fresh proof at B", b, "/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, orders, token)), 200, ""},
		{"bound token as Bearer", a, "/orders/1", map[string]string{"Authorization": "Bearer " + token}, 401, "invalid_token"},
		{"bound token without a proof", a, "/orders/1", map[string]string{"Authorization": "DPoP " + token}, 401, "invalid_dpop_proof"},
		{"proof for the listen address, not the public URL", a, "/orders/1",
			dpopHeaders(token, key.Proof(t, http.MethodGet, a+"/orders/1", token)), 401, "invalid_dpop_proof"},
		{"proof for another path", a, "/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, gwPublicURL+"/orders/2", token)), 401, "invalid_dpop_proof"},
		{"proof for another method", a, "/orders/1", dpopHeaders(token, key.Proof(t, http.MethodPost, orders, token)), 401, "invalid_dpop_proof"},
		{"proof by another key", a, "/orders/1", dpopHeaders(token, dpoptest.NewKey(t, "ES256").Proof(t, http.MethodGet, orders, token)), 401, "invalid_token"},
		{"plain bearer token", a, "/orders/1", map[string]string{"Authorization": "Bearer " + plain}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, http.MethodGet, tt.base+tt.path, tt.header)
			if r.status != tt.status || (tt.errCode != "" && r.body["error"] != tt.errCode) {
				t.Errorf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.errCode)
			}
		})
	}

	t.Run("forward_token sends the token and the proof", func(t *testing.T) {
		proof := key.Proof(t, http.MethodGet, gwPublicURL+"/fwd/x", token)
		if r := do(t, http.MethodGet, a+"/fwd/x", dpopHeaders(token, proof)); r.status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.status, r.raw)
		}
		if h := got.last(); h.Get("Authorization") != "DPoP "+token || h.Get("DPoP") != proof {
			t.Errorf("upstream got Authorization set %t, DPoP set %t; want both as the client sent them",
				h.Get("Authorization") != "", h.Get("DPoP") != "")
		}
	})
	t.Run("public route: a DPoP header is not forwarded", func(t *testing.T) {
		if r := do(t, http.MethodGet, a+"/public/x", map[string]string{"DPoP": "some.proof.value"}); r.status != http.StatusOK {
			t.Fatalf("got %d %s, want 200", r.status, r.raw)
		}
		if h := got.last(); len(h.Values("DPoP")) != 0 {
			t.Errorf("upstream got DPoP %q, want none", h.Values("DPoP"))
		}
	})

	t.Run("/auth", func(t *testing.T) {
		target := gwPublicURL + "/orders/7"
		proof := key.Proof(t, http.MethodDelete, target, token)
		ok := authHeaders(http.MethodDelete, "/orders/7?dry_run=1", "Authorization", "DPoP "+token, "DPoP", proof)
		r := do(t, http.MethodGet, a+"/auth", ok)
		if r.status != http.StatusOK || r.header.Get("X-Auth-Client-Id") != stateClient {
			t.Fatalf("decision with a valid proof: got %d %s X-Auth-Client-Id %q, want 200 and %s", r.status, r.raw, r.header.Get("X-Auth-Client-Id"), stateClient)
		}
		r = do(t, http.MethodGet, b+"/auth", ok)
		if ch := r.header.Values("WWW-Authenticate"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_dpop_proof" ||
			len(ch) != 2 || !strings.Contains(ch[1], `error="invalid_dpop_proof"`) {
			t.Errorf("decision with the proof replayed at B: got %d %s %q, want 401 invalid_dpop_proof with a DPoP challenge", r.status, r.raw, ch)
		}
		evil := key.Sign(t, key.Header(), key.Claims(http.MethodDelete, "https://evil.example/orders/7", token, time.Now()))
		tests := []struct {
			name   string
			header map[string]string
		}{
			{"proof for GET /auth itself", authHeaders(http.MethodDelete, "/orders/7", "Authorization", "DPoP "+token,
				"DPoP", key.Proof(t, http.MethodGet, gwPublicURL+"/auth", token))},
			{"proof for another method than X-Forwarded-Method", authHeaders(http.MethodPost, "/orders/7", "Authorization", "DPoP "+token,
				"DPoP", key.Proof(t, http.MethodDelete, target, token))},
			{"proof for another path than X-Forwarded-Uri", authHeaders(http.MethodDelete, "/orders/8", "Authorization", "DPoP "+token,
				"DPoP", key.Proof(t, http.MethodDelete, target, token))},
			{"X-Forwarded-Proto and -Host are not trusted", authHeaders(http.MethodDelete, "/orders/7", "Authorization", "DPoP "+token,
				"DPoP", evil, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := do(t, http.MethodGet, a+"/auth", tt.header)
				if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_dpop_proof" {
					t.Errorf("got %d %s, want 401 invalid_dpop_proof", r.status, r.raw)
				}
			})
		}
		// With auth_proxy: traefik, nginx's names are not trusted.
		nginx := map[string]string{"X-Original-Method": http.MethodGet, "X-Original-Uri": "/orders/9",
			"Authorization": "DPoP " + token, "DPoP": key.Proof(t, http.MethodGet, gwPublicURL+"/orders/9", token)}
		if r := do(t, http.MethodGet, a+"/auth", nginx); r.status != http.StatusBadRequest || r.body["error"] != "invalid_request" {
			t.Errorf("decision from nginx's headers: got %d %s, want 400 invalid_request", r.status, r.raw)
		}
	})

	t.Run("Redis down: 503, never a replay let through", func(t *testing.T) {
		redisServer.Stop()
		r := do(t, http.MethodGet, a+"/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, orders, token)))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("got %d %s, want 503 with Retry-After", r.status, r.raw)
		}
		if r := do(t, http.MethodGet, a+"/orders/1", map[string]string{"Authorization": "Bearer " + plain}); r.status != http.StatusOK {
			t.Errorf("bearer token with Redis down: got %d %s, want 200", r.status, r.raw)
		}
	})
}

// TestGatewayDPoPModes: dpop off refuses bound tokens (the gateway's old
// behaviour), required refuses bearer tokens, and nonces make the client
// fetch one first.
func TestGatewayDPoPModes(t *testing.T) {
	ci := newCountingIssuer(t)
	up, _ := newRecordingUpstream(t)
	key := dpoptest.NewKey(t, "EdDSA")
	token, _ := ci.token(t, key.Proof(t, http.MethodPost, ci.url+"/v1/token", ""))
	plain, _ := ci.token(t, "")
	orders := gwPublicURL + "/orders/1"

	t.Run("off (file), environment unset", func(t *testing.T) {
		gw := startStateGateway(t, stateGatewayFile(t, ci.url, up.URL, "public_url: "+gwPublicURL+"\ndpop: off\n"), nil)
		r := do(t, http.MethodGet, gw+"/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, orders, token)))
		if ch := r.header.Values("WWW-Authenticate"); r.status != http.StatusUnauthorized || len(ch) != 1 || strings.Contains(ch[0], "error=") || !strings.HasPrefix(ch[0], "Bearer ") {
			t.Errorf("DPoP scheme with dpop off: got %d %s %q, want 401 with a bare Bearer challenge (no credentials it reads)", r.status, r.raw, ch)
		}
		r = do(t, http.MethodGet, gw+"/orders/1", map[string]string{"Authorization": "Bearer " + token})
		if ch := r.header.Values("WWW-Authenticate"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" || len(ch) != 1 || !strings.HasPrefix(ch[0], "Bearer ") {
			t.Errorf("bound token as Bearer with dpop off: got %d %s %q, want 401 invalid_token with a Bearer challenge only", r.status, r.raw, ch)
		}
	})
	t.Run("required (environment over the file's on)", func(t *testing.T) {
		gw := startStateGateway(t, stateGatewayFile(t, ci.url, up.URL, "public_url: "+gwPublicURL+"\ndpop: on\n"),
			map[string]string{"APIGUARD_DPOP": "required"})
		r := do(t, http.MethodGet, gw+"/orders/1", map[string]string{"Authorization": "Bearer " + plain})
		if ch := r.header.Values("WWW-Authenticate"); r.status != http.StatusUnauthorized || len(ch) != 1 || !strings.HasPrefix(ch[0], "DPoP ") {
			t.Errorf("bearer token with DPoP required: got %d %s %q, want 401 with one DPoP challenge", r.status, r.raw, ch)
		}
		if r := do(t, http.MethodGet, gw+"/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, orders, token))); r.status != http.StatusOK {
			t.Errorf("bound token: got %d %s, want 200", r.status, r.raw)
		}
	})
	t.Run("nonce, at the proxy and at /auth", func(t *testing.T) {
		gw := startStateGateway(t, stateGatewayFile(t, ci.url, up.URL, "dpop_nonce: true\n"), map[string]string{"APIGUARD_PUBLIC_URL": gwPublicURL})
		r := do(t, http.MethodGet, gw+"/orders/1", dpopHeaders(token, key.Proof(t, http.MethodGet, orders, token)))
		nonce := r.header.Get("DPoP-Nonce")
		if r.status != http.StatusUnauthorized || r.body["error"] != "use_dpop_nonce" || nonce == "" {
			t.Fatalf("no nonce: got %d %s, DPoP-Nonce %q; want 401 use_dpop_nonce and a nonce", r.status, r.raw, nonce)
		}
		withNonce := func(method, htu string) string {
			c := key.Claims(method, htu, token, time.Now())
			c["nonce"] = nonce
			return key.Sign(t, key.Header(), c)
		}
		if r := do(t, http.MethodGet, gw+"/orders/1", dpopHeaders(token, withNonce(http.MethodGet, orders))); r.status != http.StatusOK {
			t.Errorf("proof with the nonce: got %d %s, want 200", r.status, r.raw)
		}
		r = do(t, http.MethodGet, gw+"/auth", authHeaders(http.MethodGet, "/orders/3", "Authorization", "DPoP "+token,
			"DPoP", key.Proof(t, http.MethodGet, gwPublicURL+"/orders/3", token)))
		if r.status != http.StatusUnauthorized || r.body["error"] != "use_dpop_nonce" || r.header.Get("DPoP-Nonce") == "" {
			t.Errorf("/auth without a nonce: got %d %s, want 401 use_dpop_nonce with a DPoP-Nonce header", r.status, r.raw)
		}
		r = do(t, http.MethodGet, gw+"/auth", authHeaders(http.MethodGet, "/orders/3", "Authorization", "DPoP "+token,
			"DPoP", withNonce(http.MethodGet, gwPublicURL+"/orders/3")))
		if r.status != http.StatusOK {
			t.Errorf("/auth with the nonce: got %d %s, want 200", r.status, r.raw)
		}
	})
}

// opaqueIssuer is the development issuer fronted so that it also issues
// opaque access tokens: a handle stands for a JWT the client never sees, and
// the introspection endpoint answers for the handle what the development
// issuer answers for its JWT (so revoking the JWT revokes the handle).
type opaqueIssuer struct {
	*countingIssuer
	mu      sync.Mutex
	handles map[string]string // handle → JWT
}

func newOpaqueIssuer(t *testing.T) *opaqueIssuer {
	t.Helper()
	oi := &opaqueIssuer{countingIssuer: &countingIssuer{}, handles: map[string]string{}}
	oi.serve(t, func(w http.ResponseWriter, r *http.Request) bool {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return true
		}
		oi.mu.Lock()
		if jwt, ok := oi.handles[r.PostForm.Get("token")]; ok {
			r.PostForm.Set("token", jwt)
		}
		oi.mu.Unlock()
		body := r.PostForm.Encode()
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
		r.Form, r.PostForm = nil, nil
		return false
	})
	return oi
}

// opaque returns a new opaque token and the JWT behind it.
func (oi *opaqueIssuer) opaque(t *testing.T) (handle, jwt string) {
	t.Helper()
	jwt, _ = oi.token(t, "")
	var b [24]byte
	_, _ = rand.Read(b[:])
	handle = base64.RawURLEncoding.EncodeToString(b[:])
	oi.mu.Lock()
	oi.handles[handle] = jwt
	oi.mu.Unlock()
	return handle, jwt
}

// TestGatewayIntrospection: opaque tokens are accepted or refused as the
// issuer's introspection endpoint says, and in always mode two gateways
// sharing a real redis-server ask the issuer once per token and see a
// revocation.
func TestGatewayIntrospection(t *testing.T) {
	oi := newOpaqueIssuer(t)
	up, got := newRecordingUpstream(t)
	bearer := func(base, path, token string) reply {
		return do(t, http.MethodGet, base+path, map[string]string{"Authorization": "Bearer " + token})
	}
	creds := map[string]string{"APIGUARD_INTROSPECTION_CLIENT_ID": stateClient, "OKTA_CLIENT_SECRET": stateSecret}

	t.Run("opaque (file), no cache", func(t *testing.T) {
		gw := startStateGateway(t, stateGatewayFile(t, oi.url, up.URL, "introspection: opaque\nintrospection_cache_ttl: 0s\n"), creds)
		handle, jwt := oi.opaque(t)
		before := oi.introspect.Load()
		r := bearer(gw, "/orders/1", handle)
		if r.status != http.StatusOK || got.last().Get("X-Auth-Client-Id") != stateClient {
			t.Fatalf("active opaque token: got %d %s, upstream X-Auth-Client-Id %q; want 200 and %s", r.status, r.raw, got.last().Get("X-Auth-Client-Id"), stateClient)
		}
		if n := oi.introspect.Load() - before; n != 1 {
			t.Errorf("introspections for one opaque token: got %d, want 1", n)
		}
		if r := bearer(gw, "/orders/1", "opaque-not-issued-by-anyone"); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Errorf("unknown opaque token: got %d %s, want 401 invalid_token", r.status, r.raw)
		}
		oi.revoke(t, jwt)
		if r := bearer(gw, "/orders/1", handle); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Errorf("revoked opaque token: got %d %s, want 401 invalid_token at once", r.status, r.raw)
		}
		r = do(t, http.MethodGet, gw+"/auth", authHeaders(http.MethodGet, "/orders/1", "Authorization", "Bearer "+handle))
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Errorf("revoked opaque token at /auth: got %d %s, want 401 invalid_token", r.status, r.raw)
		}
		// A JWT is verified locally in opaque mode: revoked, it stays valid
		// until its exp.
		revoked, _ := oi.token(t, "")
		oi.revoke(t, revoked)
		before = oi.introspect.Load()
		if r := bearer(gw, "/orders/1", revoked); r.status != http.StatusOK || oi.introspect.Load() != before {
			t.Errorf("revoked JWT in opaque mode: got %d after %d introspections, want 200 after none", r.status, oi.introspect.Load()-before)
		}
	})
	t.Run("control: introspection off refuses opaque tokens", func(t *testing.T) {
		gw := startStateGateway(t, stateGatewayFile(t, oi.url, up.URL, ""), creds)
		handle, _ := oi.opaque(t)
		before := oi.introspect.Load()
		if r := bearer(gw, "/orders/1", handle); r.status != http.StatusUnauthorized || oi.introspect.Load() != before {
			t.Errorf("opaque token, introspection off: got %d after %d introspections, want 401 after none", r.status, oi.introspect.Load()-before)
		}
	})
	t.Run("always (environment), shared through Redis", func(t *testing.T) {
		redisServer := redistest.New(t)
		env := map[string]string{"APIGUARD_INTROSPECTION": "always", "APIGUARD_INTROSPECTION_CACHE_TTL": "5m",
			"APIGUARD_REDIS_URL": redisServer.URL() + "/0", "APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-gateway",
			"OKTA_CLIENT_ID": stateClient, "OKTA_CLIENT_SECRET": stateSecret} // introspecting as OKTA_CLIENT_ID
		path := stateGatewayFile(t, oi.url, up.URL, "introspection: off\n")
		a, b := startStateGateway(t, path, env), startStateGateway(t, path, env)
		token, _ := oi.token(t, "")
		before := oi.introspect.Load()
		for i, base := range []string{a, b, a, b} {
			if r := bearer(base, "/orders/1", token); r.status != http.StatusOK {
				t.Fatalf("request %d: got %d %s, want 200", i+1, r.status, r.raw)
			}
		}
		if n := oi.introspect.Load() - before; n != 1 {
			t.Errorf("the issuer was asked %d times for one token by two gateways, want 1", n)
		}
		revoked, _ := oi.token(t, "")
		oi.revoke(t, revoked)
		for name, base := range map[string]string{"A": a, "B": b} {
			if r := bearer(base, "/orders/1", revoked); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
				t.Errorf("revoked JWT at %s: got %d %s, want 401 invalid_token", name, r.status, r.raw)
			}
		}
	})
}

func TestGatewayStateSettings(t *testing.T) {
	base := "issuer: https://example.okta.com/oauth2/default\nroutes:\n  - path: /**\n"
	t.Run("precedence", func(t *testing.T) {
		file := "public_url: https://file.example/\nintrospection: always\nintrospection_cache_ttl: 30s\ndpop: required\ndpop_nonce: true\n" + base
		tests := []struct {
			name string
			file string
			env  map[string]string
			args []string
			want []string // public URL, introspection, cache TTL, dpop, nonce, introspection client
		}{
			{"defaults", base, nil, nil, []string{"", "off", "1m0s", "on", "false", ""}},
			{"file", file, map[string]string{"OKTA_CLIENT_ID": "c", "OKTA_CLIENT_SECRET": "s"}, nil,
				[]string{"https://file.example", "always", "30s", "required", "true", "c"}},
			{"environment over file", file, map[string]string{"APIGUARD_PUBLIC_URL": "https://env.example", "APIGUARD_INTROSPECTION": "opaque",
				"APIGUARD_INTROSPECTION_CACHE_TTL": "0", "APIGUARD_DPOP": "on", "APIGUARD_DPOP_NONCE": "off",
				"OKTA_CLIENT_ID": "c", "APIGUARD_INTROSPECTION_CLIENT_ID": "i", "OKTA_CLIENT_SECRET": "s"}, nil,
				[]string{"https://env.example", "opaque", "-1ns", "on", "false", "i"}},
			{"flags over environment", file, map[string]string{"APIGUARD_DPOP": "on", "OKTA_CLIENT_ID": "c", "OKTA_CLIENT_SECRET": "s"},
				[]string{"--dpop", "off", "--dpop-nonce", "off", "--public-url", "https://flag.example"},
				[]string{"https://flag.example", "always", "30s", "off", "false", "c"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				gwClearEnv(t)
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				cfg, err := parseGatewayConfig(append([]string{"--config", writeGatewayConfig(t, tt.file)}, tt.args...), &syncBuffer{})
				if err != nil {
					t.Fatalf("parseGatewayConfig: %v", err)
				}
				st := cfg.shared.state
				got := []string{cfg.publicURL, st.introspection, st.cacheTTL.String(), st.dpop, fmt.Sprint(st.dpopNonce), cfg.shared.clientID}
				if strings.Join(got, " ") != strings.Join(tt.want, " ") {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			file string
			env  map[string]string
			want []string
		}{
			{"bad dpop", base, map[string]string{"APIGUARD_DPOP": "maybe"}, []string{"APIGUARD_DPOP (--dpop)"}},
			{"bad dpop in the file", "dpop: maybe\n" + base, nil, []string{"dpop in ", "gateway.yaml line 1: "}},
			{"nonce with dpop off in the file", "dpop: off\ndpop_nonce: true\n" + base, nil, []string{"dpop_nonce in ", "gateway.yaml line 2: "}},
			{"nonce with dpop off", base, map[string]string{"APIGUARD_DPOP": "off", "APIGUARD_DPOP_NONCE": "on"}, []string{"APIGUARD_DPOP_NONCE"}},
			{"bad introspection", base, map[string]string{"APIGUARD_INTROSPECTION": "sometimes"}, []string{"APIGUARD_INTROSPECTION (--introspection)"}},
			{"bad cache TTL in the file", "introspection_cache_ttl: soon\n" + base, nil, []string{"introspection_cache_ttl in ", "gateway.yaml line 1: "}},
			{"introspection without a secret", base, map[string]string{"APIGUARD_INTROSPECTION": "opaque", "OKTA_CLIENT_ID": "c"},
				[]string{"APIGUARD_INTROSPECTION (--introspection)", "OKTA_CLIENT_SECRET"}},
			{"introspection without a client", "introspection: always\n" + base, map[string]string{"OKTA_CLIENT_SECRET": "s"},
				[]string{"introspection in ", "gateway.yaml line 1: ", "APIGUARD_INTROSPECTION_CLIENT_ID"}},
			{"bad public URL", base, map[string]string{"APIGUARD_PUBLIC_URL": "api.example.com"}, []string{"APIGUARD_PUBLIC_URL (--public-url)"}},
			{"bad public URL in the file", "public_url: https://api.example.com/?x=1\n" + base, nil, []string{"public_url in ", "gateway.yaml line 1: "}},
			{"bad Redis URL", base, map[string]string{"APIGUARD_REDIS_URL": "http://127.0.0.1:6379"}, []string{"APIGUARD_REDIS_URL (--redis-url)"}},
			{"Redis without a secret", base, map[string]string{"APIGUARD_REDIS_URL": "redis://127.0.0.1:6379"}, []string{"APIGUARD_SESSION_SECRET (--session-secret)"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				gwClearEnv(t)
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
				_, err := parseGatewayConfig([]string{"--config", writeGatewayConfig(t, tt.file)}, &syncBuffer{})
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("got %v, want a usage error", err)
				}
				for _, w := range tt.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("got %q, want it to mention %q", err, w)
					}
				}
			})
		}
	})
}
