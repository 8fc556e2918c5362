package login_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/login"
)

// TestLoginFlow walks the whole flow: /profile sends the browser to the
// issuer, login comes back with the user on the profile page, the session
// works for the API, logout ends it here and at the issuer.
func TestLoginFlow(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)

	// /profile without a session → /login → the issuer's form.
	resp, body := b.get(a.url("/profile"))
	if got := resp.Request.URL.String(); !strings.HasPrefix(got, f.issuerURL+"/v1/authorize?") {
		t.Fatalf("GET /profile ended at %s, want the issuer's authorize endpoint", got)
	}
	hops := b.takeHops()
	if len(hops) != 3 {
		t.Fatalf("GET /profile took %d hops, want 3 (/profile, /login, authorize)", len(hops))
	}
	if got, want := hops[0].Header.Get("Location"), "/login?return_to=%2Fprofile"; got != want {
		t.Errorf("/profile redirect = %q, want %q", got, want)
	}
	preLogin := sessionCookie(t, b, a)
	if preLogin == nil {
		t.Fatal("no pre-login session cookie after /login")
	}
	q := resp.Request.URL.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": clientID, "redirect_uri": a.url("/login/callback"),
		"code_challenge_method": "S256", "scope": "openid profile email groups offline_access api:read",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("authorize %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 43 {
			t.Errorf("authorize %s = %q, want at least 43 characters", k, q.Get(k))
		}
	}

	// Sign in at the issuer: back to /profile through the callback.
	resp, body = f.submitLogin(b, resp.Request.URL, body, "login", true)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
		t.Fatalf("after sign-in: %d %s, want 200 /profile", resp.StatusCode, resp.Request.URL)
	}
	for _, want := range []string{userFullName, userName, "Everyone", "Engineering", "api:read", "openid"} {
		if !strings.Contains(body, want) {
			t.Errorf("profile page lacks %q", want)
		}
	}
	if strings.Contains(body, "eyJ") {
		t.Error("profile page contains what looks like a JWT")
	}
	hops = b.takeHops()
	var callback *http.Response
	for _, h := range hops {
		if h.Request.URL.Path == "/login/callback" {
			callback = h
		}
	}
	if callback == nil {
		t.Fatal("sign-in did not pass through /login/callback")
	}
	if callback.StatusCode != http.StatusSeeOther || callback.Header.Get("Location") != "/profile" {
		t.Errorf("callback answered %d Location %q, want 303 /profile", callback.StatusCode, callback.Header.Get("Location"))
	}
	setCookie := callback.Header.Get("Set-Cookie")
	for _, want := range []string{"apiguard_session=", "Path=/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("callback Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	loggedIn := sessionCookie(t, b, a)
	if loggedIn == nil || loggedIn.Value == preLogin.Value {
		t.Fatalf("session id after login = %v, want a new id (rotated from %q)", loggedIn, preLogin.Value)
	}

	// The session also works for the API route.
	resp, body = b.get(a.url("/secure-data"))
	var got struct {
		Sub string   `json:"sub"`
		Scp []string `json:"scp"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /secure-data: %d %q (%v), want 200 JSON", resp.StatusCode, body, err)
	}
	if got.Sub != userName || !slices.Contains(got.Scp, "api:read") {
		t.Errorf("/secure-data claims = %+v, want sub %s with api:read", got, userName)
	}

	// Log out from the profile page's form.
	_, body = b.get(a.url("/profile"))
	csrf := match(t, csrfField, body, "CSRF field")
	b.takeHops()
	resp, body = b.post(a.url("/logout"), url.Values{"csrf": {csrf}}, true, nil)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/logout/callback" {
		t.Fatalf("logout ended at %d %s, want 200 /logout/callback", resp.StatusCode, resp.Request.URL)
	}
	if title(body) != "You are logged out" || !strings.Contains(body, `href="/login"`) || !strings.Contains(body, "Log in") {
		t.Errorf("logged-out page = %q, want a \"Log in\" link to /login", body)
	}
	hops = b.takeHops()
	if len(hops) != 3 {
		t.Fatalf("logout took %d hops, want 3 (/logout, issuer logout, /logout/callback)", len(hops))
	}
	end, _ := url.Parse(hops[0].Header.Get("Location"))
	if hops[0].StatusCode != http.StatusSeeOther || !strings.HasPrefix(end.String(), f.issuerURL+"/v1/logout?") {
		t.Errorf("/logout answered %d %s, want 303 to the issuer's end_session_endpoint", hops[0].StatusCode, end)
	}
	if end.Query().Get("id_token_hint") == "" || end.Query().Get("post_logout_redirect_uri") != a.url("/logout/callback") {
		t.Errorf("end-session query = %v, want id_token_hint and post_logout_redirect_uri=%s", end.Query(), a.url("/logout/callback"))
	}
	if sessionCookie(t, b, a) != nil {
		t.Error("session cookie still set after logout")
	}
	// The old session id is dead on the server too.
	req, _ := http.NewRequest(http.MethodGet, a.url("/profile"), nil)
	req.AddCookie(&http.Cookie{Name: loggedIn.Name, Value: loggedIn.Value})
	resp, _ = newBrowser(t).do(req, false)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/profile with the logged-out session id: %d, want 401", resp.StatusCode)
	}

	// /profile asks to log in again, at the issuer's form (its session ended too).
	resp, body = b.get(a.url("/profile"))
	if !strings.HasPrefix(resp.Request.URL.String(), f.issuerURL+"/v1/authorize") || !strings.Contains(body, `name="password"`) {
		t.Errorf("/profile after logout ended at %s, want the issuer's sign-in form", resp.Request.URL)
	}
}

func TestReturnTo(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	refused := []struct{ name, value string }{
		{"absolute URL", "https://evil.example/"},
		{"scheme-relative", "//evil.example/"},
		{"backslash after slash", `/\evil.example`},
		{"two backslashes", `\\evil.example`},
		{"backslash inside", `/a\b`},
		{"javascript", "javascript:alert(1)"},
		{"relative without slash", "profile"},
		{"empty", ""},
		{"encoded slashes", "/%2F%2Fevil.example"},
		{"encoded backslash", "/%5Cevil.example"},
		{"tab", "/\t/evil.example"},
		{"encoded tab", "/%09/evil.example"},
		{"leading space", " /profile"},
		{"encoded space", "/docs/a%20b"},
		{"encoded newline", "/%0d%0aSet-Cookie:x=y"},
		{"newline", "/x\r\nSet-Cookie: x=y"},
		{"NUL", "/x\x00"},
		{"too long", "/" + strings.Repeat("a", 3000)},
		{"invalid escape", "/%zz"},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			resp, body := newBrowser(t).getNoFollow(a.url("/login?return_to=" + url.QueryEscape(tt.value)))
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("got %d Location %q, want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
			}
			if title(body) != "Bad return address" {
				t.Errorf("page title = %q, want %q", title(body), "Bad return address")
			}
		})
	}
	t.Run("refused/repeated", func(t *testing.T) {
		resp, _ := newBrowser(t).getNoFollow(a.url("/login?return_to=/a&return_to=/b"))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("got %d, want 400", resp.StatusCode)
		}
	})

	accepted := []struct{ name, value, want string }{
		{"path with query", "/secure-data?x=1", "/secure-data?x=1"},
		{"login itself falls back to the default", "/login", "/profile"},
		{"logout callback falls back to the default", "/logout/callback", "/profile"},
	}
	for _, tt := range accepted {
		t.Run("accepted/"+tt.name, func(t *testing.T) {
			b := newBrowser(t)
			f.login(b, a, tt.value)
			var got string
			for _, h := range b.takeHops() {
				if h.Request.URL.Path == "/login/callback" {
					got = h.Header.Get("Location")
				}
			}
			if got != tt.want {
				t.Errorf("callback Location = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAccessDenied(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	resp, body := b.get(a.url("/login"))
	resp, body = f.submitLogin(b, resp.Request.URL, body, "cancel", true)
	if resp.StatusCode != http.StatusForbidden || resp.Request.URL.Path != "/login/callback" {
		t.Fatalf("cancel ended at %d %s, want 403 /login/callback", resp.StatusCode, resp.Request.URL)
	}
	if resp.Request.URL.Query().Get("error") != "access_denied" {
		t.Fatalf("callback query %v, want error=access_denied", resp.Request.URL.Query())
	}
	if title(body) != "Access denied" || !strings.Contains(body, `href="/login"`) {
		t.Errorf("page = %q, want the access-denied page with a login link", body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q, want HTML", ct)
	}
	denied := resp.Request.URL.String()
	// Still not logged in.
	resp, _ = b.getNoFollow(a.url("/profile"))
	if resp.StatusCode != http.StatusFound {
		t.Errorf("/profile after access_denied: %d, want 302 to /login", resp.StatusCode)
	}
	// The same denial cannot be replayed: its state was used up.
	resp, body = b.getNoFollow(denied)
	if resp.StatusCode != http.StatusBadRequest || title(body) != "Sign-in link not valid" {
		t.Errorf("replayed access_denied: %d %q, want 400 Sign-in link not valid", resp.StatusCode, title(body))
	}
}

// callbackURL starts a login in b and signs in at the issuer without
// following the redirect to the callback; it returns the callback URL.
func (f *fixture) callbackURL(t *testing.T, b *browser, a *app) string {
	t.Helper()
	resp, body := b.get(a.url("/login"))
	resp, _ = f.submitLogin(b, resp.Request.URL, body, "login", false)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, a.url("/login/callback?")) {
		t.Fatalf("sign-in answered %d %q, want 303 to the callback", resp.StatusCode, loc)
	}
	return loc
}

func TestStateBinding(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]

	t.Run("replayed", func(t *testing.T) {
		b := newBrowser(t)
		cb := f.callbackURL(t, b, a)
		resp, _ := b.get(cb)
		if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
			t.Fatalf("first callback ended at %d %s, want 200 /profile", resp.StatusCode, resp.Request.URL)
		}
		resp, body := b.get(cb)
		if resp.StatusCode != http.StatusBadRequest || title(body) != "Sign-in link not valid" {
			t.Errorf("replayed callback: %d %q, want 400 Sign-in link not valid", resp.StatusCode, title(body))
		}
		resp, _ = b.getNoFollow(a.url("/profile"))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/profile after the refused replay: %d, want 200 (still logged in)", resp.StatusCode)
		}
	})

	t.Run("forged", func(t *testing.T) {
		b := newBrowser(t)
		cb, _ := url.Parse(f.callbackURL(t, b, a))
		q := cb.Query()
		q.Set("state", strings.Repeat("A", 43))
		cb.RawQuery = q.Encode()
		resp, body := b.get(cb.String())
		if resp.StatusCode != http.StatusBadRequest || title(body) != "Sign-in link not valid" {
			t.Errorf("forged state: %d %q, want 400 Sign-in link not valid", resp.StatusCode, title(body))
		}
	})

	t.Run("other browser", func(t *testing.T) {
		// A callback started in one browser and delivered to another (login
		// CSRF) is refused.
		cb := f.callbackURL(t, newBrowser(t), a)
		victim := newBrowser(t)
		victim.get(a.url("/login")) // the victim has a pre-login session of its own
		resp, body := victim.get(cb)
		if resp.StatusCode != http.StatusBadRequest || title(body) != "Sign-in link not valid" {
			t.Errorf("callback in another browser: %d %q, want 400", resp.StatusCode, title(body))
		}
		resp, _ = newBrowser(t).get(cb)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("callback with no session at all: %d, want 400", resp.StatusCode)
		}
	})

	t.Run("expired login", func(t *testing.T) {
		b := newBrowser(t)
		cb := f.callbackURL(t, b, a)
		f.clock.Advance(11 * time.Minute)
		resp, body := b.get(cb)
		if resp.StatusCode != http.StatusBadRequest || title(body) != "Sign-in link not valid" {
			t.Errorf("callback 11 minutes later: %d %q, want 400", resp.StatusCode, title(body))
		}
	})

	t.Run("two tabs", func(t *testing.T) {
		// Two logins started side by side both complete.
		b := newBrowser(t)
		var authorize []string
		for range 2 {
			resp, _ := b.getNoFollow(a.url("/login"))
			authorize = append(authorize, resp.Header.Get("Location"))
		}
		resp, body := b.get(authorize[0])
		resp, _ = f.submitLogin(b, resp.Request.URL, body, "login", false)
		first := resp.Header.Get("Location")
		resp, _ = b.getNoFollow(authorize[1]) // the issuer's session answers at once
		second := resp.Header.Get("Location")
		for i, cb := range []string{first, second} {
			if !strings.HasPrefix(cb, a.url("/login/callback?")) {
				t.Fatalf("tab %d: issuer answered Location %q, want the callback", i+1, cb)
			}
			resp, _ := b.get(cb)
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
				t.Errorf("tab %d's callback ended at %d %s, want 200 /profile", i+1, resp.StatusCode, resp.Request.URL)
			}
		}
	})
}

func TestExpiredSession(t *testing.T) {
	tests := []struct {
		name    string
		steps   []time.Duration // clock advances, each followed by a /profile visit
		wantEnd int
	}{
		{name: "idle", steps: []time.Duration{31 * time.Minute}, wantEnd: http.StatusUnauthorized},
		{name: "active within idle", steps: []time.Duration{25 * time.Minute, 25 * time.Minute}, wantEnd: http.StatusOK},
		{name: "absolute", steps: []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, wantEnd: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{idle: 30 * time.Minute, absolute: time.Hour})
			a := f.apps[0]
			b := newBrowser(t)
			f.login(b, a, "")
			var resp *http.Response
			var body string
			for _, d := range tt.steps {
				f.clock.Advance(d)
				resp, body = b.getNoFollow(a.url("/profile"))
			}
			if resp.StatusCode != tt.wantEnd {
				t.Fatalf("/profile: %d, want %d", resp.StatusCode, tt.wantEnd)
			}
			if tt.wantEnd == http.StatusUnauthorized {
				if title(body) != "Your session has expired" || !strings.Contains(body, `href="/login"`) {
					t.Errorf("page = %q, want the expired-session page with a login link", title(body))
				}
				resp, _ = b.getNoFollow(a.url("/secure-data"))
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("/secure-data with the expired session: %d, want 401", resp.StatusCode)
				}
			}
		})
	}
}

func TestLogoutCSRF(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	_, body := f.login(b, a, "")
	csrf := match(t, csrfField, body, "CSRF field")

	refused := []struct {
		name   string
		form   url.Values
		header http.Header
	}{
		{name: "no token", form: url.Values{}},
		{name: "wrong token", form: url.Values{"csrf": {strings.Repeat("x", len(csrf))}}},
		{name: "token of another session", form: url.Values{"csrf": {otherCSRF(t, f, a)}}},
		{name: "cross-site request with the right token", form: url.Values{"csrf": {csrf}},
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
		{name: "foreign Origin with the right token", form: url.Values{"csrf": {csrf}},
			header: http.Header{"Origin": {"http://evil.example"}}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := b.post(a.url("/logout"), tt.form, false, tt.header)
			if resp.StatusCode != http.StatusForbidden || title(body) != "Request refused" {
				t.Errorf("POST /logout: %d %q, want 403 Request refused", resp.StatusCode, title(body))
			}
			if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusOK {
				t.Errorf("/profile after refused logout: %d, want 200 (still logged in)", resp.StatusCode)
			}
		})
	}
	t.Run("GET is not logout", func(t *testing.T) {
		resp, body := b.getNoFollow(a.url("/logout"))
		if resp.StatusCode != http.StatusOK || title(body) != "Log out" {
			t.Errorf("GET /logout: %d %q, want 200 Log out", resp.StatusCode, title(body))
		}
		if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusOK {
			t.Errorf("/profile after GET /logout: %d, want 200 (still logged in)", resp.StatusCode)
		}
	})
	t.Run("right token", func(t *testing.T) {
		resp, _ := b.post(a.url("/logout"), url.Values{"csrf": {csrf}}, false, http.Header{"Sec-Fetch-Site": {"same-origin"}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("POST /logout: %d, want 303", resp.StatusCode)
		}
		if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusFound {
			t.Errorf("/profile after logout: %d, want 302 to /login", resp.StatusCode)
		}
	})
}

// TestLogoutPage checks GET /logout: a page whose button is the form POST
// /logout takes (the session's CSRF token, posted to /logout), that logs
// out when pressed; and, without a sign-in, a page that says so.
func TestLogoutPage(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]

	t.Run("signed in", func(t *testing.T) {
		b := newBrowser(t)
		_, profile := f.login(b, a, "")
		resp, body := b.getNoFollow(a.url("/logout"))
		if resp.StatusCode != http.StatusOK || title(body) != "Log out" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("GET /logout: %d %s %q, want a 200 HTML page Log out", resp.StatusCode, resp.Header.Get("Content-Type"), title(body))
		}
		if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET /logout headers = %v, want no-store and no framing: the page holds the CSRF token", resp.Header)
		}
		action := match(t, regexp.MustCompile(`<form method="post" action="([^"]*)"`), body, "logout form")
		csrf := match(t, csrfField, body, "CSRF field")
		if action != "/logout" || csrf != match(t, csrfField, profile, "profile's CSRF field") || !strings.Contains(body, `<button id="logout"`) {
			t.Errorf("logout page form posts to %q with token %q, want /logout with the session's token and a button", action, csrf)
		}
		resp, _ = b.post(a.url(action), url.Values{"csrf": {csrf}}, false, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Errorf("POST /logout from the page: %d, want 303", resp.StatusCode)
		}
		if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusFound {
			t.Errorf("/profile after logout: %d, want 302 to /login", resp.StatusCode)
		}
		resp, body = b.getNoFollow(a.url("/logout"))
		if resp.StatusCode != http.StatusOK || title(body) != "You are not logged in" || csrfField.MatchString(body) {
			t.Errorf("GET /logout after logout: %d %q, want 200 You are not logged in with no form", resp.StatusCode, title(body))
		}
	})
	t.Run("never signed in", func(t *testing.T) {
		resp, body := newBrowser(t).getNoFollow(a.url("/logout"))
		if resp.StatusCode != http.StatusOK || title(body) != "You are not logged in" || csrfField.MatchString(body) {
			t.Errorf("GET /logout: %d %q, want 200 You are not logged in with no form", resp.StatusCode, title(body))
		}
		if !strings.Contains(body, `href="/login"`) {
			t.Errorf("GET /logout: no link to log in in %q", body)
		}
	})
	t.Run("sign-in not finished", func(t *testing.T) {
		b := newBrowser(t)
		if resp, _ := b.getNoFollow(a.url("/login")); resp.StatusCode != http.StatusFound {
			t.Fatalf("GET /login: %d, want 302", resp.StatusCode)
		}
		resp, body := b.getNoFollow(a.url("/logout"))
		if resp.StatusCode != http.StatusOK || title(body) != "You are not logged in" {
			t.Errorf("GET /logout during a sign-in: %d %q, want 200 You are not logged in", resp.StatusCode, title(body))
		}
	})
}

