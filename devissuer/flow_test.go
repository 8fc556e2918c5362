package devissuer_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard/devissuer"
)

// TestCodeFlowWithThirdPartyClients runs discovery, authorization code +
// PKCE, ID token verification and userinfo with go-oidc and x/oauth2.
func TestCodeFlowWithThirdPartyClients(t *testing.T) {
	f := newFixture(t, nil)
	provider, err := oidc.NewProvider(ctx(t), f.issuerURL)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	if got, want := provider.Endpoint().TokenURL, f.endpoint("token"); got != want {
		t.Errorf("got token URL %q, want %q", got, want)
	}
	conf := f.oauthConfig(oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess, "api:read")
	conf.Endpoint = provider.Endpoint()

	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	code := f.loginCode(t, b, "state-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"))
	tok, err := conf.Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}

	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: appID}).Verify(ctx(t), rawID)
	if err != nil {
		t.Fatalf("go-oidc verify ID token: %v", err)
	}
	if idt.Nonce != "nonce-1" {
		t.Errorf("got nonce %q, want nonce-1", idt.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}
	var idc struct {
		PreferredUsername string   `json:"preferred_username"`
		Groups            []string `json:"groups"`
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "00ualice" || idc.PreferredUsername != userName || !slices.Equal(idc.Groups, []string{"Everyone", "Engineering"}) {
		t.Errorf("got ID token sub %q preferred_username %q groups %v, want 00ualice, %s, [Everyone Engineering]",
			idt.Subject, idc.PreferredUsername, idc.Groups, userName)
	}

	// The access token verifies with go-oidc as a JWT for audience api://default.
	atVerifier := provider.Verifier(&oidc.Config{ClientID: devissuer.DefaultAudience})
	if _, err := atVerifier.Verify(ctx(t), tok.AccessToken); err != nil {
		t.Errorf("go-oidc verify access token: %v", err)
	}
	at := payload(t, tok.AccessToken)
	for k, want := range map[string]any{
		"ver": 1.0, "iss": f.issuerURL, "aud": "api://default", "cid": appID, "uid": "00ualice", "sub": userName,
	} {
		if at[k] != want {
			t.Errorf("access token %s: got %v, want %v", k, at[k], want)
		}
	}
	if jti, _ := at["jti"].(string); !strings.HasPrefix(jti, "AT.") {
		t.Errorf("got jti %q, want AT.…", jti)
	}
	if scp, ok := at["scp"].([]any); !ok || len(scp) != 6 {
		t.Errorf("got scp %v, want an array of the 6 granted scopes", at["scp"])
	}
	if h := header(t, tok.AccessToken); h["alg"] != "RS256" || h["kid"] == nil || h["typ"] != nil {
		t.Errorf("got header %v, want alg RS256, a kid and no typ (as Okta)", h)
	}

	info, err := provider.UserInfo(ctx(t), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != "00ualice" || info.Email != userName {
		t.Errorf("got userinfo sub %q email %q, want 00ualice and %s", info.Subject, info.Email, userName)
	}

	// Refresh: rotated, and x/oauth2's token source uses it.
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	next, err := conf.TokenSource(ctx(t), &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if next.RefreshToken == "" || next.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token was not rotated")
	}
	if _, err := conf.TokenSource(ctx(t), &expired).Token(); err == nil {
		t.Errorf("reusing a rotated refresh token: got a token, want invalid_grant")
	} else if got := retrieveError(t, err).ErrorCode; got != "invalid_grant" {
		t.Errorf("reusing a rotated refresh token: got %q, want invalid_grant", got)
	}
	// The replay revoked the family: the newest token is dead too.
	next.Expiry = time.Now().Add(-time.Minute)
	if _, err := conf.TokenSource(ctx(t), next).Token(); err == nil {
		t.Errorf("after a replay, the family's newest refresh token still works")
	}
}

// TestClientCredentials runs x/oauth2/clientcredentials against the issuer
// with both client authentication methods.
func TestClientCredentials(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name       string
		style      oauth2.AuthStyle
		scopes     []string
		wantScopes []any
	}{
		{"basic, named scope", oauth2.AuthStyleInHeader, []string{"api:write"}, []any{"api:write"}},
		{"post, named scopes", oauth2.AuthStyleInParams, []string{"api:read", "api:write"}, []any{"api:read", "api:write"}},
		{"basic, no scope gets the default", oauth2.AuthStyleInHeader, nil, []any{"api:read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := clientcredentials.Config{ClientID: appID, ClientSecret: appSecret, TokenURL: f.endpoint("token"),
				Scopes: tt.scopes, AuthStyle: tt.style}
			tok, err := cc.Token(ctx(t))
			if err != nil {
				t.Fatalf("client credentials: %v", err)
			}
			if tok.TokenType != "Bearer" || tok.RefreshToken != "" || tok.Extra("id_token") != nil {
				t.Errorf("got type %q refresh %t id_token %v, want Bearer, none, none", tok.TokenType, tok.RefreshToken != "", tok.Extra("id_token"))
			}
			if d := time.Until(tok.Expiry); d < 59*time.Minute || d > 61*time.Minute {
				t.Errorf("got expiry in %v, want 1h", d)
			}
			c := payload(t, tok.AccessToken)
			if !slices.Equal(c["scp"].([]any), tt.wantScopes) {
				t.Errorf("got scp %v, want %v", c["scp"], tt.wantScopes)
			}
			if c["sub"] != appID || c["cid"] != appID || c["aud"] != "api://default" || c["uid"] != nil || c["groups"] != nil {
				t.Errorf("got claims %v, want sub=cid=%s, aud api://default, no uid, no groups", c, appID)
			}
		})
	}
}

