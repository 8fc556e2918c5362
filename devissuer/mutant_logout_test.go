package devissuer_test

import (
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestLogoutDeletesSessionCookie: logout tells the browser to delete its
// session cookie at once (Max-Age=0), not to keep an empty one for a while.
func TestLogoutDeletesSessionCookie(t *testing.T) {
	f := newFixture(t, nil)
	b := newBrowser(t)
	verifier := oauth2.GenerateVerifier()
	code := f.loginCode(t, b, "s1", oauth2.S256ChallengeOption(verifier))
	tok, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idToken, _ := tok.Extra("id_token").(string)
	resp, _ := get(t, b, f.endpoint("logout")+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appLogout}}.Encode())
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "devissuer_session" {
			found = true
			if c.Value != "" || c.MaxAge >= 0 {
				t.Errorf("logout's session cookie: value %q Max-Age %d, want empty and deleted now (MaxAge < 0)", c.Value, c.MaxAge)
			}
		}
	}
	if !found || resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Errorf("logout: got %d, cookie set %v; want a redirect deleting the session cookie", resp.StatusCode, found)
	}
}
