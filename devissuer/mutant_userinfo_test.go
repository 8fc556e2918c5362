package devissuer_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// TestUserinfoMethods: the UserInfo endpoint answers GET and POST (OpenID
// Connect Core 1.0 section 5.3.1); other methods get 405 with Allow, even
// with a good access token.
func TestUserinfoMethods(t *testing.T) {
	f := newFixture(t, nil)
	v := oauth2.GenerateVerifier()
	code := f.loginCode(t, newBrowser(t), "s", oauth2.S256ChallengeOption(v))
	tok, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, f.endpoint("userinfo"), nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		jsonErr := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch method {
		case http.MethodGet, http.MethodPost:
			if resp.StatusCode != http.StatusOK || jsonErr != nil || body["sub"] != "00ualice" {
				t.Errorf("%s userinfo: got %d %v (%v), want 200 with sub 00ualice", method, resp.StatusCode, body, jsonErr)
			}
		default:
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
				t.Errorf("%s userinfo: got %d Allow %q, want 405 and GET, POST", method, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
}
