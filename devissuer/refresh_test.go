package devissuer_test

import (
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiguard/apiguard/devissuer"
)

// refreshScopes are the scopes of the grant TestRefreshInvariants refreshes.
const refreshScopes = "openid offline_access api:read"

// userTokens runs the code flow for client "app" with scope and returns
// the token response's fields.
func (f *fixture) userTokens(t *testing.T, scope string) map[string]any {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := f.codeFor(t, url.Values{"scope": {scope}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}})
	resp, body := postJSON(t, f.endpoint("token"), url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appCallback}, "code_verifier": {verifier}}, appID, appSecret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("exchange: got %d %v, want 200", resp.StatusCode, body)
	}
	if rt, _ := body["refresh_token"].(string); rt == "" {
		t.Fatalf("exchange: got no refresh token (fields %v)", slices.Sorted(maps.Keys(body)))
	}
	return body
}

// codeFor signs alice in through the form for an authorization request of
// client "app" with the given parameters changed (see authURL) and returns
// the code.
func (f *fixture) codeFor(t *testing.T, change url.Values) string {
	t.Helper()
	b := newBrowser(t)
	form := f.openLoginForm(t, b, f.authURL(change))
	resp := f.submitLogin(t, b, form, userName, userPass, "login")
	redirect := appCallback
	if r := change.Get("redirect_uri"); r != "" {
		redirect = r
	}
	q := redirectParams(t, resp, redirect)
	if q.Get("code") == "" {
		t.Fatalf("got %v, want a code", q)
	}
	return q.Get("code")
}

// refresh posts a refresh_token grant for client id (secret may be empty
// for a public client, which then names itself in the form).
func (f *fixture) refresh(t *testing.T, id, secret, token string, extra url.Values) (*http.Response, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}
	for k, v := range extra {
		form[k] = v
	}
	if secret == "" {
		form.Set("client_id", id)
		id = ""
	}
	return postJSON(t, f.endpoint("token"), form, id, secret)
}

// scp returns the "scp" claim of an access token as strings.
func scp(t *testing.T, accessToken string) []string {
	t.Helper()
	var out []string
	raw, _ := payload(t, accessToken)["scp"].([]any)
	for _, s := range raw {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// TestRefreshInvariants checks what a refresh may and may not do: the
// grant's client only, never more scopes than granted (a narrowing sticks
// to the rotated token), not after the token's life, and the same user and
// authentication time. A refused refresh leaves the token usable by its
// owner.
func TestRefreshInvariants(t *testing.T) {
	f := newFixture(t, func(c *devissuer.Config) { c.RefreshTokenTTL = 24 * time.Hour })
	refusals := []struct {
		name       string
		id, secret string
		extra      url.Values
		advance    time.Duration
		wantStatus int
		wantError  string
		ownerAfter bool // the owner can still refresh with the token
	}{
		// Kills the mutant that drops the check of requested scopes against the grant.
		{"widen with a scope the client may have", appID, appSecret, url.Values{"scope": {refreshScopes + " api:write"}}, 0, 400, "invalid_scope", true},
		{"widen with an OpenID scope", appID, appSecret, url.Values{"scope": {refreshScopes + " email"}}, 0, 400, "invalid_scope", true},
		{"swap a granted scope for another", appID, appSecret, url.Values{"scope": {"openid offline_access api:write"}}, 0, 400, "invalid_scope", true},
		// Kills the mutant that drops the check of the grant's client.
		{"another confidential client", "other", "other-secret", nil, 0, 400, "invalid_grant", true},
		{"a public client", "spa", "", nil, 0, 400, "invalid_grant", true},
		{"expired", appID, appSecret, nil, 24 * time.Hour, 400, "invalid_grant", false},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			token := f.userTokens(t, refreshScopes)["refresh_token"].(string)
			f.clock.Advance(tt.advance)
			resp, body := f.refresh(t, tt.id, tt.secret, token, tt.extra)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, body["error"], tt.wantStatus, tt.wantError)
			}
			if body["access_token"] != nil || body["refresh_token"] != nil {
				t.Errorf("got tokens in a refusal (fields %v)", slices.Sorted(maps.Keys(body)))
			}
			resp, body = f.refresh(t, appID, appSecret, token, nil)
			if got := resp.StatusCode == http.StatusOK; got != tt.ownerAfter {
				t.Errorf("the owner's refresh after the refusal: got %d %v, want success %t", resp.StatusCode, body["error"], tt.ownerAfter)
			}
		})
	}

	t.Run("a token refreshes just before it expires", func(t *testing.T) {
		token := f.userTokens(t, refreshScopes)["refresh_token"].(string)
		f.clock.Advance(24*time.Hour - time.Second)
		if resp, body := f.refresh(t, appID, appSecret, token, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("got %d %v, want 200", resp.StatusCode, body)
		}
	})

	t.Run("narrowing sticks to the rotated token", func(t *testing.T) {
		first := f.userTokens(t, refreshScopes)
		resp, body := f.refresh(t, appID, appSecret, first["refresh_token"].(string), url.Values{"scope": {"offline_access api:read"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("narrowing: got %d %v, want 200", resp.StatusCode, body)
		}
		if got, want := scp(t, body["access_token"].(string)), []string{"offline_access", "api:read"}; !slices.Equal(got, want) {
			t.Errorf("narrowed access token: got scp %v, want %v", got, want)
		}
		if body["scope"] != "offline_access api:read" || body["id_token"] != nil {
			t.Errorf("narrowed response: got scope %v id_token %v, want \"offline_access api:read\" and none", body["scope"], body["id_token"])
		}
		next, _ := body["refresh_token"].(string)
		if next == "" {
			t.Fatal("narrowing kept offline_access but got no refresh token")
		}
		// The rotated token carries the narrowed grant: openid is gone.
		resp, body = f.refresh(t, appID, appSecret, next, url.Values{"scope": {"openid offline_access"}})
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Errorf("re-widening with the rotated token: got %d %v, want 400 invalid_scope", resp.StatusCode, body["error"])
		}
		resp, body = f.refresh(t, appID, appSecret, next, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh without scope: got %d %v, want 200", resp.StatusCode, body)
		}
		if got, want := scp(t, body["access_token"].(string)), []string{"offline_access", "api:read"}; !slices.Equal(got, want) {
			t.Errorf("refresh without scope: got scp %v, want the narrowed %v", got, want)
		}
	})

	t.Run("a refresh keeps the user, client and authentication time", func(t *testing.T) {
		first := f.userTokens(t, refreshScopes)
		before := payload(t, first["access_token"].(string))
		f.clock.Advance(30 * time.Minute)
		resp, body := f.refresh(t, appID, appSecret, first["refresh_token"].(string), nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh: got %d %v, want 200", resp.StatusCode, body)
		}
		after := payload(t, body["access_token"].(string))
		for _, k := range []string{"sub", "uid", "cid", "auth_time"} {
			if after[k] != before[k] {
				t.Errorf("refreshed access token %s: got %v, want %v", k, after[k], before[k])
			}
		}
		if after["iat"] == before["iat"] {
			t.Errorf("refreshed access token iat: got %v, the first token's; want the refresh time", after["iat"])
		}
		id := payload(t, body["id_token"].(string))
		if id["sub"] != "00ualice" || id["aud"] != appID || id["auth_time"] != before["auth_time"] {
			t.Errorf("refreshed ID token: got sub %v aud %v auth_time %v, want 00ualice, %s, %v", id["sub"], id["aud"], id["auth_time"], appID, before["auth_time"])
		}
	})
}

