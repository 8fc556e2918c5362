package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/redistest"
)

// dpopGet calls GET base/secure-data with a DPoP-bound token and proof.
func dpopGet(t *testing.T, base, token, proof string) reply {
	t.Helper()
	return do(t, http.MethodGet, base+"/secure-data", map[string]string{"Authorization": "DPoP " + token, "DPoP": proof})
}

// TestServeDPoPReplayAcrossInstances: two instances behind one public URL
// share the DPoP replay cache through a real redis-server: a proof accepted
// by A is refused when replayed at B. With in-memory replay caches (the
// control) the same replay would get through.
func TestServeDPoPReplayAcrossInstances(t *testing.T) {
	ci := newCountingIssuer(t)
	redisServer := redistest.New(t)
	lb := &switchProxy{}
	lbServer := httptest.NewServer(lb)
	t.Cleanup(lbServer.Close)
	target := lbServer.URL + "/secure-data"

	key := dpoptest.NewKey(t, "ES256")
	token, tokenType := ci.token(t, key.Proof(t, http.MethodPost, ci.url+"/v1/token", ""))
	if tokenType != "DPoP" {
		t.Fatalf("token_type %q, want DPoP", tokenType)
	}
	plain, _ := ci.token(t, "")

	t.Run("shared through Redis", func(t *testing.T) {
		env := stateEnv(ci, redisServer.URL()+"/0", "APIGUARD_PUBLIC_URL", lbServer.URL)
		a, b := startServe(t, env), startServe(t, env)

		proof := key.Proof(t, http.MethodGet, target, token)
		lb.use(t, a.url)
		if r := dpopGet(t, lbServer.URL, token, proof); r.status != http.StatusOK {
			t.Fatalf("A: got %d %s, want 200", r.status, r.raw)
		}
		lb.use(t, b.url)
		r := dpopGet(t, lbServer.URL, token, proof)
		if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_dpop_proof" {
			t.Errorf("replay at B: got %d %s, want 401 invalid_dpop_proof", r.status, r.raw)
		}
		if ch := r.header.Values("WWW-Authenticate"); len(ch) != 2 || !strings.HasPrefix(ch[1], `DPoP algs="`) ||
			!strings.Contains(ch[1], `error="invalid_dpop_proof"`) {
			t.Errorf("replay at B: challenges %q, want a DPoP challenge with the error", ch)
		}
		if r := dpopGet(t, lbServer.URL, token, key.Proof(t, http.MethodGet, target, token)); r.status != http.StatusOK {
			t.Errorf("a fresh proof at B: got %d %s, want 200", r.status, r.raw)
		}
		if r := bearerGet(t, lbServer.URL, token); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
			t.Errorf("the bound token as Bearer: got %d %s, want 401 invalid_token", r.status, r.raw)
		}
		if r := bearerGet(t, lbServer.URL, plain); r.status != http.StatusOK {
			t.Errorf("a bearer token: got %d %s, want 200", r.status, r.raw)
		}
		meta := do(t, http.MethodGet, lbServer.URL+"/.well-known/oauth-protected-resource", nil)
		if algs, _ := meta.body["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 || meta.body["dpop_bound_access_tokens_required"] != false {
			t.Errorf("metadata: %s, want dpop_signing_alg_values_supported and dpop_bound_access_tokens_required false", meta.raw)
		}

		// Redis down: a DPoP request cannot be checked for replay, so it is
		// refused with 503; bearer tokens need no Redis.
		redisServer.Stop()
		r = dpopGet(t, lbServer.URL, token, key.Proof(t, http.MethodGet, target, token))
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Errorf("Redis down, DPoP: got %d %s, want 503 with Retry-After", r.status, r.raw)
		}
		if r := bearerGet(t, lbServer.URL, plain); r.status != http.StatusOK {
			t.Errorf("Redis down, bearer token: got %d %s, want 200", r.status, r.raw)
		}
	})
	t.Run("control: in memory, a replay at the other instance gets through", func(t *testing.T) {
		env := stateEnv(ci, "", "APIGUARD_PUBLIC_URL", lbServer.URL)
		a, b := startServe(t, env), startServe(t, env)
		proof := key.Proof(t, http.MethodGet, target, token)
		lb.use(t, a.url)
		if r := dpopGet(t, lbServer.URL, token, proof); r.status != http.StatusOK {
			t.Fatalf("A: got %d %s, want 200", r.status, r.raw)
		}
		if r := dpopGet(t, lbServer.URL, token, proof); r.status != http.StatusUnauthorized {
			t.Errorf("replay at A: got %d, want 401", r.status)
		}
		lb.use(t, b.url)
		if r := dpopGet(t, lbServer.URL, token, proof); r.status != http.StatusOK {
			t.Errorf("replay at B with per-instance caches: got %d, want 200 (which is why Redis is needed)", r.status)
		}
	})
}

// TestServeDPoPRequiredAndNonce: APIGUARD_DPOP=required refuses bearer
// tokens; APIGUARD_DPOP_NONCE=on makes clients fetch a nonce first, and
// instances sharing APIGUARD_SESSION_SECRET accept each other's nonces.
func TestServeDPoPRequiredAndNonce(t *testing.T) {
	ci := newCountingIssuer(t)
	redisURL := redistest.New(t).URL() + "/0"
	env := stateEnv(ci, redisURL, "APIGUARD_DPOP", "required", "APIGUARD_DPOP_NONCE", "on")
	a, b := startServe(t, env), startServe(t, env)
	plain, _ := ci.token(t, "")
	r := bearerGet(t, a.url, plain)
	if ch := r.header.Values("WWW-Authenticate"); r.status != http.StatusUnauthorized || len(ch) != 1 || !strings.HasPrefix(ch[0], "DPoP ") {
		t.Errorf("bearer token with DPoP required: got %d %q, want 401 with one DPoP challenge", r.status, ch)
	}

	key := dpoptest.NewKey(t, "EdDSA")
	token, _ := ci.token(t, key.Proof(t, http.MethodPost, ci.url+"/v1/token", ""))
	r = dpopGet(t, a.url, token, key.Proof(t, http.MethodGet, a.url+"/secure-data", token))
	nonce := r.header.Get("DPoP-Nonce")
	if r.status != http.StatusUnauthorized || r.body["error"] != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: got %d %s, DPoP-Nonce %q; want 401 use_dpop_nonce and a nonce", r.status, r.raw, nonce)
	}
	h, c := key.Header(), key.Claims(http.MethodGet, b.url+"/secure-data", token, time.Now())
	c["nonce"] = nonce
	if r := dpopGet(t, b.url, token, key.Sign(t, h, c)); r.status != http.StatusOK {
		t.Errorf("A's nonce at B: got %d %s, want 200", r.status, r.raw)
	}
	meta := do(t, http.MethodGet, a.url+"/.well-known/oauth-protected-resource", nil)
	if meta.body["dpop_bound_access_tokens_required"] != true {
		t.Errorf("metadata: %s, want dpop_bound_access_tokens_required true", meta.raw)
	}
}
