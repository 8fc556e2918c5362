package devissuer_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// authURL builds an authorization request for client "app" with the given
// parameters changed (an empty value removes the parameter).
func (f *fixture) authURL(change url.Values) string {
	q := url.Values{
		"client_id":             {appID},
		"redirect_uri":          {appCallback},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"state":                 {"st"},
		"nonce":                 {"n"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())},
		"code_challenge_method": {"S256"},
	}
	for k, v := range change {
		if v[0] == "" {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return f.endpoint("authorize") + "?" + q.Encode()
}

// TestAuthorizeErrors checks that an untrusted client or redirect URI gets
// an error page (never a redirect), and every other error is sent to the
// redirect URI with state.
func TestAuthorizeErrors(t *testing.T) {
	f := newFixture(t, nil)
	pages := []struct {
		name   string
		change url.Values
	}{
		{"unknown client", url.Values{"client_id": {"who"}}},
		{"no client", url.Values{"client_id": {""}}},
		{"unregistered redirect URI", url.Values{"redirect_uri": {"http://evil.example/cb"}}},
		{"redirect URI with a trailing slash", url.Values{"redirect_uri": {appCallback + "/"}}},
		{"redirect URI with a query", url.Values{"redirect_uri": {appCallback + "?x=1"}}},
		{"no redirect URI", url.Values{"redirect_uri": {""}}},
		{"repeated client_id", url.Values{"client_id": {appID, appID}}},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, newBrowser(t), f.authURL(tt.change))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Fatalf("got %d Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if !strings.Contains(body, "invalid_") {
				t.Errorf("got page %q, want an error code on it", body)
			}
		})
	}

	redirects := []struct {
		name      string
		change    url.Values
		wantError string
		wantState string
	}{
		{"no state", url.Values{"state": {""}}, "invalid_request", ""},
		{"token response type", url.Values{"response_type": {"token"}}, "unsupported_response_type", "st"},
		{"fragment response mode", url.Values{"response_mode": {"fragment"}}, "invalid_request", "st"},
		{"no PKCE", url.Values{"code_challenge": {""}, "code_challenge_method": {""}}, "invalid_request", "st"},
		{"plain PKCE", url.Values{"code_challenge_method": {"plain"}}, "invalid_request", "st"},
		{"malformed challenge", url.Values{"code_challenge": {"short"}}, "invalid_request", "st"},
		{"no scope", url.Values{"scope": {""}}, "invalid_scope", "st"},
		{"unknown scope", url.Values{"scope": {"openid api:admin"}}, "invalid_scope", "st"},
		{"request object", url.Values{"request": {"x.y.z"}}, "request_not_supported", "st"},
		{"unknown prompt", url.Values{"prompt": {"select_account"}}, "invalid_request", "st"},
		{"prompt=none without a session", url.Values{"prompt": {"none"}}, "login_required", "st"},
	}
	for _, tt := range redirects {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := get(t, newBrowser(t), f.authURL(tt.change))
			q := redirectParams(t, resp, appCallback)
			if q.Get("error") != tt.wantError || q.Get("state") != tt.wantState || q.Get("code") != "" {
				t.Errorf("got %v, want error %s, state %q, no code", q, tt.wantError, tt.wantState)
			}
			if q.Get("error_description") == "" {
				t.Errorf("got no error_description in %v", q)
			}
		})
	}
}

// TestLoginForm checks the form: a wrong password keeps the user on it,
// Cancel sends access_denied, and a used or unknown request is refused.
func TestLoginForm(t *testing.T) {
	f := newFixture(t, nil)
	tests := []struct {
		name               string
		username, password string
		action             string
		wantStatus         int
		wantError          string // in the redirect
	}{
		{"wrong password", userName, "wrong", "login", http.StatusUnauthorized, ""},
		{"unknown user", "bob@example.com", userPass, "login", http.StatusUnauthorized, ""},
		{"empty password", userName, "", "login", http.StatusUnauthorized, ""},
		{"cancel", "", "", "cancel", http.StatusSeeOther, "access_denied"},
		{"right password", userName, userPass, "login", http.StatusSeeOther, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			req := f.openLoginForm(t, b, f.authURL(nil))
			resp := f.submitLogin(t, b, req, tt.username, tt.password, tt.action)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusSeeOther {
				// The form is still usable after a failed attempt.
				resp := f.submitLogin(t, b, req, userName, userPass, "login")
				redirectParams(t, resp, appCallback)
				return
			}
			q := redirectParams(t, resp, appCallback)
			if q.Get("error") != tt.wantError || q.Get("state") != "st" {
				t.Errorf("got %v, want error %q and state st", q, tt.wantError)
			}
			// The request is single-use.
			again := f.submitLogin(t, b, req, userName, userPass, "login")
			if again.StatusCode != http.StatusBadRequest {
				t.Errorf("reused login request: got %d, want 400", again.StatusCode)
			}
		})
	}

	t.Run("expired form", func(t *testing.T) {
		b := newBrowser(t)
		req := f.openLoginForm(t, b, f.authURL(nil))
		f.clock.Advance(11 * time.Minute)
		if resp := f.submitLogin(t, b, req, userName, userPass, "login"); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("got %d, want 400", resp.StatusCode)
		}
	})
}

