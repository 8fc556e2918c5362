package devissuer_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLogoutDeletesSessionCookie: logout tells the browser to delete its
// session cookie at once (Max-Age=0), not to keep an empty one for a while.
func TestLogoutDeletesSessionCookie(t *testing.T) {
	f := newFixture(t, nil)
	b := newBrowser(t)
	idToken := f.signInIDToken(t, b)
	resp, _ := get(t, b, f.endpoint("logout")+"?"+url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appLogout}}.Encode())
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "devissuer_session" {
			found = true
			if c.Value != "" || c.MaxAge >= 0 {
				t.Errorf("logout's session cookie: value %q Max-Age %d, want empty and deleted now (MaxAge < 0)", c.Value, c.MaxAge)
			}
		}
	}
	if !found || resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound {
		t.Errorf("logout: got %d, cookie set %v; want a redirect deleting the session cookie", resp.StatusCode, found)
	}
}

// TestLogoutByPost: RP-initiated logout takes a POSTed form as well as a
// GET (OpenID Connect RP-Initiated Logout 1.0 section 2); other methods get
// 405 with Allow.
func TestLogoutByPost(t *testing.T) {
	f := newFixture(t, nil)
	b := newBrowser(t)
	idToken := f.signInIDToken(t, b)
	form := url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {appLogout}, "state": {"bye"}}
	for _, method := range []string{http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequest(method, f.endpoint("logout"), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := b.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, POST" {
			t.Errorf("%s logout: got %d Allow %q, want 405 and GET, POST", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	resp, err := b.PostForm(f.endpoint("logout"), form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if q := redirectParams(t, resp, appLogout); q.Get("state") != "bye" {
		t.Errorf("POST logout: got %v, want a redirect to the logout URI with state bye", q)
	}
	resp, _ = get(t, b, f.authURL(url.Values{"prompt": {"none"}}))
	if q := redirectParams(t, resp, appCallback); q.Get("error") != "login_required" {
		t.Errorf("after POST logout, prompt=none: got %v, want login_required", q)
	}
}
