package login_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/syncbuf"
)

// syncBuffer collects output that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

// TestLogoutLogsNoFalseFailures: a logout with the issuer's discovery
// document at hand, whose refresh token the issuer revokes, logs the
// logout, and neither a discovery nor a revocation failure (warnings an
// operator would chase). TestLogoutRevokesRefreshToken checks that the
// revocation happens.
func TestLogoutLogsNoFalseFailures(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, fixtureOptions{logger: slog.New(slog.NewTextHandler(&logs, nil))})
	a := f.apps[0]
	b := newBrowser(t)
	_, body := f.login(b, a, "")
	csrf := match(t, csrfField, body, "CSRF field")
	resp, _ := b.post(a.url("/logout"), url.Values{"csrf": {csrf}}, false, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, f.issuerURL) {
		t.Fatalf("POST /logout: %d Location %q, want 303 to the issuer's end-session endpoint", resp.StatusCode, loc)
	}
	got := logs.String()
	if !strings.Contains(got, "user logged out") || !strings.Contains(got, `msg="login: user logged out" sub=`) {
		t.Errorf("logout log, want \"user logged out\" naming the user:\n%s", got)
	}
	if strings.Contains(got, "discovery failed") || strings.Contains(got, "failed to revoke") {
		t.Errorf("logout log, want no discovery or revocation failure:\n%s", got)
	}
}