// otherCSRF logs in another browser and returns its CSRF token.
func otherCSRF(t *testing.T, f *fixture, a *app) string {
	_, body := f.login(newBrowser(t), a, "")
	return match(t, csrfField, body, "CSRF field")
}

func TestRefreshBeforeExpiry(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: 2 * time.Hour, absolute: 8 * time.Hour})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "")
	jti := func() string {
		t.Helper()
		resp, body := b.get(a.url("/secure-data"))
		var got struct{ JTI string }
		if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("/secure-data: %d %q", resp.StatusCode, body)
		}
		return got.JTI
	}
	first := jti()
	f.clock.Advance(50 * time.Minute) // 10 minutes left: no refresh
	if got := jti(); got != first || f.refreshes.Load() != 0 {
		t.Fatalf("50m in: jti %q (was %q), %d refreshes; want the same token, 0 refreshes", got, first, f.refreshes.Load())
	}
	f.clock.Advance(9 * time.Minute) // 1 minute left: refresh
	second := jti()
	if second == first || f.refreshes.Load() != 1 {
		t.Fatalf("59m in: jti %q (was %q), %d refreshes; want a new token after 1 refresh", second, first, f.refreshes.Load())
	}
	if got := jti(); got != second || f.refreshes.Load() != 1 {
		t.Errorf("right after refresh: jti %q, %d refreshes; want %q and still 1", got, f.refreshes.Load(), second)
	}
	// The profile page keeps working with the refreshed token, and a later
	// refresh uses the rotated refresh token (the issuer would revoke the
	// family on reuse of the old one).
	f.clock.Advance(59 * time.Minute)
	resp, body := b.getNoFollow(a.url("/profile"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, userFullName) || f.refreshes.Load() != 2 {
		t.Errorf("/profile 59m after the refresh: %d, %d refreshes; want 200 with the user after 2 refreshes", resp.StatusCode, f.refreshes.Load())
	}
	if third := jti(); third == second {
		t.Error("second refresh kept the token")
	}

	// Logout hints with the ID token of the latest refresh, not the one from
	// login two hours ago.
	csrf := match(t, csrfField, body, "CSRF field")
	resp, _ = b.post(a.url("/logout"), url.Values{"csrf": {csrf}}, false, nil)
	end, _ := url.Parse(resp.Header.Get("Location"))
	hint := end.Query().Get("id_token_hint")
	parts := strings.Split(hint, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token_hint %q is not a JWT", hint)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Iat int64 }
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if got, want := time.Unix(claims.Iat, 0), f.clock.Now(); got.Before(want.Add(-time.Minute)) {
		t.Errorf("id_token_hint issued at %v, want the latest refresh's (about %v)", got, want)
	}
}

func TestClaimsWithoutSession(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	tests := []struct {
		name   string
		cookie *http.Cookie
	}{
		{name: "no cookie"},
		{name: "unknown session", cookie: &http.Cookie{Name: "apiguard_session", Value: strings.Repeat("A", 43)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, a.url("/secure-data"), nil)
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			if _, err := a.svc.Claims(r); err == nil || !isNotLoggedIn(err) {
				t.Errorf("Claims error = %v, want ErrNotLoggedIn", err)
			}
		})
	}
	t.Run("pre-login session", func(t *testing.T) {
		b := newBrowser(t)
		b.get(a.url("/login"))
		r, _ := http.NewRequest(http.MethodGet, a.url("/secure-data"), nil)
		r.AddCookie(sessionCookie(t, b, a))
		if _, err := a.svc.Claims(r); !isNotLoggedIn(err) {
			t.Errorf("Claims error = %v, want ErrNotLoggedIn", err)
		}
	})
}

