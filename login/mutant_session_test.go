package login_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// getOnce fetches u with b's cookies over a connection of its own, without
// following a redirect. The browser's client reuses connections, and Go's
// transport silently retries an idempotent request when a reused connection
// closes before any answer, which is what a handler's panic looks like: a
// retry would hide a panic on the first attempt behind the second one's
// answer. Here a panic is an error.
func getOnce(t *testing.T, b *browser, u string) (*http.Response, string) {
	t.Helper()
	c := &http.Client{Jar: b.jar, Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v (did the handler panic?)", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", u, err)
	}
	return resp, string(body)
}

// TestRefusedRefreshEndsSession: when the issuer refuses the refresh token,
// the first request after it ends the session and answers as for an
// expired session: the profile page with 401 "Your session has expired",
// an API route using Claims with 401.
func TestRefusedRefreshEndsSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: 2 * time.Hour, refreshTTL: 30 * time.Minute})
	a := f.apps[0]
	page, api := newBrowser(t), newBrowser(t)
	f.login(page, a, "")
	f.login(api, a, "")
	f.clock.Advance(59 * time.Minute) // the refresh tokens died at 30m
	resp, body := getOnce(t, page, a.url("/profile"))
	if resp.StatusCode != http.StatusUnauthorized || title(body) != "Your session has expired" {
		t.Errorf("/profile after a refused refresh: %d %q, want 401 expired", resp.StatusCode, title(body))
	}
	if resp, body := getOnce(t, api, a.url("/secure-data")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/secure-data after a refused refresh: %d %q, want 401", resp.StatusCode, body)
	}
	if got := f.refreshes.Load(); got != 2 {
		t.Errorf("refresh attempts = %d, want 2 (one per session)", got)
	}
	for name, b := range map[string]*browser{"profile": page, "api": api} {
		if resp, _ := getOnce(t, b, a.url("/secure-data")); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s browser: /secure-data once the session ended: %d, want 401", name, resp.StatusCode)
		}
	}
}

// TestRefreshedSessionSaved: the first request after a refresh saves the
// session with the new tokens and answers at once; the next one uses them
// without another refresh.
func TestRefreshedSessionSaved(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: 2 * time.Hour, absolute: 8 * time.Hour})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "")
	f.clock.Advance(59 * time.Minute) // 1 minute left: refresh
	resp, body := getOnce(t, b, a.url("/profile"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, userFullName) || f.refreshes.Load() != 1 {
		t.Fatalf("/profile at 59m: %d after %d refreshes, want 200 with the user after 1", resp.StatusCode, f.refreshes.Load())
	}
	if resp, body := getOnce(t, b, a.url("/secure-data")); resp.StatusCode != http.StatusOK || f.refreshes.Load() != 1 {
		t.Errorf("/secure-data right after: %d %q after %d refreshes, want 200 and still 1", resp.StatusCode, body, f.refreshes.Load())
	}
}
