package devissuer_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

func TestDiscovery(t *testing.T) {
	f := newFixture(t, nil)
	for _, doc := range []string{"openid-configuration", "oauth-authorization-server"} {
		t.Run(doc, func(t *testing.T) {
			resp, body := get(t, http.DefaultClient, f.issuerURL+"/.well-known/"+doc)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d, want 200", resp.StatusCode)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(body), &m); err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"issuer":                 f.issuerURL,
				"authorization_endpoint": f.endpoint("authorize"),
				"token_endpoint":         f.endpoint("token"),
				"jwks_uri":               f.endpoint("keys"),
				"introspection_endpoint": f.endpoint("introspect"),
				"revocation_endpoint":    f.endpoint("revoke"),
				"end_session_endpoint":   f.endpoint("logout"),
			}
			if doc == "openid-configuration" {
				want["userinfo_endpoint"] = f.endpoint("userinfo")
			}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s: got %v, want %v", k, m[k], v)
				}
			}
			if got := m["code_challenge_methods_supported"]; len(got.([]any)) != 1 || got.([]any)[0] != "S256" {
				t.Errorf("code_challenge_methods_supported: got %v, want [S256]", got)
			}
		})
	}
	t.Run("other paths are 404", func(t *testing.T) {
		for _, p := range []string{"/oauth2/default/v1/nothing", "/oauth2/other/v1/keys", "/v1/keys"} {
			resp, _ := get(t, http.DefaultClient, f.srv.URL+p)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: got %d, want 404", p, resp.StatusCode)
			}
		}
	})
}

func TestKeys(t *testing.T) {
	f := newFixture(t, nil)
	resp, body := get(t, http.DefaultClient, f.endpoint("keys"))
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=300") {
		t.Errorf("got Cache-Control %q, want max-age=300", cc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("got %d keys, want 2 (active and next)", len(set.Keys))
	}
	for _, k := range set.Keys {
		if k.KeyID == "" || k.Use != "sig" || k.Algorithm != "RS256" || !k.IsPublic() {
			t.Errorf("got key kid %q use %q alg %q public %t, want a kid, sig, RS256, public", k.KeyID, k.Use, k.Algorithm, k.IsPublic())
		}
	}
	if strings.Contains(body, `"d"`) || strings.Contains(body, `"p"`) {
		t.Error("the key set carries private key material")
	}
}

func TestUserinfoErrors(t *testing.T) {
	f := newFixture(t, nil)
	cc, err := (&clientcredentials.Config{ClientID: appID, ClientSecret: appSecret, TokenURL: f.endpoint("token")}).Token(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	v := oauth2.GenerateVerifier()
	code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(v))
	user, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := user.Extra("id_token").(string)
	tests := []struct {
		name       string
		auth       string
		wantStatus int
		wantError  string
	}{
		{"no token", "", 401, ""},
		{"garbage", "Bearer x.y.z", 401, "invalid_token"},
		{"ID token", "Bearer " + idToken, 401, "invalid_token"},
		{"client credentials token", "Bearer " + cc.AccessToken, 403, "insufficient_scope"},
		{"user token, lower-case scheme", "bearer " + user.AccessToken, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, f.endpoint("userinfo"), nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			challenge := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != 200 && (!strings.HasPrefix(challenge, "Bearer ") || !strings.Contains(challenge, tt.wantError)) {
				t.Errorf("got WWW-Authenticate %q, want Bearer with %q", challenge, tt.wantError)
			}
		})
	}
}

func TestIntrospectAndRevoke(t *testing.T) {
	f := newFixture(t, nil)
	get := func(clientID, secret string) *oauth2.Token {
		tok, err := (&clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: f.endpoint("token"),
			Scopes: []string{"api:write"}}).Token(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := get(appID, appSecret)

	resp, body := postJSON(t, f.endpoint("introspect"), url.Values{"token": {tok.AccessToken}}, "machine", "machine-secret")
	if resp.StatusCode != 200 || body["active"] != true || body["scope"] != "api:write" || body["client_id"] != appID ||
		body["token_type"] != "Bearer" || body["exp"] == nil {
		t.Errorf("introspect a fresh token: got %d %v, want active, scope api:write, client_id app", resp.StatusCode, body)
	}

	refusals := []struct {
		name       string
		endpoint   string
		form       url.Values
		id, secret string
		wantStatus int
		wantError  string
	}{
		{"introspect without client", "introspect", url.Values{"token": {tok.AccessToken}}, "", "", 401, "invalid_client"},
		{"introspect with a wrong secret", "introspect", url.Values{"token": {tok.AccessToken}}, appID, "x", 401, "invalid_client"},
		{"introspect without token", "introspect", url.Values{}, appID, appSecret, 400, "invalid_request"},
		{"revoke without client", "revoke", url.Values{"token": {tok.AccessToken}}, "", "", 401, "invalid_client"},
		{"revoke without token", "revoke", url.Values{}, appID, appSecret, 400, "invalid_request"},
		{"revoke another client's token", "revoke", url.Values{"token": {tok.AccessToken}}, "machine", "machine-secret", 400, "invalid_request"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := postJSON(t, f.endpoint(tt.endpoint), tt.form, tt.id, tt.secret)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Errorf("got %d %v, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
		})
	}
	if !f.introspect(t, tok.AccessToken) {
		t.Fatal("a refused revocation revoked the token")
	}

	t.Run("unknown token", func(t *testing.T) {
		resp, body := postJSON(t, f.endpoint("revoke"), url.Values{"token": {"nope"}}, appID, appSecret)
		if resp.StatusCode != 200 {
			t.Errorf("revoke unknown: got %d %v, want 200", resp.StatusCode, body)
		}
		if f.introspect(t, "nope") {
			t.Error("introspect unknown: got active")
		}
	})

	t.Run("revoked access token", func(t *testing.T) {
		other := get(appID, appSecret)
		resp, _ := postJSON(t, f.endpoint("revoke"), url.Values{"token": {tok.AccessToken}, "token_type_hint": {"access_token"}}, appID, appSecret)
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: got %d, want 200", resp.StatusCode)
		}
		if f.introspect(t, tok.AccessToken) {
			t.Error("a revoked token is still active")
		}
		if !f.introspect(t, other.AccessToken) {
			t.Error("revoking one token revoked another")
		}
	})

	t.Run("expired access token", func(t *testing.T) {
		fresh := get(appID, appSecret)
		f.clock.Advance(61 * time.Minute)
		if f.introspect(t, fresh.AccessToken) {
			t.Error("an expired token is active")
		}
	})

	t.Run("refresh token", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(v))
		user, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		_, body := postJSON(t, f.endpoint("introspect"), url.Values{"token": {user.RefreshToken}}, appID, appSecret)
		if body["active"] != true || body["token_type"] != "refresh_token" || body["username"] != userName {
			t.Errorf("got %v, want an active refresh token of %s", body, userName)
		}
		resp, _ := postJSON(t, f.endpoint("revoke"), url.Values{"token": {user.RefreshToken}}, appID, appSecret)
		if resp.StatusCode != 200 {
			t.Fatalf("revoke: got %d, want 200", resp.StatusCode)
		}
		if f.introspect(t, user.RefreshToken) {
			t.Error("a revoked refresh token is active")
		}
		user.Expiry = time.Now().Add(-time.Minute)
		if _, err := f.oauthConfig().TokenSource(ctx(t), user).Token(); err == nil {
			t.Error("a revoked refresh token still refreshes")
		}
	})
}
