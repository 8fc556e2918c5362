package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
)

// newTokenTestIssuer serves a development issuer with client "cli" (secret
// "cli-secret", allowed api:read, default) and client "web" (no client
// credentials grant).
func newTokenTestIssuer(t *testing.T) string {
	t.Helper()
	return devissuertest.NewServer(t, devissuer.Config{
		Scopes: []devissuer.Scope{{Name: "api:read", Default: true}, {Name: "api:admin"}},
		Clients: []devissuer.Client{
			{ID: "cli", Secret: "cli-secret", Scopes: []string{"api:read"}},
			{ID: "web", Secret: "web-secret", GrantTypes: []string{devissuer.GrantAuthorizationCode}},
		},
	}).URL
}

func TestTokenCommand(t *testing.T) {
	clearOktaEnv(t)
	iss := newTokenTestIssuer(t)
	closed := func() string { // an address nothing listens on
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/oauth2/default"
	}()
	okArgs := []string{"--issuer", iss, "--client-id", "cli", "--client-secret", "cli-secret"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string // in stderr (or stdout when wantCode is 0)
	}{
		{"default scope, basic", okArgs, 0, []string{"eyJ"}},
		{"post", append(okArgs, "--auth", "post"), 0, []string{"eyJ"}},
		{"token URL without discovery", []string{"--token-url", iss + "/v1/token", "--client-id", "cli", "--client-secret", "cli-secret"}, 0, []string{"eyJ"}},
		{"wrong secret", []string{"--issuer", iss, "--client-id", "cli", "--client-secret", "nope-secret"}, 1,
			[]string{"invalid_client", "OKTA_CLIENT_SECRET"}},
		{"openid, as in the tutorial", append(okArgs, "--scope", "openid"), 1, []string{"invalid_scope", "drop openid"}},
		{"scope not allowed", append(okArgs, "--scope", "api:admin"), 1, []string{"invalid_scope"}},
		{"grant not allowed", []string{"--issuer", iss, "--client-id", "web", "--client-secret", "web-secret"}, 1,
			[]string{"unauthorized_client", "Client Credentials grant"}},
		{"issuer with a trailing slash", []string{"--issuer", iss + "/", "--client-id", "cli", "--client-secret", "cli-secret"}, 1,
			[]string{"names issuer", iss}},
		{"not an issuer", []string{"--issuer", strings.TrimSuffix(iss, "/oauth2/default"), "--client-id", "cli", "--client-secret", "cli-secret"}, 1,
			[]string{"status 404"}},
		{"issuer down", []string{"--issuer", closed, "--client-id", "cli", "--client-secret", "cli-secret"}, 1, []string{"failed to fetch"}},
		{"no issuer", []string{"--client-id", "cli", "--client-secret", "cli-secret"}, 2, []string{"OKTA_ISSUER (--issuer)"}},
		{"placeholder issuer", []string{"--issuer", "https://your-okta-domain/oauth2/default", "--client-id", "c", "--client-secret", "s"}, 2,
			[]string{"--issuer: ", "placeholder"}},
		{"no client id", []string{"--issuer", iss, "--client-secret", "s"}, 2, []string{"OKTA_CLIENT_ID (--client-id)"}},
		{"no secret", []string{"--issuer", iss, "--client-id", "cli"}, 2, []string{"OKTA_CLIENT_SECRET (--client-secret)"}},
		{"bad auth", append(okArgs, "--auth", "jwt"), 2, []string{"--auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"token"}, tt.args...), nil, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("got exit %d (stdout %q, stderr %q), want %d", code, stdout.String(), stderr.String(), tt.wantCode)
			}
			out := stderr.String()
			if tt.wantCode == 0 {
				out = stdout.String()
				if c := jwtClaims(t, out); c["cid"] != "cli" {
					t.Errorf("got cid %v, want cli", c["cid"])
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got %q, want it to contain %q", out, w)
				}
			}
			if strings.Contains(stderr.String(), "nope-secret") || strings.Contains(stderr.String(), "cli-secret") {
				t.Errorf("stderr shows the client secret: %q", stderr.String())
			}
		})
	}
}

// TestTokenCommandNonOAuthError checks the error line for a refusal that
// is not OAuth-shaped, as from a proxy in front of the issuer.
func TestTokenCommandNonOAuthError(t *testing.T) {
	clearOktaEnv(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"token", "--token-url", srv.URL + "/token", "--client-id", "c", "--client-secret", "s"},
		nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "status 502") || strings.Contains(stderr.String(), "<html>") {
		t.Errorf("got exit %d stderr %q, want 1 and one line with status 502 and no body", code, stderr.String())
	}
}
