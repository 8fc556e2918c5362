package login_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var profileGroups = regexp.MustCompile(`<dd id="groups">(.*?)</dd>`)

// groupsShown returns the profile page's list of groups, as text.
func groupsShown(t *testing.T, body string) string {
	t.Helper()
	m := profileGroups.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no groups on the profile page:\n%s", body)
	}
	return html.UnescapeString(strings.NewReplacer("<code>", "", "</code>", "").Replace(m[1]))
}

// TestCallbackGroupsFromAccessToken: when the ID token carries no groups
// (the groups scope was not asked for) and the access verifier accepts the
// access token, the user's groups are taken from the access token.
func TestCallbackGroupsFromAccessToken(t *testing.T) {
	f := newFixture(t, fixtureOptions{scopes: []string{"openid", "profile", "email", "offline_access", "api:read"}})
	resp, body := f.login(newBrowser(t), f.apps[0], "")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
		t.Fatalf("login ended at %d %s, want 200 /profile", resp.StatusCode, resp.Request.URL)
	}
	if got := groupsShown(t, body); got != "Everyone, Engineering" {
		t.Errorf("profile shows groups %q, want the access token's: Everyone, Engineering", got)
	}
}

// TestCallbackWithoutUsableAccessToken: a login completes when there is no
// access verifier, and when the access verifier refuses the access token
// (it is logged, and the scopes come from the token response); the
// groups then come from the ID token alone.
func TestCallbackWithoutUsableAccessToken(t *testing.T) {
	t.Run("no access verifier", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{noAccessVer: true})
		resp, body := f.login(newBrowser(t), f.apps[0], "")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" || !strings.Contains(body, userFullName) {
			t.Fatalf("login ended at %d %s, want 200 /profile naming the user:\n%s", resp.StatusCode, resp.Request.URL, body)
		}
		if got := groupsShown(t, body); got != "Everyone, Engineering" {
			t.Errorf("profile shows groups %q, want the ID token's: Everyone, Engineering", got)
		}
	})
	t.Run("access token refused", func(t *testing.T) {
		f := newFixture(t, fixtureOptions{})
		hook := func(grant string, m map[string]any) {
			if grant == "authorization_code" {
				m["access_token"] = "not-a-jwt"
			}
		}
		f.tokenHook.Store(&hook)
		resp, body := f.login(newBrowser(t), f.apps[0], "")
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" || !strings.Contains(body, userFullName) {
			t.Fatalf("login ended at %d %s, want 200 /profile naming the user:\n%s", resp.StatusCode, resp.Request.URL, body)
		}
		if !strings.Contains(body, "<code>api:read</code>") {
			t.Errorf("profile lacks the token response's scope api:read:\n%s", body)
		}
	})
}
