package login_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var profileScopes = regexp.MustCompile(`<dd id="scopes">(.*?)</dd>`)

// scopesShown returns the profile page's list of scopes, as text.
func scopesShown(t *testing.T, body string) string {
	t.Helper()
	m := profileScopes.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no scopes on the profile page:\n%s", body)
	}
	return strings.NewReplacer("<code>", "", "</code>", "").Replace(m[1])
}

// TestRefreshKeepsScopesWhenLeftOut: a refresh response without "scope"
// keeps the scopes the session had (RFC 6749 §5.1: the scope is then the
// one requested, unchanged); one with "scope" replaces them. Without an
// access verifier the profile shows the session's scopes.
func TestRefreshKeepsScopesWhenLeftOut(t *testing.T) {
	f := newFixture(t, fixtureOptions{noAccessVer: true, idle: 2 * time.Hour, absolute: 8 * time.Hour})
	a := f.apps[0]
	b := newBrowser(t)
	_, body := f.login(b, a, "")
	const all = "openid, profile, email, groups, offline_access, api:read"
	if got := scopesShown(t, body); got != all {
		t.Fatalf("after login the profile shows scopes %q, want %q", got, all)
	}
	hook := func(grant string, m map[string]any) {
		if grant == "refresh_token" {
			if f.refreshes.Load() == 1 {
				delete(m, "scope")
			} else {
				m["scope"] = "openid api:read"
			}
		}
	}
	f.tokenHook.Store(&hook)
	for i, want := range []string{all, "openid, api:read"} {
		f.clock.Advance(59 * time.Minute) // 1 minute left: refresh
		resp, body := b.getNoFollow(a.url("/profile"))
		if resp.StatusCode != http.StatusOK || f.refreshes.Load() != int64(i+1) {
			t.Fatalf("refresh %d: /profile %d after %d refreshes, want 200 after %d", i+1, resp.StatusCode, f.refreshes.Load(), i+1)
		}
		if got := scopesShown(t, body); got != want {
			t.Errorf("refresh %d: the profile shows scopes %q, want %q", i+1, got, want)
		}
	}
}
