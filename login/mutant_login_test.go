package login_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/session"
)

// jwtPart changes one dot-separated part of a compact JWT. It runs in the
// issuer's handler, so it reports with t.Errorf and returns token as it was.
func jwtPart(t *testing.T, token string, i int, change func([]byte) []byte) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Errorf("id_token %q is not a compact JWS", token)
		return token
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Errorf("id_token part %d: %v", i, err)
		return token
	}
	parts[i] = base64.RawURLEncoding.EncodeToString(change(raw))
	return strings.Join(parts, ".")
}

// withClaims returns the JSON object obj with fields set.
func withClaims(t *testing.T, obj []byte, set map[string]any) []byte {
	var m map[string]any
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Errorf("id_token part: %v", err)
		return obj
	}
	for k, v := range set {
		m[k] = v
	}
	out, _ := json.Marshal(m)
	return out
}

// TestCallbackRefusesUnverifiedIDToken has the token endpoint answer the
// code exchange with an ID token that does not verify: the login fails
// and nobody is logged in, whatever the token claims (it keeps the right
// nonce, so only the signature check stands in the way).
func TestCallbackRefusesUnverifiedIDToken(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	tests := []struct {
		name   string
		tamper func(t *testing.T, idToken string) string
	}{
		{name: "signature altered", tamper: func(t *testing.T, tok string) string {
			return jwtPart(t, tok, 2, func(sig []byte) []byte { sig[0] ^= 0xff; return sig })
		}},
		{name: "claims altered", tamper: func(t *testing.T, tok string) string {
			return jwtPart(t, tok, 1, func(p []byte) []byte {
				return withClaims(t, p, map[string]any{"sub": "mallory@example.com", "name": "Mallory", "email": "mallory@example.com"})
			})
		}},
		{name: "alg none", tamper: func(t *testing.T, tok string) string {
			tok = jwtPart(t, tok, 0, func(h []byte) []byte { return withClaims(t, h, map[string]any{"alg": "none"}) })
			return tok[:strings.LastIndex(tok, ".")+1]
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tampered atomic.Int64
			hook := func(grant string, resp map[string]any) {
				if id, ok := resp["id_token"].(string); ok && grant == "authorization_code" {
					resp["id_token"] = tt.tamper(t, id)
					tampered.Add(1)
				}
			}
			f.tokenHook.Store(&hook)
			defer f.tokenHook.Store(nil)

			b := newBrowser(t)
			resp, body := f.login(b, a, "")
			if n := tampered.Load(); n != 1 {
				t.Fatalf("ID tokens changed: got %d, want 1 (one code exchange)", n)
			}
			if resp.StatusCode != http.StatusBadGateway || resp.Request.URL.Path != "/login/callback" || title(body) != "Sign-in failed" {
				t.Errorf("login with an ID token whose %s: got %d %s %q, want 502 Sign-in failed at the callback",
					tt.name, resp.StatusCode, resp.Request.URL.Path, title(body))
			}
			if strings.Contains(body, "Mallory") {
				t.Error("the page shows a claim of the unverified ID token")
			}
			if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusFound {
				t.Errorf("/profile after the refused login: got %d, want 302 to /login (not logged in)", resp.StatusCode)
			}
			if resp, _ := b.getNoFollow(a.url("/secure-data")); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("/secure-data after the refused login: got %d, want 401", resp.StatusCode)
			}
		})
	}
}

