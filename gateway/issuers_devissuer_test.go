package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/gateway"
)

// Holds R-ISS-4.

// devIssuer starts a development issuer with one client-credentials client
// and counts the requests it gets.
func devIssuer(t *testing.T, client string) (*devissuertest.Server, clientcredentials.Config, *atomic.Int64) {
	t.Helper()
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: client, ClientSecret: client + "-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	hits := new(atomic.Int64)
	srv := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1); h.ServeHTTP(w, r) })
	}))
	return srv, clientcredentials.Config{ClientID: client, ClientSecret: client + "-secret-0123456789",
		TokenURL: srv.Endpoint("token"), AuthStyle: oauth2.AuthStyleInHeader}, hits
}

func ccToken(t *testing.T, cc clientcredentials.Config) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials at %s: %v", cc.TokenURL, err)
	}
	return tok.AccessToken
}

// TestIssuersRealDevIssuers runs a gateway over two development issuers
// (separate processes' worth of keys, each its own authorization server)
// and a third issuer that is down from the start, through its proxy and
// /auth: each issuer's tokens pass where the route accepts it and are
// refused where not, and the down issuer costs 503 only for its own tokens
// on the routes that accept it.
func TestIssuersRealDevIssuers(t *testing.T) {
	emp, empCC, empHits := devIssuer(t, "employee-app")
	par, parCC, parHits := devIssuer(t, "partner-app")
	// The third: a development issuer whose server is closed before the
	// gateway starts, so its token is real and its keys are out of reach.
	leg, legCC, _ := devIssuer(t, "legacy-app")
	legToken := ccToken(t, legCC)
	leg.HTTP.Close()

	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "employees", Issuer: emp.URL}},
		apiguard.Issuer{Config: apiguard.Config{Name: "partners", Issuer: par.URL, ClientIDs: []string{"partner-app"}}},
		apiguard.Issuer{Config: apiguard.Config{Name: "legacy", Issuer: leg.URL, FetchTimeout: time.Second}},
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

	empToken, parToken := ccToken(t, empCC), ccToken(t, parCC)
	parBefore := parHits.Load()
	type want struct {
		status int
		issuer string // X-Auth-Issuer on passes
	}
	cases := []struct {
		path, who, token string
		want
	}{
		{"/partners/x", "partners", parToken, want{200, par.URL}},
		{"/partners/x", "employees", empToken, want{401, ""}},
		{"/partners/x", "legacy", legToken, want{401, ""}},
		{"/staff/x", "employees", empToken, want{200, emp.URL}},
		{"/staff/x", "partners", parToken, want{401, ""}},
		{"/staff/x", "legacy", legToken, want{503, ""}},
		{"/any/x", "employees", empToken, want{200, emp.URL}},
		{"/any/x", "partners", parToken, want{200, par.URL}},
		{"/any/x", "legacy", legToken, want{503, ""}},
	}
	for _, tc := range cases {
		for _, via := range []string{"proxy", "auth"} {
			var req *http.Request
			if via == "proxy" {
				req, _ = http.NewRequest("GET", srv.URL+tc.path, nil)
			} else {
				req, _ = http.NewRequest("GET", srv.URL+"/auth", nil)
				req.Header.Set("X-Original-Method", "GET")
				req.Header.Set("X-Original-Uri", tc.path)
			}
			req.Header.Set("Authorization", "Bearer "+tc.token)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s, token of %s: status %d, want %d", via, tc.path, tc.who, resp.StatusCode, tc.status)
				continue
			}
			switch {
			case tc.status == 401:
				ch := resp.Header.Get("WWW-Authenticate")
				if via == "auth" { // nginx gets the challenge in a header of its own
					ch = resp.Header.Get(gateway.HeaderAuthBearerChallenge)
				}
				if !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, "issuer "+tc.who+" is not accepted here") {
					t.Errorf("%s %s, token of %s: challenge %q", via, tc.path, tc.who, ch)
				}
			case via == "auth" && tc.status == 200:
				if got := resp.Header.Get(gateway.HeaderIssuer); got != tc.issuer {
					t.Errorf("/auth %s, token of %s: X-Auth-Issuer %q, want %q", tc.path, tc.who, got, tc.issuer)
				}
			}
		}
	}
	// The partners issuer was asked for its keys for its own tokens only:
	// an employees token on /partners never reached it.
	if n := parHits.Load() - parBefore; n > 2 {
		t.Errorf("the partners issuer got %d requests, want discovery and keys once (2)", n)
	}
	if empHits.Load() == 0 {
		t.Error("the employees issuer was never asked for keys")
	}
}
