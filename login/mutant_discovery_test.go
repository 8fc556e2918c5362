package login_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/login"
)

// remoteIssuer is the issuer URL of TestDiscoveryDocumentChecked: a
// host that is not loopback, served over https by a local TLS server.
const remoteIssuer = "https://example.com/oauth2/default"

// goodDiscovery is a discovery document for remoteIssuer with every
// endpoint on https.
func goodDiscovery() map[string]any {
	return map[string]any{
		"issuer":                           remoteIssuer,
		"authorization_endpoint":           remoteIssuer + "/v1/authorize",
		"token_endpoint":                   remoteIssuer + "/v1/token",
		"end_session_endpoint":             remoteIssuer + "/v1/logout",
		"revocation_endpoint":              remoteIssuer + "/v1/revoke",
		"jwks_uri":                         remoteIssuer + "/v1/keys",
		"code_challenge_methods_supported": []string{"S256"},
	}
}

// TestDiscoveryDocumentChecked serves discovery documents for an https
// issuer on a host that is not loopback and checks that /login uses only
// one that names the configured issuer and keeps every endpoint on https.
func TestDiscoveryDocumentChecked(t *testing.T) {
	tests := []struct {
		name   string
		change func(doc map[string]any)
		ok     bool
	}{
		{name: "as published", change: func(map[string]any) {}, ok: true},
		{name: "another issuer", change: func(d map[string]any) { d["issuer"] = "https://evil.example/oauth2/default" }},
		{name: "another authorization server on the same host", change: func(d map[string]any) { d["issuer"] = "https://example.com/oauth2/other" }},
		{name: "no issuer", change: func(d map[string]any) { delete(d, "issuer") }},
		{name: "http authorization endpoint", change: func(d map[string]any) { d["authorization_endpoint"] = "http://example.com/oauth2/default/v1/authorize" }},
		{name: "http token endpoint", change: func(d map[string]any) { d["token_endpoint"] = "http://example.com/oauth2/default/v1/token" }},
		{name: "http end-session endpoint", change: func(d map[string]any) { d["end_session_endpoint"] = "http://example.com/oauth2/default/v1/logout" }},
		{name: "http revocation endpoint", change: func(d map[string]any) { d["revocation_endpoint"] = "http://example.com/oauth2/default/v1/revoke" }},
		{name: "relative token endpoint", change: func(d map[string]any) { d["token_endpoint"] = "/oauth2/default/v1/token" }},
		{name: "no token endpoint", change: func(d map[string]any) { delete(d, "token_endpoint") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := goodDiscovery()
			tt.change(doc)
			var fetches atomic.Int64
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/oauth2/default/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				fetches.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(doc)
			}))
			defer srv.Close()
			// The client reaches example.com:443 at the local server, whose
			// test certificate is valid for example.com.
			client := srv.Client()
			tr := client.Transport.(*http.Transport).Clone()
			tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
			}
			client.Transport = tr

			rec := firstLogin(t, login.Config{Issuer: remoteIssuer, ClientID: clientID, PublicURL: "http://127.0.0.1:5000", HTTPClient: client})
			if fetches.Load() == 0 {
				t.Fatal("the service never fetched the discovery document")
			}
			loc, _, _ := strings.Cut(rec.Header().Get("Location"), "?")
			if tt.ok {
				if rec.Code != http.StatusFound || loc != remoteIssuer+"/v1/authorize" {
					t.Errorf("GET /login: got %d Location %q, want 302 to %s/v1/authorize?…", rec.Code, loc, remoteIssuer)
				}
				return
			}
			if rec.Code != http.StatusBadGateway || loc != "" || title(rec.Body.String()) != "Sign-in failed" {
				t.Errorf("GET /login with discovery %s: got %d Location %q…, want 502 Sign-in failed and no redirect", tt.name, rec.Code, loc)
			}
		})
	}
}
