package devissuer_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/dpoptest"
)

// postDPoP posts a client credentials request for the "machine" client with
// the given DPoP proofs.
func postDPoP(t *testing.T, f *fixture, proofs ...string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:write"}}
	req, err := http.NewRequest(http.MethodPost, f.endpoint("token"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("machine", "machine-secret")
	for _, p := range proofs {
		req.Header.Add("DPoP", p)
	}
	resp, body := doJSON(t, req)
	return resp.StatusCode, body
}

func TestDPoPBoundTokens(t *testing.T) {
	f := newFixture(t, nil)
	key := dpoptest.NewKey(t, "ES256")
	proof := func(mutate func(h, c map[string]any)) string {
		h, c := key.Header(), key.Claims(http.MethodPost, f.endpoint("token"), "", f.clock.Now())
		if mutate != nil {
			mutate(h, c)
		}
		return key.Sign(t, h, c)
	}

	t.Run("a proof binds the token to the key", func(t *testing.T) {
		status, body := postDPoP(t, f, proof(nil))
		if status != 200 || body["token_type"] != "DPoP" {
			t.Fatalf("got %d %v, want 200 and token_type DPoP", status, body)
		}
		at, _ := body["access_token"].(string)
		cnf, _ := payload(t, at)["cnf"].(map[string]any)
		if cnf["jkt"] != key.JKT() {
			t.Errorf("cnf = %v, want jkt %s", cnf, key.JKT())
		}
		_, intro := postJSON(t, f.endpoint("introspect"), url.Values{"token": {at}}, "machine", "machine-secret")
		if intro["active"] != true || intro["token_type"] != "DPoP" {
			t.Errorf("introspection = %v, want active DPoP", intro)
		}
	})
	t.Run("no proof: a bearer token", func(t *testing.T) {
		status, body := postDPoP(t, f)
		at, _ := body["access_token"].(string)
		if status != 200 || body["token_type"] != "Bearer" || payload(t, at)["cnf"] != nil {
			t.Errorf("got %d %v, want a Bearer token without cnf", status, body)
		}
	})
	t.Run("a replayed proof is refused", func(t *testing.T) {
		p := proof(nil)
		if status, _ := postDPoP(t, f, p); status != 200 {
			t.Fatalf("first use: %d", status)
		}
		if status, body := postDPoP(t, f, p); status != 400 || body["error"] != "invalid_dpop_proof" {
			t.Errorf("replay: got %d %v, want 400 invalid_dpop_proof", status, body)
		}
	})
	bad := []struct {
		name   string
		proofs []string
	}{
		{"wrong typ", []string{proof(func(h, c map[string]any) { h["typ"] = "JWT" })}},
		{"symmetric alg", []string{proof(func(h, c map[string]any) { h["alg"] = "HS256" })}},
		{"no jwk", []string{proof(func(h, c map[string]any) { delete(h, "jwk") })}},
		{"wrong htm", []string{proof(func(h, c map[string]any) { c["htm"] = "GET" })}},
		{"wrong htu", []string{proof(func(h, c map[string]any) { c["htu"] = f.endpoint("introspect") })}},
		{"old iat", []string{proof(func(h, c map[string]any) { c["iat"] = f.clock.Now().Add(-2 * time.Minute).Unix() })}},
		{"no jti", []string{proof(func(h, c map[string]any) { delete(c, "jti") })}},
		{"two proofs", []string{proof(nil), proof(nil)}},
		{"not a JWS", []string{"not.a.jws"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if status, body := postDPoP(t, f, tc.proofs...); status != 400 || body["error"] != "invalid_dpop_proof" {
				t.Errorf("got %d %v, want 400 invalid_dpop_proof", status, body)
			}
		})
	}
	t.Run("metadata advertises DPoP", func(t *testing.T) {
		_, meta := getJSON(t, f.issuerURL+"/.well-known/openid-configuration")
		if algs, _ := meta["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 {
			t.Errorf("dpop_signing_alg_values_supported = %v", meta["dpop_signing_alg_values_supported"])
		}
	})
}

// doJSON sends req and decodes the JSON reply.
func doJSON(t *testing.T, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode reply: %v", err)
	}
	return resp, m
}

func getJSON(t *testing.T, u string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doJSON(t, req)
}
