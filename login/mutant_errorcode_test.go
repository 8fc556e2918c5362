package login_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var refusedCode = regexp.MustCompile(`refused the sign-in \(([^)]*)\)\.`)

// TestCallbackErrorCodeShown: an error code the issuer sends back to the
// callback is shown on the "Sign-in failed" page only when it is at most
// 64 letters, digits and underscores; anything else (other characters,
// each range's neighbours, one character too many) is shown as "error".
// The code comes from the browser's address bar, so whatever an attacker
// puts there must not reach the page or the logs as it is.
func TestCallbackErrorCodeShown(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	long := strings.Repeat("x", 64)
	tests := []struct{ code, want string }{
		{"invalid_request", "invalid_request"},
		{"a", "a"}, {"z", "z"}, {"A", "A"}, {"Z", "Z"}, {"0", "0"}, {"9", "9"}, {"_", "_"},
		{long, long},
		{long + "x", "error"},
		{"`", "error"}, {"{", "error"}, {"@", "error"}, {"[", "error"}, {"/", "error"}, {":", "error"},
		{"^", "error"}, {"-", "error"}, {"bad code", "error"}, {"server_error\n", "error"},
		{"é", "error"}, {"x<b>", "error"},
	}
	for _, tc := range tests {
		// Each callback uses up its login: start a new one for each.
		resp, _ := b.getNoFollow(a.url("/login"))
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || loc.Query().Get("state") == "" {
			t.Fatalf("GET /login: %d Location %q, want a redirect to the issuer with a state", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := b.getNoFollow(a.url("/login/callback?" + url.Values{"state": {loc.Query().Get("state")}, "error": {tc.code}}.Encode()))
		m := refusedCode.FindStringSubmatch(body)
		if resp.StatusCode != http.StatusBadRequest || m == nil {
			t.Fatalf("callback with error %q: %d, want 400 \"Sign-in failed\" naming a code:\n%s", tc.code, resp.StatusCode, body)
		}
		if got := html.UnescapeString(m[1]); got != tc.want {
			t.Errorf("callback with error %q: the page shows %q, want %q", tc.code, got, tc.want)
		}
	}
}
