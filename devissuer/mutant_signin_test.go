package devissuer_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
)

// TestSignInNamesTheClient: the sign-in page names the application the
// person signs in to: the client's Name, or its ID when it has none.
func TestSignInNamesTheClient(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Test App", "Sign in to <strong>Test App</strong>."},
		{"", "Sign in to <strong>" + appID + "</strong>."},
	} {
		f := newFixture(t, func(cfg *devissuer.Config) { cfg.Clients[0].Name = tc.name })
		resp, body := get(t, newBrowser(t), f.authURL(nil))
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, tc.want) {
			t.Errorf("client Name %q: got %d, want 200 and a page with %q:\n%s", tc.name, resp.StatusCode, tc.want, body)
		}
	}
}
