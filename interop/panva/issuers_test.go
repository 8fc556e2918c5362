package panva_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/introspect"
)

// devToken starts a development issuer with one client-credentials client
// and returns it with a token it issued.
func devToken(t *testing.T, client string) (*devissuertest.Server, string) {
	t.Helper()
	secret := client + "-secret-0123456789"
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: client, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := devissuertest.NewServer(t, cfg)
	cc := clientcredentials.Config{ClientID: client, ClientSecret: secret, TokenURL: srv.Endpoint("token"), AuthStyle: oauth2.AuthStyleInHeader}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return srv, tok.AccessToken
}

// TestSeveralIssuers runs one apiguard.Issuers over three authorization
// servers in this process's test: the development issuer (JWT access
// tokens, verified locally), panva's oidc-provider (opaque access tokens,
// introspected) and a development issuer that is down from the start
// (configured to introspect too). Behind one middleware, each issuer's
// tokens pass where the route accepts that issuer and are refused where
// not, and the down issuer gives 503 for its own tokens, and for opaque
// tokens no reachable issuer vouches for, never for the others'.
func TestSeveralIssuers(t *testing.T) {
	panva := startProvider(t)
	opaque := codeFlow(t, panva)
	dev, devTok := devToken(t, "employee-app")
	legacy, legacyTok := devToken(t, "legacy-app")
	legacy.HTTP.Close()

	introspectWith := func(id, secret string) func(*apiguard.Verifier) (apiguard.TokenVerifier, error) {
		return func(v *apiguard.Verifier) (apiguard.TokenVerifier, error) {
			return introspect.New(v, introspect.Config{ClientID: id, ClientSecret: secret, MaxCacheTTL: -1, Timeout: 2 * time.Second})
		}
	}
	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "employees", Issuer: dev.URL}},
		apiguard.Issuer{Config: apiguard.Config{Name: "partners", Issuer: panva, Audience: resource},
			Introspect: introspectWith(rsID, rsSecret)},
		apiguard.Issuer{Config: apiguard.Config{Name: "legacy", Issuer: legacy.URL, FetchTimeout: 2 * time.Second},
			Introspect: introspectWith("legacy-rs", "legacy-rs-secret")},
	)
	if err != nil {
		t.Fatal(err)
	}
	onlyPartners, err := m.Only("partners")
	if err != nil {
		t.Fatal(err)
	}
	onlyEmployees, err := m.Only("employees")
	if err != nil {
		t.Fatal(err)
	}
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := apiguard.ClaimsFromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": c.IssuerName, "sub": c.Subject})
	})
	mux := http.NewServeMux()
	mux.Handle("/any", (&apiguard.Middleware{Verifier: m}).Handler(who))
	mux.Handle("/partners", (&apiguard.Middleware{Verifier: onlyPartners}).Handler(who))
	mux.Handle("/employees", (&apiguard.Middleware{Verifier: onlyEmployees}).Handler(who))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		path, what, token string
		status            int
		issuer            string
	}{
		{"/any", "panva's opaque access token", opaque.AccessToken, 200, "partners"},
		{"/any", "the development issuer's JWT", devTok, 200, "employees"},
		{"/any", "the down issuer's JWT", legacyTok, 503, ""},
		{"/any", "panva's refresh token", opaque.RefreshToken, 401, ""},
		// panva says inactive, the down issuer cannot be asked: 503, not 401.
		{"/any", "an opaque token nobody issued", "made-up-opaque-token", 503, ""},
		{"/partners", "panva's opaque access token", opaque.AccessToken, 200, "partners"},
		{"/partners", "the development issuer's JWT", devTok, 401, ""},
		{"/partners", "the down issuer's JWT", legacyTok, 401, ""},
		{"/partners", "an opaque token nobody issued", "made-up-opaque-token", 401, ""},
		{"/employees", "the development issuer's JWT", devTok, 200, "employees"},
		{"/employees", "panva's opaque access token", opaque.AccessToken, 401, ""},
		{"/employees", "the down issuer's JWT", legacyTok, 401, ""},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+tc.token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s with %s: status %d (%v), want %d", tc.path, tc.what, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.status == 200 && body["issuer"] != tc.issuer {
			t.Errorf("%s with %s: verified by %q, want %q", tc.path, tc.what, body["issuer"], tc.issuer)
		}
		if tc.status == 200 && tc.issuer == "partners" && body["sub"] != "alice" {
			t.Errorf("%s with %s: sub %q, want alice", tc.path, tc.what, body["sub"])
		}
	}
}