// TestTokenErrors checks every refusal of the token endpoint: status, Okta's
// error code, and the JSON shape.
func TestTokenErrors(t *testing.T) {
	f := newFixture(t, nil)
	cc := func(extra url.Values) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for k, x := range extra {
			v[k] = x
		}
		return v
	}
	tests := []struct {
		name              string
		form              url.Values
		basicID, basicSec string
		wantStatus        int
		wantError         string
	}{
		{"wrong secret (basic)", cc(nil), appID, "nope", 401, "invalid_client"},
		{"wrong secret (post)", cc(url.Values{"client_id": {appID}, "client_secret": {"nope"}}), "", "", 401, "invalid_client"},
		{"unknown client", cc(url.Values{"client_id": {"who"}, "client_secret": {"x"}}), "", "", 401, "invalid_client"},
		{"no client", cc(nil), "", "", 401, "invalid_client"},
		{"missing secret", cc(url.Values{"client_id": {appID}}), "", "", 401, "invalid_client"},
		{"public client sending a secret", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}, "client_id": {"spa"}, "client_secret": {"x"}}, "", "", 401, "invalid_client"},
		{"two credentials", cc(url.Values{"client_secret": {appSecret}}), appID, appSecret, 400, "invalid_request"},
		{"unknown grant", url.Values{"grant_type": {"password"}, "username": {userName}, "password": {userPass}}, appID, appSecret, 400, "unsupported_grant_type"},
		{"no grant", url.Values{}, appID, appSecret, 400, "invalid_request"},
		{"grant not allowed", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, "machine", "machine-secret", 400, "unauthorized_client"},
		{"public client and client credentials", url.Values{"grant_type": {"client_credentials"}, "client_id": {"spa"}}, "", "", 400, "unauthorized_client"},
		{"openid in client credentials", cc(url.Values{"scope": {"openid"}}), appID, appSecret, 400, "invalid_scope"},
		{"unknown scope", cc(url.Values{"scope": {"api:admin"}}), appID, appSecret, 400, "invalid_scope"},
		{"scope not allowed for client", cc(url.Values{"scope": {"api:read"}}), "machine", "machine-secret", 400, "invalid_scope"},
		{"no scope and no default", cc(nil), "machine", "machine-secret", 400, "invalid_scope"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, appID, appSecret, 400, "invalid_request"},
		{"unknown code", url.Values{"grant_type": {"authorization_code"}, "code": {"nope"}, "redirect_uri": {appCallback}, "code_verifier": {strings.Repeat("a", 43)}}, appID, appSecret, 400, "invalid_grant"},
		{"no code", url.Values{"grant_type": {"authorization_code"}}, appID, appSecret, 400, "invalid_request"},
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, appID, appSecret, 400, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := postJSON(t, f.endpoint("token"), tt.form, tt.basicID, tt.basicSec)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
			if d, _ := body["error_description"].(string); d == "" {
				t.Errorf("got no error_description in %v", body)
			}
			if len(body) != 2 {
				t.Errorf("got fields %v, want only error and error_description", body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("got Cache-Control %q, want no-store", cc)
			}
			if tt.wantStatus == 401 && tt.basicID != "" && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("got WWW-Authenticate %q, want a Basic challenge", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("GET is refused", func(t *testing.T) {
		resp, body := get(t, http.DefaultClient, f.endpoint("token"))
		if resp.StatusCode != http.StatusMethodNotAllowed || !strings.Contains(body, "invalid_request") {
			t.Errorf("got %d %q, want 405 invalid_request", resp.StatusCode, body)
		}
	})
}

// TestCodeRedemptionErrors checks the authorization code's checks through
// x/oauth2: each case gets a fresh code.
func TestCodeRedemptionErrors(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name      string
		exchange  func(t *testing.T, code, verifier string) error
		wantError string
	}{
		{"wrong redirect URI", func(t *testing.T, code, verifier string) error {
			conf := f.oauthConfig()
			conf.RedirectURL = "http://127.0.0.1:5000/login/callback/"
			_, err := conf.Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
			return err
		}, "invalid_grant"},
		{"wrong PKCE verifier", func(t *testing.T, code, _ string) error {
			_, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
			return err
		}, "invalid_grant"},
		{"no PKCE verifier", func(t *testing.T, code, _ string) error {
			_, err := f.oauthConfig().Exchange(ctx(t), code)
			return err
		}, "invalid_request"},
		{"expired code", func(t *testing.T, code, verifier string) error {
			f.clock.Advance(devissuer.CodeTTL)
			_, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
			return err
		}, "invalid_grant"},
		{"another client's code", func(t *testing.T, code, verifier string) error {
			conf := f.oauthConfig()
			conf.ClientID, conf.ClientSecret = "other", "other-secret"
			_, err := conf.Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
			return err
		}, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := oauth2.GenerateVerifier()
			code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(verifier))
			err := tt.exchange(t, code, verifier)
			if err == nil {
				t.Fatalf("got a token, want %s", tt.wantError)
			}
			if got := retrieveError(t, err).ErrorCode; got != tt.wantError {
				t.Errorf("got error %q, want %q", got, tt.wantError)
			}
		})
	}

	t.Run("a code works just before it expires", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(verifier))
		f.clock.Advance(devissuer.CodeTTL - time.Second)
		if _, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(verifier)); err != nil {
			t.Errorf("got %v, want a token", err)
		}
	})

	t.Run("reused code fails and revokes the first exchange", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(verifier))
		conf := f.oauthConfig()
		tok, err := conf.Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("first exchange: %v", err)
		}
		if !f.introspect(t, tok.AccessToken) {
			t.Fatal("the first exchange's access token is not active")
		}
		_, err = conf.Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
		if err == nil {
			t.Fatal("second exchange: got a token, want invalid_grant")
		}
		if got := retrieveError(t, err).ErrorCode; got != "invalid_grant" {
			t.Errorf("second exchange: got %q, want invalid_grant", got)
		}
		if f.introspect(t, tok.AccessToken) {
			t.Error("after the replay, the first exchange's access token is still active")
		}
		if f.introspect(t, tok.RefreshToken) {
			t.Error("after the replay, the first exchange's refresh token is still active")
		}
	})
}

