package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/redistest"
)

const (
	stateClient = "0oa-state"
	stateSecret = "state-secret-0123456789"
)

// countingIssuer is the development issuer on a loopback server, counting
// the requests to its introspection endpoint.
type countingIssuer struct {
	url        string
	introspect atomic.Int64
}

func newCountingIssuer(t *testing.T) *countingIssuer {
	t.Helper()
	ci := &countingIssuer{}
	ci.serve(t, nil)
	return ci
}

// serve starts the development issuer for ci on a loopback server and sets
// ci.url. Each request to the introspection endpoint is counted, then
// given to introspect, when set, which may answer it (and return true) or
// change it for the development issuer to answer.
func (ci *countingIssuer) serve(t *testing.T, introspect func(w http.ResponseWriter, r *http.Request) bool) {
	t.Helper()
	dcfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: stateClient, ClientSecret: stateSecret,
		Username: devUser, Password: devPass})
	if err != nil {
		t.Fatal(err)
	}
	ci.url = devissuertest.NewServer(t, dcfg, devissuertest.Wrap(func(dev http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/v1/introspect") {
				ci.introspect.Add(1)
				if introspect != nil && introspect(w, r) {
					return
				}
			}
			dev.ServeHTTP(w, r)
		})
	})).URL
}

// token gets a client credentials token, DPoP-bound when proof is set.
func (ci *countingIssuer) token(t *testing.T, proof string) (token, tokenType string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequest(http.MethodPost, ci.url+"/v1/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(stateClient, stateSecret)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token request: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken, tok.TokenType
}

func (ci *countingIssuer) revoke(t *testing.T, token string) {
	t.Helper()
	res, err := http.PostForm(ci.url+"/v1/revoke", url.Values{"token": {token}, "client_id": {stateClient}, "client_secret": {stateSecret}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: status %d", res.StatusCode)
	}
}

// stateEnv is the environment of a serve instance using ci, sharing state
// through redisURL when it is not empty.
func stateEnv(ci *countingIssuer, redisURL string, kv ...string) map[string]string {
	env := map[string]string{"OKTA_ISSUER": ci.url, "OKTA_CLIENT_ID": stateClient, "OKTA_CLIENT_SECRET": stateSecret,
		"APIGUARD_INTROSPECTION": "", "APIGUARD_INTROSPECTION_CACHE_TTL": "", "APIGUARD_DPOP": "", "APIGUARD_DPOP_NONCE": ""}
	if redisURL != "" {
		env["APIGUARD_REDIS_URL"] = redisURL
		env["APIGUARD_SESSION_SECRET"] = "0123456789abcdef0123456789abcdef-state"
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func bearerGet(t *testing.T, base, token string) reply {
	t.Helper()
	return do(t, http.MethodGet, base+"/secure-data", map[string]string{"Authorization": "Bearer " + token})
}

// TestServeIntrospectionSharedThroughRedis: two instances with
// APIGUARD_INTROSPECTION=always and a real redis-server ask the issuer once
// per token between them.
func TestServeIntrospectionSharedThroughRedis(t *testing.T) {
	ci := newCountingIssuer(t)
	redisServer := redistest.New(t)
	env := stateEnv(ci, redisServer.URL()+"/0", "APIGUARD_INTROSPECTION", "always", "APIGUARD_INTROSPECTION_CACHE_TTL", "5m")
	a, b := startServe(t, env), startServe(t, env)

	token, _ := ci.token(t, "")
	for i, s := range []*server{a, b, a, b} {
		if r := bearerGet(t, s.url, token); r.status != http.StatusOK {
			t.Fatalf("request %d: got %d %s, want 200", i+1, r.status, r.raw)
		}
	}
	if got := ci.introspect.Load(); got != 1 {
		t.Errorf("the issuer was asked %d times for one token by two instances, want 1", got)
	}
	other, _ := ci.token(t, "")
	if r := bearerGet(t, b.url, other); r.status != http.StatusOK || ci.introspect.Load() != 2 {
		t.Errorf("another token: got %d after %d introspections, want 200 after 2", r.status, ci.introspect.Load())
	}

	// Redis down: the instances ask the issuer, which still decides.
	redisServer.Stop()
	fresh, _ := ci.token(t, "")
	if r := bearerGet(t, a.url, fresh); r.status != http.StatusOK {
		t.Errorf("Redis down, valid token: got %d %s, want 200 (the issuer is asked)", r.status, r.raw)
	}
	ci.revoke(t, fresh)
	if r := bearerGet(t, b.url, fresh); r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" {
		t.Errorf("Redis down, revoked token: got %d %s, want 401 invalid_token", r.status, r.raw)
	}
}

// TestServeRevocationSeenByBoth: a token revoked at the issuer is refused by
// both instances at once without an introspection cache, and by both once
// the shared cached result ends with one.
func TestServeRevocationSeenByBoth(t *testing.T) {
	ci := newCountingIssuer(t)
	redisURL := redistest.New(t).URL() + "/0"

	t.Run("no cache: at once", func(t *testing.T) {
		env := stateEnv(ci, redisURL, "APIGUARD_INTROSPECTION", "always", "APIGUARD_INTROSPECTION_CACHE_TTL", "0")
		a, b := startServe(t, env), startServe(t, env)
		token, _ := ci.token(t, "")
		for _, s := range []*server{a, b} {
			if r := bearerGet(t, s.url, token); r.status != http.StatusOK {
				t.Fatalf("before revocation: got %d %s", r.status, r.raw)
			}
		}
		ci.revoke(t, token)
		for name, s := range map[string]*server{"A": a, "B": b} {
			r := bearerGet(t, s.url, token)
			if r.status != http.StatusUnauthorized || r.body["error"] != "invalid_token" ||
				!strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("instance %s after revocation: got %d %s, want 401 invalid_token", name, r.status, r.raw)
			}
		}
	})
	t.Run("cache of 1s: once it ends", func(t *testing.T) {
		env := stateEnv(ci, redisURL, "APIGUARD_INTROSPECTION", "always", "APIGUARD_INTROSPECTION_CACHE_TTL", "1s")
		a, b := startServe(t, env), startServe(t, env)
		token, _ := ci.token(t, "")
		if r := bearerGet(t, a.url, token); r.status != http.StatusOK {
			t.Fatalf("before revocation: got %d %s", r.status, r.raw)
		}
		ci.revoke(t, token)
		deadline := time.Now().Add(10 * time.Second)
		for name, s := range map[string]*server{"A": a, "B": b} {
			for {
				r := bearerGet(t, s.url, token)
				if r.status == http.StatusUnauthorized {
					break
				}
				if r.status != http.StatusOK || time.Now().After(deadline) {
					t.Fatalf("instance %s: got %d %s, want 401 within the cache TTL", name, r.status, r.raw)
				}
			}
		}
	})
	t.Run("opaque mode: JWTs are not introspected", func(t *testing.T) {
		env := stateEnv(ci, redisURL, "APIGUARD_INTROSPECTION", "opaque")
		a := startServe(t, env)
		token, _ := ci.token(t, "")
		ci.revoke(t, token)
		before := ci.introspect.Load()
		if r := bearerGet(t, a.url, token); r.status != http.StatusOK || ci.introspect.Load() != before {
			t.Errorf("revoked JWT in opaque mode: got %d after %d new introspections, want 200 and none (valid until exp)",
				r.status, ci.introspect.Load()-before)
		}
		r := bearerGet(t, a.url, "opaque-not-issued-by-anyone")
		if r.status != http.StatusUnauthorized || ci.introspect.Load() != before+1 {
			t.Errorf("unknown opaque token: got %d %s, want 401 after one introspection", r.status, r.raw)
		}
	})
}

func TestServeStateSettingsErrors(t *testing.T) {
	ci := newCountingIssuer(t)
	tests := []struct {
		kv   []string
		want string
	}{
		{[]string{"APIGUARD_INTROSPECTION", "sometimes"}, "APIGUARD_INTROSPECTION (--introspection)"},
		{[]string{"APIGUARD_INTROSPECTION", "always", "OKTA_CLIENT_SECRET", ""}, "APIGUARD_INTROSPECTION (--introspection)"},
		{[]string{"APIGUARD_INTROSPECTION_CACHE_TTL", "soon"}, "APIGUARD_INTROSPECTION_CACHE_TTL (--introspection-cache-ttl)"},
		{[]string{"APIGUARD_DPOP", "maybe"}, "APIGUARD_DPOP (--dpop)"},
		{[]string{"APIGUARD_DPOP_NONCE", "on", "APIGUARD_DPOP", "off"}, "APIGUARD_DPOP_NONCE (--dpop-nonce)"},
	}
	for _, tc := range tests {
		t.Run(tc.want+" "+strings.Join(tc.kv, "="), func(t *testing.T) {
			for k, v := range stateEnv(ci, "", tc.kv...) {
				t.Setenv(k, v)
			}
			_, err := parseServeConfig(nil, &syncBuffer{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}