// TestPendingLoginExpires checks the ten-minute limit on a login in flight
// on its own: the browser is already logged in, so its session outlives the
// pending login, and the issuer answers at once with a fresh code.
func TestPendingLoginExpires(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: time.Hour, absolute: 8 * time.Hour})
	a := f.apps[0]
	tests := []struct {
		name string
		wait time.Duration
		want int
	}{
		{name: "back in time", wait: 10*time.Minute - time.Second, want: http.StatusSeeOther},
		{name: "back when time is up", wait: 10 * time.Minute, want: http.StatusBadRequest},
		{name: "back later", wait: 11 * time.Minute, want: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			f.login(b, a, "")
			resp, _ := b.getNoFollow(a.url("/login?return_to=%2Fsecure-data"))
			authorize := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(authorize, f.issuerURL+"/v1/authorize?") {
				t.Fatalf("GET /login: got %d %q, want 302 to the issuer", resp.StatusCode, authorize)
			}
			f.clock.Advance(tt.wait)
			resp, _ = b.getNoFollow(authorize) // the issuer's session answers with a code at once
			cb := resp.Header.Get("Location")
			if !strings.HasPrefix(cb, a.url("/login/callback?")) {
				t.Fatalf("issuer answered %d %q, want a redirect to the callback", resp.StatusCode, cb)
			}
			resp, body := b.getNoFollow(cb)
			if resp.StatusCode != tt.want {
				t.Fatalf("callback %v after /login: got %d %q, want %d", tt.wait, resp.StatusCode, title(body), tt.want)
			}
			if tt.want == http.StatusSeeOther {
				if got := resp.Header.Get("Location"); got != "/secure-data" {
					t.Errorf("callback Location: got %q, want /secure-data", got)
				}
			} else if title(body) != "Sign-in link not valid" {
				t.Errorf("page: got %q, want Sign-in link not valid", title(body))
			}
			// The session was alive all along: only the pending login ran out.
			if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusOK {
				t.Errorf("/profile: got %d, want 200 (the earlier login still holds)", resp.StatusCode)
			}
		})
	}
}

// TestLogoutRevokesRefreshToken checks that logout asks the issuer to
// revoke the session's refresh token: afterwards the token no longer
// refreshes.
func TestLogoutRevokesRefreshToken(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	var (
		mu      sync.Mutex
		refresh string
	)
	hook := func(grant string, resp map[string]any) {
		if grant == "authorization_code" {
			mu.Lock()
			refresh, _ = resp["refresh_token"].(string)
			mu.Unlock()
		}
	}
	f.tokenHook.Store(&hook)
	b := newBrowser(t)
	_, body := f.login(b, a, "")
	mu.Lock()
	rt := refresh
	mu.Unlock()
	if rt == "" {
		t.Fatal("the login got no refresh token")
	}
	resp, _ := b.post(a.url("/logout"), url.Values{"csrf": {match(t, csrfField, body, "CSRF field")}}, false, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: got %d, want 303", resp.StatusCode)
	}

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, f.issuerURL+"/v1/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	resp, body = newBrowser(t).do(req, false)
	var got struct{ Error string }
	_ = json.Unmarshal([]byte(body), &got)
	if resp.StatusCode != http.StatusBadRequest || got.Error != "invalid_grant" {
		t.Errorf("refresh with the logged-out session's refresh token: got %d error %q, want 400 invalid_grant (revoked at logout)", resp.StatusCode, got.Error)
	}
}

// TestSessionEndsWithAccessTokenWithoutRefresh logs in without
// offline_access (no refresh token): the session ends when the access
// token expires, even though the idle and absolute timeouts allow more.
func TestSessionEndsWithAccessTokenWithoutRefresh(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: 2 * time.Hour, absolute: 8 * time.Hour, scopes: []string{"openid", "profile", "email", "api:read"}})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "")
	f.clock.Advance(59 * time.Minute) // the access token (1h) is still good
	if resp, _ := b.getNoFollow(a.url("/profile")); resp.StatusCode != http.StatusOK {
		t.Fatalf("/profile 59 minutes in: got %d, want 200", resp.StatusCode)
	}
	f.clock.Advance(2 * time.Minute)
	resp, body := b.getNoFollow(a.url("/profile"))
	if resp.StatusCode != http.StatusUnauthorized || title(body) != "Your session has expired" {
		t.Errorf("/profile after the access token expired: got %d %q, want 401 Your session has expired", resp.StatusCode, title(body))
	}
	if f.refreshes.Load() != 0 {
		t.Errorf("refresh attempts: got %d, want 0 (there is no refresh token)", f.refreshes.Load())
	}
}

