package devissuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/fakeclock"
)

const (
	appID       = "app"
	appSecret   = "app-secret"
	appCallback = "http://127.0.0.1:5000/login/callback"
	appLogout   = "http://127.0.0.1:5000/logout/callback"
	userName    = "alice@example.com"
	userPass    = "correct horse"
)

// testConfig has confidential clients "app" and "other", a client "machine"
// allowed only api:write (no default scope) and client credentials, a
// public client "spa" and the user alice.
func testConfig() devissuer.Config {
	return devissuer.Config{
		Scopes: []devissuer.Scope{
			{Name: "api:read", Default: true},
			{Name: "api:write"},
		},
		Clients: []devissuer.Client{
			{ID: appID, Secret: appSecret, Name: "Test App", RedirectURIs: []string{appCallback},
				PostLogoutRedirectURIs: []string{appLogout}},
			{ID: "machine", Secret: "machine-secret", GrantTypes: []string{devissuer.GrantClientCredentials},
				Scopes: []string{"api:write"}},
			{ID: "other", Secret: "other-secret", RedirectURIs: []string{appCallback}},
			{ID: "spa", RedirectURIs: []string{"http://127.0.0.1:3000/cb"}},
		},
		Users: []devissuer.User{
			{ID: "00ualice", Username: userName, Password: userPass, Name: "Alice Example",
				Groups: []string{"Everyone", "Engineering"}},
		},
	}
}

// fixture is a running development issuer on a loopback httptest server.
type fixture struct {
	iss       *devissuer.Issuer
	srv       *httptest.Server
	clock     *fakeclock.Clock
	keyFetch  atomic.Int64 // requests to /v1/keys
	issuerURL string
}

func newFixture(t *testing.T, mutate func(*devissuer.Config)) *fixture {
	t.Helper()
	f := &fixture{clock: fakeclock.New(time.Now().Truncate(time.Second))}
	cfg := testConfig()
	cfg.Now = f.clock.Now
	if mutate != nil {
		mutate(&cfg)
	}
	s := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(iss http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/v1/keys") {
				f.keyFetch.Add(1)
			}
			iss.ServeHTTP(w, r)
		})
	}))
	f.iss, f.srv, f.issuerURL = s.Issuer, s.HTTP, s.URL
	return f
}

func (f *fixture) endpoint(name string) string { return f.issuerURL + "/v1/" + name }

// oauthConfig is the x/oauth2 configuration of client "app".
func (f *fixture) oauthConfig(scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     appID,
		ClientSecret: appSecret,
		RedirectURL:  appCallback,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  f.endpoint("authorize"),
			TokenURL: f.endpoint("token"),
		},
	}
}

// browser is an HTTP client with a cookie jar that stops at redirects, so
// the test sees where the issuer sends the browser.
func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

var (
	requestField = regexp.MustCompile(`name="request" value="([^"]+)"`)
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// loginForm is what a sign-in form page holds for its post: the pending
// request's id and the form's CSRF token.
type loginForm struct{ request, csrf string }

// get fetches u and returns the response with its body read.
func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// openLoginForm follows authURL to the login form and returns its hidden
// fields.
func (f *fixture) openLoginForm(t *testing.T, b *http.Client, authURL string) loginForm {
	t.Helper()
	resp, body := get(t, b, authURL)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorize: got status %d, want 200 (body %q)", resp.StatusCode, body)
	}
	return parseLoginForm(t, body)
}

// parseLoginForm returns the hidden fields of the sign-in form in body.
func parseLoginForm(t *testing.T, body string) loginForm {
	t.Helper()
	m, c := requestField.FindStringSubmatch(body), csrfField.FindStringSubmatch(body)
	if m == nil || c == nil {
		t.Fatalf("no login form with request and csrf fields in %q", body)
	}
	for _, field := range []string{`name="username"`, `name="password"`} {
		if !strings.Contains(body, field) {
			t.Errorf("login form lacks %s", field)
		}
	}
	return loginForm{request: m[1], csrf: c[1]}
}

// submitLogin posts the login form, as the issuer's own page would, and
// returns the response.
func (f *fixture) submitLogin(t *testing.T, b *http.Client, form loginForm, username, password, action string) *http.Response {
	t.Helper()
	resp, err := b.PostForm(f.endpoint("authorize"), url.Values{
		"request": {form.request}, "csrf": {form.csrf}, "username": {username}, "password": {password}, "action": {action},
	})
	if err != nil {
		t.Fatalf("POST login: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// redirectParams checks that resp redirects to prefix and returns the
// query of the target.
func redirectParams(t *testing.T, resp *http.Response, prefix string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, prefix+"?") {
		t.Fatalf("got status %d Location %q, want a redirect to %s", resp.StatusCode, loc, prefix)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// signIn signs in with browser b (client "app", PKCE), redeems the code
// and returns the tokens. b keeps the issuer's session.
func (f *fixture) signIn(t *testing.T, b *http.Client) *oauth2.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	code := f.loginCode(t, b, "s1", oauth2.S256ChallengeOption(verifier))
	tok, err := f.oauthConfig().Exchange(ctx(t), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signInIDToken signs in as signIn does and returns the ID token: what
// RP-initiated logout takes as id_token_hint.
func (f *fixture) signInIDToken(t *testing.T, b *http.Client) string {
	t.Helper()
	idToken, _ := f.signIn(t, b).Extra("id_token").(string)
	return idToken
}

// loginCode runs the browser side of the code flow for client "app" and
// returns the code.
func (f *fixture) loginCode(t *testing.T, b *http.Client, state string, opts ...oauth2.AuthCodeOption) string {
	t.Helper()
	authURL := f.oauthConfig("openid", "profile", "email", "groups", "offline_access", "api:read").AuthCodeURL(state, opts...)
	req := f.openLoginForm(t, b, authURL)
	resp := f.submitLogin(t, b, req, userName, userPass, "login")
	q := redirectParams(t, resp, appCallback)
	if got := q.Get("state"); got != state {
		t.Fatalf("got state %q, want %q", got, state)
	}
	if q.Get("code") == "" {
		t.Fatalf("no code in redirect: %v", q)
	}
	return q.Get("code")
}

// payload decodes a JWT's claims without verifying it.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// header decodes a JWT's header.
func header(t *testing.T, token string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// postJSON posts form (with optional basic auth) and decodes the JSON reply.
func postJSON(t *testing.T, u string, form url.Values, basicID, basicSecret string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("decode reply: %v", err)
	}
	return resp, m
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}

// retrieveError extracts the OAuth error code from an x/oauth2 error.
func retrieveError(t *testing.T, err error) *oauth2.RetrieveError {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("got error %v, want *oauth2.RetrieveError", err)
	}
	return re
}
