package login_test

import (
	"net/http"
	"testing"
)

// TestPagesWithoutRetryAfter: only the "unavailable" pages carry
// Retry-After; a page that is not a 503 (the profile, the logout page, a
// refused return address) has none, so no client or proxy reads it as
// "come back later".
func TestPagesWithoutRetryAfter(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	if resp, _ := b.getNoFollow(a.url("/logout")); resp.StatusCode != http.StatusOK || resp.Header.Values("Retry-After") != nil {
		t.Errorf("GET /logout without a session: %d Retry-After %q, want 200 and none", resp.StatusCode, resp.Header.Values("Retry-After"))
	}
	if resp, _ := b.getNoFollow(a.url("/login?return_to=//evil.example")); resp.StatusCode != http.StatusBadRequest || resp.Header.Values("Retry-After") != nil {
		t.Errorf("GET /login with a foreign return_to: %d Retry-After %q, want 400 and none", resp.StatusCode, resp.Header.Values("Retry-After"))
	}
	f.login(b, a, "")
	if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusOK || resp.Header.Values("Retry-After") != nil {
		t.Errorf("GET /profile: %d Retry-After %q, want 200 and none", resp.StatusCode, resp.Header.Values("Retry-After"))
	}
}