// TestSessionAndLogout checks single sign-on through the issuer's session
// and RP-initiated logout ending it.
func TestSessionAndLogout(t *testing.T) {
	f := newFixture(t, nil)
	b := newBrowser(t)
	tok := f.signIn(t, b)
	idToken, _ := tok.Extra("id_token").(string)

	// With a session, prompt=none returns a code at once; prompt=login asks again.
	resp, _ := get(t, b, f.authURL(url.Values{"prompt": {"none"}}))
	if q := redirectParams(t, resp, appCallback); q.Get("code") == "" {
		t.Errorf("prompt=none with a session: got %v, want a code", q)
	}
	f.openLoginForm(t, b, f.authURL(url.Values{"prompt": {"login"}}))

	logout := func(params url.Values) (*http.Response, string) {
		return get(t, b, f.endpoint("logout")+"?"+params.Encode())
	}
	refusals := []struct {
		name   string
		params url.Values
	}{
		{"no id_token_hint", url.Values{"post_logout_redirect_uri": {appLogout}}},
		{"forged id_token_hint", url.Values{"id_token_hint": {idToken[:len(idToken)-4] + "AAAA"}, "post_logout_redirect_uri": {appLogout}}},
		{"access token as hint", url.Values{"id_token_hint": {tok.AccessToken}, "post_logout_redirect_uri": {appLogout}}},
		{"unregistered post_logout_redirect_uri", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://evil.example/"}}},
		{"sign-in URI as post_logout_redirect_uri", url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appCallback}}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := logout(tt.params)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("got %d Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
		})
	}
	// Refused logouts left the session alone.
	resp, _ = get(t, b, f.authURL(url.Values{"prompt": {"none"}}))
	if q := redirectParams(t, resp, appCallback); q.Get("code") == "" {
		t.Fatalf("after refused logouts: got %v, want the session to live", q)
	}

	// An expired ID token is still a good hint, as at Okta; the session
	// (2h) outlives it (1h), so only the logout can end the session.
	f.clock.Advance(61 * time.Minute)
	resp, _ = logout(url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appLogout}, "state": {"bye"}})
	if q := redirectParams(t, resp, appLogout); q.Get("state") != "bye" {
		t.Errorf("got %v, want state bye", q)
	}
	resp, _ = get(t, b, f.authURL(url.Values{"prompt": {"none"}}))
	if q := redirectParams(t, resp, appCallback); q.Get("error") != "login_required" {
		t.Errorf("after logout, prompt=none: got %v, want login_required", q)
	}

	t.Run("without post_logout_redirect_uri", func(t *testing.T) {
		resp, body := logout(url.Values{"id_token_hint": {idToken}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "signed out") {
			t.Errorf("got %d %q, want 200 and a signed-out page", resp.StatusCode, body)
		}
	})
}

// TestPendingLoginsAreBounded keeps a loop of authorization requests from
// growing memory: past the bound the form is refused until forms expire.
func TestPendingLoginsAreBounded(t *testing.T) {
	f := newFixture(t, nil)
	u := f.authURL(nil)
	status := func() int {
		rec := httptest.NewRecorder()
		f.iss.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		return rec.Code
	}
	for i := range 10000 {
		if got := status(); got != http.StatusOK {
			t.Fatalf("form %d: got %d, want 200", i+1, got)
		}
	}
	if got := status(); got != http.StatusServiceUnavailable {
		t.Errorf("form 10001: got %d, want 503", got)
	}
	f.clock.Advance(11 * time.Minute)
	if got := status(); got != http.StatusOK {
		t.Errorf("after the forms expired: got %d, want 200", got)
	}
}