// introspect reports whether the issuer says token is active.
func (f *fixture) introspect(t *testing.T, token string) bool {
	t.Helper()
	resp, body := postJSON(t, f.endpoint("introspect"), url.Values{"token": {token}}, appID, appSecret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: got %d %v, want 200", resp.StatusCode, body)
	}
	return body["active"] == true
}

// TestBasicCredentialsEncoding accepts client_secret_basic credentials both
// form-encoded (RFC 6749 §2.3.1, as x/oauth2 sends them) and raw (as curl -u
// sends them), and refuses a wrong secret either way.
func TestBasicCredentialsEncoding(t *testing.T) {
	const id, secret = "odd client", "p+ss/w%rd:x"
	f := newFixture(t, func(c *devissuer.Config) {
		c.Clients = append(c.Clients, devissuer.Client{ID: id, Secret: secret})
	})
	tests := []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{"form-encoded", url.QueryEscape(id), url.QueryEscape(secret), http.StatusOK},
		{"raw", id, secret, http.StatusOK},
		{"raw, wrong", id, "p ss/w%rd:x", http.StatusUnauthorized},
		{"encoded, wrong", url.QueryEscape(id), url.QueryEscape("p ss/w%rd:x"), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.endpoint("token"), strings.NewReader("grant_type=client_credentials"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(tt.user, tt.pass)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}
}

// TestPublicClientCodeFlow runs the code flow for a public client (no
// secret), which PKCE alone protects, through x/oauth2.
func TestPublicClientCodeFlow(t *testing.T) {
	f := newFixture(t, nil)
	conf := &oauth2.Config{
		ClientID:    "spa",
		RedirectURL: "http://127.0.0.1:3000/cb",
		Scopes:      []string{"openid", "api:read"},
		Endpoint:    oauth2.Endpoint{AuthURL: f.endpoint("authorize"), TokenURL: f.endpoint("token"), AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	b := newBrowser(t)
	req := f.openLoginForm(t, b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	q := redirectParams(t, f.submitLogin(t, b, req, userName, userPass, "login"), conf.RedirectURL)
	if _, err := conf.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("public client with a wrong verifier: got a token, want invalid_grant")
	}
	tok, err := conf.Exchange(ctx(t), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if c := payload(t, tok.AccessToken); c["cid"] != "spa" || c["uid"] != "00ualice" {
		t.Errorf("got cid %v uid %v, want spa and 00ualice", c["cid"], c["uid"])
	}
	if tok.RefreshToken != "" {
		t.Error("got a refresh token without offline_access")
	}
}