// pkceS256 is the S256 challenge of any verifier, valid or not, so tests
// can send malformed verifiers that match their challenge.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// TestCodeExchangeInvariants adds to TestCodeRedemptionErrors the checks it
// leaves untested: the redirect URI must be sent and be the request's own
// (not merely one registered for the client), and a verifier must be a
// valid RFC 7636 verifier even when it matches the challenge.
func TestCodeExchangeInvariants(t *testing.T) {
	const second = "http://127.0.0.1:5000/other/callback"
	f := newFixture(t, func(c *devissuer.Config) {
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, second)
	})
	good := oauth2.GenerateVerifier()
	tests := []struct {
		name      string
		authorize url.Values // changes to the authorization request
		exchange  url.Values // changes to the token request; "" removes
		wantError string
	}{
		{"no redirect_uri", nil, url.Values{"redirect_uri": {""}}, "invalid_grant"},
		{"another registered redirect_uri", nil, url.Values{"redirect_uri": {second}}, "invalid_grant"},
		{"authorized with the second redirect_uri, exchanged with the first", url.Values{"redirect_uri": {second}}, url.Values{"redirect_uri": {appCallback}}, "invalid_grant"},
		{"verifier of 42 characters", url.Values{"code_challenge": {pkceS256(strings.Repeat("a", 42))}},
			url.Values{"code_verifier": {strings.Repeat("a", 42)}}, "invalid_grant"},
		{"verifier of 129 characters", url.Values{"code_challenge": {pkceS256(strings.Repeat("a", 129))}},
			url.Values{"code_verifier": {strings.Repeat("a", 129)}}, "invalid_grant"},
		{"verifier with a character outside the unreserved set", url.Values{"code_challenge": {pkceS256(strings.Repeat("a", 42) + "+")}},
			url.Values{"code_verifier": {strings.Repeat("a", 42) + "+"}}, "invalid_grant"},
		{"the challenge sent as the verifier", nil, url.Values{"code_verifier": {pkceS256(good)}}, "invalid_grant"},
		{"control: everything right", nil, nil, ""},
		{"control: the second redirect_uri in both", url.Values{"redirect_uri": {second}}, url.Values{"redirect_uri": {second}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			authorize := url.Values{"code_challenge": {pkceS256(good)}}
			for k, v := range tt.authorize {
				authorize[k] = v
			}
			code := f.codeFor(t, authorize)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appCallback}, "code_verifier": {good}}
			for k, v := range tt.exchange {
				if v[0] == "" {
					form.Del(k)
				} else {
					form[k] = v
				}
			}
			resp, body := postJSON(t, f.endpoint("token"), form, appID, appSecret)
			if tt.wantError == "" {
				if resp.StatusCode != http.StatusOK || body["access_token"] == nil {
					t.Errorf("got %d %v, want 200 and tokens", resp.StatusCode, body["error"])
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest || body["error"] != tt.wantError || body["access_token"] != nil {
				t.Errorf("got %d %v, want 400 %s", resp.StatusCode, body["error"], tt.wantError)
			}
		})
	}
}