// TestPageSecurityHeaders checks the headers that keep the login's pages
// out of caches, frames and other sites' referrers, and its redirects out
// of caches.
func TestPageSecurityHeaders(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "")
	var callback *http.Response
	for _, h := range b.takeHops() {
		if h.Request.URL.Path == "/login/callback" {
			callback = h
		}
	}
	if callback == nil || callback.StatusCode != http.StatusSeeOther {
		t.Fatalf("no 303 from the callback: %v", callback)
	}
	if got := callback.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("callback redirect Cache-Control: got %q, want no-store", got)
	}

	issuerOrigin := strings.TrimSuffix(f.issuerURL, "/oauth2/default")
	pages := []struct {
		name string
		get  func() *http.Response
	}{
		{name: "profile", get: func() *http.Response { r, _ := b.getNoFollow(a.url("/profile")); return r }},
		{name: "bad return address", get: func() *http.Response {
			r, _ := newBrowser(t).getNoFollow(a.url("/login?return_to=%2F%2Fevil.example"))
			return r
		}},
		{name: "refused logout", get: func() *http.Response {
			r, _ := b.post(a.url("/logout"), url.Values{"csrf": {"wrong"}}, false, nil)
			return r
		}},
		{name: "logged out", get: func() *http.Response { r, _ := b.getNoFollow(a.url("/logout/callback")); return r }},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			h := p.get().Header
			for k, want := range map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"Cache-Control":          "no-store",
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
			} {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self' " + issuerOrigin} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy: got %q, want it to hold %q", csp, want)
				}
			}
		})
	}
}

// TestPendingLoginsBounded starts six logins in one browser: only the five
// most recent are kept, so the oldest one's callback is refused.
func TestPendingLoginsBounded(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	a := f.apps[0]
	b := newBrowser(t)
	f.login(b, a, "") // the issuer's session then answers each login at once
	var authorize []string
	for range 6 {
		resp, _ := b.getNoFollow(a.url("/login"))
		authorize = append(authorize, resp.Header.Get("Location"))
	}
	callback := func(i int) int {
		t.Helper()
		resp, _ := b.getNoFollow(authorize[i])
		cb := resp.Header.Get("Location")
		if !strings.HasPrefix(cb, a.url("/login/callback?")) {
			t.Fatalf("login %d: issuer answered %d %q, want a redirect to the callback", i+1, resp.StatusCode, cb)
		}
		resp, _ = b.getNoFollow(cb)
		return resp.StatusCode
	}
	if got := callback(0); got != http.StatusBadRequest {
		t.Errorf("callback of the oldest of 6 logins: got %d, want 400 (only 5 are kept)", got)
	}
	if got := callback(1); got != http.StatusSeeOther {
		t.Errorf("callback of the second of 6 logins: got %d, want 303", got)
	}
}

// TestPreLoginSessionShortLived checks that a session holding only a login
// in progress lasts as long as the login may (10 minutes), in the browser
// and on the server, rather than the idle timeout.
func TestPreLoginSessionShortLived(t *testing.T) {
	f := newFixture(t, fixtureOptions{idle: time.Hour})
	a := f.apps[0]
	b := newBrowser(t)
	resp, _ := b.getNoFollow(a.url("/login"))
	var c *http.Cookie
	for _, rc := range resp.Cookies() {
		if rc.Name == "apiguard_session" {
			c = rc
		}
	}
	if c == nil {
		t.Fatal("GET /login set no session cookie")
	}
	if want := f.clock.Now().Add(10 * time.Minute); !c.Expires.Equal(want) {
		t.Errorf("pre-login cookie Expires: got %v, want %v", c.Expires, want)
	}
	claims := func() error {
		r, _ := http.NewRequest(http.MethodGet, a.url("/secure-data"), nil)
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		_, err := a.svc.Claims(r)
		return err
	}
	f.clock.Advance(10*time.Minute - time.Second)
	if err := claims(); !isNotLoggedIn(err) || errors.Is(err, session.ErrExpired) {
		t.Errorf("Claims just before 10 minutes: got %v, want ErrNotLoggedIn for a live pre-login session", err)
	}
	f.clock.Advance(time.Second)
	if err := claims(); !errors.Is(err, session.ErrExpired) {
		t.Errorf("Claims at 10 minutes: got %v, want session.ErrExpired (the session ended)", err)
	}
}
