package devissuer_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// postLogin posts a sign-in form with extra headers and returns the status,
// the Location and the page.
func (f *fixture) postLogin(t *testing.T, c *http.Client, form url.Values, h http.Header) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.endpoint("authorize"), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST login: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// signedIn reports whether browser b holds a session at the issuer, by
// asking for a code with prompt=none.
func (f *fixture) signedIn(t *testing.T, b *http.Client) bool {
	t.Helper()
	resp, _ := get(t, b, f.authURL(url.Values{"prompt": {"none"}}))
	return redirectParams(t, resp, appCallback).Get("code") != ""
}

// TestSignInCSRF checks the sign-in form's login CSRF defence: the post
// must carry the CSRF token of its own request for the browser it was shown
// to (with the browser's cookie), and must not come from another origin.
// Each refusal is a 403 that signs nobody in and leaves the form usable.
func TestSignInCSRF(t *testing.T) {
	f := newFixture(t, nil)
	issuerOrigin := strings.TrimSuffix(f.issuerURL, "/oauth2/default")
	const (
		own          = "own"
		none         = "none"
		wrong        = "wrong"
		otherRequest = "another request's"
		otherBrowser = "another browser's" // the attacker's form, posted by the victim
	)
	tests := []struct {
		name       string
		token      string // whose token the post carries
		noCookies  bool   // the post is sent without the browser's cookies
		header     http.Header
		action     string
		wantStatus int
	}{
		{"own token", own, false, nil, "login", http.StatusSeeOther},
		{"own token, same-origin browser headers", own, false, http.Header{"Origin": {issuerOrigin}, "Sec-Fetch-Site": {"same-origin"}}, "login", http.StatusSeeOther},
		{"own token, the issuer's Origin alone", own, false, http.Header{"Origin": {issuerOrigin}}, "login", http.StatusSeeOther},
		{"own token, cancel", own, false, nil, "cancel", http.StatusSeeOther},
		{"no token", none, false, nil, "login", http.StatusForbidden},
		{"wrong token", wrong, false, nil, "login", http.StatusForbidden},
		{"another request's token", otherRequest, false, nil, "login", http.StatusForbidden},
		{"another browser's request and token (login CSRF)", otherBrowser, false, nil, "login", http.StatusForbidden},
		{"own token without the cookie", own, true, nil, "login", http.StatusForbidden},
		{"no token, cancel", none, false, nil, "cancel", http.StatusForbidden},
		{"cross-site browser post", own, false, http.Header{"Origin": {"http://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, "login", http.StatusForbidden},
		{"cross-site post, the attacker's form", otherBrowser, false, http.Header{"Origin": {"http://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, "login", http.StatusForbidden},
		{"same-site post from another origin", own, false, http.Header{"Origin": {"http://127.0.0.1:1"}, "Sec-Fetch-Site": {"same-site"}}, "login", http.StatusForbidden},
		{"foreign Origin without Sec-Fetch-Site", own, false, http.Header{"Origin": {"http://evil.example"}}, "login", http.StatusForbidden},
		{"opaque Origin", own, false, http.Header{"Origin": {"null"}}, "login", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			victim := newBrowser(t)
			mine := f.openLoginForm(t, victim, f.authURL(nil))
			form := url.Values{"request": {mine.request}, "username": {userName}, "password": {userPass}, "action": {tt.action}}
			switch tt.token {
			case own:
				form.Set("csrf", mine.csrf)
			case wrong:
				form.Set("csrf", strings.Repeat("A", len(mine.csrf)))
			case otherRequest:
				form.Set("csrf", f.openLoginForm(t, victim, f.authURL(nil)).csrf)
			case otherBrowser:
				attacker := f.openLoginForm(t, newBrowser(t), f.authURL(nil))
				form.Set("request", attacker.request)
				form.Set("csrf", attacker.csrf)
			}
			client := victim
			if tt.noCookies {
				client = &http.Client{CheckRedirect: victim.CheckRedirect}
			}
			status, loc, page := f.postLogin(t, client, form, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("got status %d Location %q, want %d (page %q)", status, loc, tt.wantStatus, page)
			}
			if status != http.StatusForbidden {
				return
			}
			if loc != "" || !strings.Contains(page, `id="error"`) || strings.Contains(page, `name="password"`) {
				t.Errorf("got Location %q page %q, want no redirect and an error page without a form", loc, page)
			}
			if f.signedIn(t, victim) {
				t.Error("the refused post signed the browser in")
			}
			// The refusal left the victim's own form usable.
			form = url.Values{"request": {mine.request}, "csrf": {mine.csrf}, "username": {userName}, "password": {userPass}, "action": {"login"}}
			if status, loc, _ := f.postLogin(t, victim, form, nil); status != http.StatusSeeOther || !strings.HasPrefix(loc, appCallback+"?") {
				t.Errorf("the form after the refusal: got %d Location %q, want 303 to the callback", status, loc)
			}
		})
	}

	t.Run("the form's cookie", func(t *testing.T) {
		resp, body := get(t, newBrowser(t), f.authURL(nil))
		var c *http.Cookie
		for _, x := range resp.Cookies() {
			if x.Name == "devissuer_login" {
				c = x
			}
		}
		if c == nil {
			t.Fatalf("got cookies %v, want devissuer_login", resp.Cookies())
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/oauth2/default" || c.MaxAge <= 0 {
			t.Errorf("got cookie %v, want HttpOnly, SameSite=Strict, Path=/oauth2/default and a lifetime", c)
		}
		if strings.Contains(body, c.Value) {
			t.Error("the page shows the cookie's value")
		}
	})

	t.Run("forms in two tabs", func(t *testing.T) {
		b := newBrowser(t)
		first := f.openLoginForm(t, b, f.authURL(nil))
		second := f.openLoginForm(t, b, f.authURL(nil))
		if first.csrf == second.csrf {
			t.Fatal("two requests got the same token")
		}
		// The second form did not invalidate the first.
		if resp := f.submitLogin(t, b, first, userName, userPass, "login"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("the first tab's form: got %d, want 303", resp.StatusCode)
		}
	})
}