func isNotLoggedIn(err error) bool { return err != nil && errors.Is(err, login.ErrNotLoggedIn) }

func TestNewValidates(t *testing.T) {
	base := login.Config{Issuer: "https://example.okta.com/oauth2/default", ClientID: "id", PublicURL: "https://app.example"}
	tests := []struct {
		name   string
		change func(*login.Config)
		ok     bool
	}{
		{name: "valid", change: func(*login.Config) {}, ok: true},
		{name: "loopback http", change: func(c *login.Config) { c.PublicURL = "http://127.0.0.1:5000" }, ok: true},
		{name: "path prefix", change: func(c *login.Config) { c.PublicURL = "https://app.example/api/" }, ok: true},
		{name: "no issuer", change: func(c *login.Config) { c.Issuer = "" }},
		{name: "http issuer", change: func(c *login.Config) { c.Issuer = "http://example.okta.com/oauth2/default" }},
		{name: "no client id", change: func(c *login.Config) { c.ClientID = "" }},
		{name: "no public URL", change: func(c *login.Config) { c.PublicURL = "" }},
		{name: "relative public URL", change: func(c *login.Config) { c.PublicURL = "/app" }},
		{name: "public URL with query", change: func(c *login.Config) { c.PublicURL = "https://app.example/?x=1" }},
		{name: "public URL with an empty query", change: func(c *login.Config) { c.PublicURL = "https://app.example/?" }},
		{name: "public URL with credentials", change: func(c *login.Config) { c.PublicURL = "https://me:hunter2@app.example/" }},
		{name: "http public URL on a remote host", change: func(c *login.Config) { c.PublicURL = "http://app.example" }},
		{name: "http public URL allowed when insecure", change: func(c *login.Config) {
			c.PublicURL, c.InsecureAllowHTTP = "http://app.example", true
		}, ok: true},
		{name: "scopes without openid", change: func(c *login.Config) { c.Scopes = []string{"profile"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			tt.change(&cfg)
			_, err := login.New(cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New error = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("New error = %v, repeats the password", err)
			}
		})
	}
	svc, err := login.New(login.Config{Issuer: base.Issuer, ClientID: "id", PublicURL: "https://app.example/api/"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svc.RedirectURL(), "https://app.example/api/login/callback"; got != want {
		t.Errorf("RedirectURL = %q, want %q", got, want)
	}
	if got, want := svc.PostLogoutRedirectURL(), "https://app.example/api/logout/callback"; got != want {
		t.Errorf("PostLogoutRedirectURL = %q, want %q", got, want)
	}
}

func TestNonceMismatch(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	tests := []struct {
		name string
		flag *atomic.Bool
	}{
		{name: "another nonce", flag: &f.swapNonce},
		// An ID token without a nonce must not pass for one that matches.
		{name: "no nonce", flag: &f.dropNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.flag.Store(true)
			defer tt.flag.Store(false)
			b := newBrowser(t)
			resp, body := b.get(a.url("/login"))
			resp, body = f.submitLogin(b, resp.Request.URL, body, "login", true)
			if resp.StatusCode != http.StatusBadRequest || resp.Request.URL.Path != "/login/callback" || title(body) != "Sign-in link not valid" {
				t.Errorf("ID token with %s: got %d %s %q, want 400 Sign-in link not valid at the callback",
					tt.name, resp.StatusCode, resp.Request.URL.Path, title(body))
			}
			if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusFound {
				t.Errorf("/profile after the refused login: got %d, want 302 to /login (not logged in)", resp.StatusCode)
			}
		})
	}
}

func TestRefreshRefused(t *testing.T) {
	// The refresh token dies before the access token: the next refresh is
	// refused and the session ends.
	f := newFixture(t, fixtureOptions{idle: 2 * time.Hour, refreshTTL: 30 * time.Minute})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "")
	f.clock.Advance(59 * time.Minute)
	resp, body := b.getNoFollow(a.url("/profile"))
	if resp.StatusCode != http.StatusUnauthorized || title(body) != "Your session has expired" {
		t.Errorf("/profile after a refused refresh: %d %q, want 401 expired", resp.StatusCode, title(body))
	}
	if f.refreshes.Load() != 1 {
		t.Errorf("refresh attempts = %d, want 1", f.refreshes.Load())
	}
	if resp, _ := b.getNoFollow(a.url("/secure-data")); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/secure-data after the session ended: %d, want 401", resp.StatusCode)
	}
}

func TestIssuerDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	issuer := down.URL + "/oauth2/default"
	down.Close()
	app := httptest.NewServer(nil)
	defer app.Close()
	svc, err := login.New(login.Config{Issuer: issuer, ClientID: clientID, PublicURL: app.URL})
	if err != nil {
		t.Fatalf("New with the issuer down: %v, want nil (discovery is lazy)", err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	app.Config.Handler = mux
	resp, body := newBrowser(t).getNoFollow(app.URL + "/login")
	if resp.StatusCode != http.StatusBadGateway || title(body) != "Sign-in failed" {
		t.Errorf("/login with the issuer down: %d %q, want 502 Sign-in failed", resp.StatusCode, title(body))
	}
}

func TestSecureCookieOverHTTPS(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	svc, err := login.New(login.Config{Issuer: f.issuerURL, ClientID: clientID, ClientSecret: clientSecret, PublicURL: "https://app.example"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://app.example/login", nil))
	if rec.Code != http.StatusFound {
		t.Fatalf("GET /login: %d, want 302", rec.Code)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	if got, want := loc.Query().Get("redirect_uri"), "https://app.example/login/callback"; got != want {
		t.Errorf("redirect_uri = %q, want %q", got, want)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("got %d cookies, want 1", len(cs))
	}
	c := cs[0]
	if c.Name != "__Host-apiguard_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie = %+v, want __Host-apiguard_session, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain", c)
	}
}
