package devissuer_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
)

// TestBasicClientIDMustMatch: a client authenticated with Basic may also
// name itself in the form's client_id, but only as that same client; any
// other client_id is refused as invalid_request.
func TestBasicClientIDMustMatch(t *testing.T) {
	f := newFixture(t, nil)
	for _, tt := range []struct {
		clientID string
		status   int
		err      string
	}{
		{"machine", 200, ""},
		{appID, 400, "invalid_request"},
	} {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:write"}, "client_id": {tt.clientID}}
		resp, body := postJSON(t, f.endpoint("token"), form, "machine", "machine-secret")
		if resp.StatusCode != tt.status || tt.err != "" && body["error"] != tt.err || tt.err == "" && body["access_token"] == nil {
			t.Errorf("Basic machine with client_id %s: got %d %v, want %d %s", tt.clientID, resp.StatusCode, body, tt.status, tt.err)
		}
	}
}

// TestScopeRefusalNamesTheCause: a scope the server does not define and a
// defined scope the client may not ask for are both invalid_scope, each with
// its own description (as Okta words them).
func TestScopeRefusalNamesTheCause(t *testing.T) {
	f := newFixture(t, nil)
	for scope, want := range map[string]string{
		"api:delete": "One or more scopes are not configured for the authorization server resource.",
		"api:read":   "The client is not allowed the scope 'api:read'.",
	} {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope}}
		resp, body := postJSON(t, f.endpoint("token"), form, "machine", "machine-secret")
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" || body["error_description"] != want {
			t.Errorf("scope %s: got %d %v, want 400 invalid_scope %q", scope, resp.StatusCode, body, want)
		}
	}
}

// TestExpiresInIsAccessTokenTTL: expires_in of every grant's response is
// the access token's life in seconds.
func TestExpiresInIsAccessTokenTTL(t *testing.T) {
	f := newFixture(t, func(c *devissuer.Config) { c.AccessTokenTTL = 10 * time.Minute })
	code := f.userTokens(t, refreshScopes)
	_, refreshed := f.refresh(t, appID, appSecret, code["refresh_token"].(string), nil)
	_, machine := postJSON(t, f.endpoint("token"), url.Values{"grant_type": {"client_credentials"}, "scope": {"api:write"}}, "machine", "machine-secret")
	for grant, body := range map[string]map[string]any{"authorization_code": code, "refresh_token": refreshed, "client_credentials": machine} {
		if body["expires_in"] != 600.0 {
			t.Errorf("%s: got expires_in %v, want 600 (AccessTokenTTL 10 min)", grant, body["expires_in"])
		}
	}
}
