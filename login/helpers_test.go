package login_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/login"
	"github.com/apiguard/apiguard/session"
)

const (
	clientID     = "0oa-test-app"
	clientSecret = "test-app-secret"
	userName     = "alice@example.com"
	userPass     = "correct horse"
	userFullName = "Alice Example"
)

// app is one instance of the login service behind its own server.
type app struct {
	srv *httptest.Server
	svc *login.Service
}

func (a *app) url(p string) string { return a.srv.URL + p }

// fixture is a development issuer and one or more login service instances.
type fixture struct {
	clock     *fakeclock.Clock
	issuer    *devissuer.Issuer
	issuerSrv *httptest.Server
	issuerURL string
	apps      []*app
	// refreshes counts refresh_token grants at the issuer's token endpoint.
	refreshes atomic.Int64
	// swapNonce, when set, makes the authorization requests reaching the
	// issuer carry another nonce than the one the service sent.
	swapNonce atomic.Bool
	// dropNonce, when set, removes the nonce from the authorization
	// requests reaching the issuer, so that its ID tokens carry none.
	dropNonce atomic.Bool
	// tokenHook, when set, may change every successful token endpoint
	// response (as JSON fields) before the service sees it; grant is the
	// request's grant_type.
	tokenHook atomic.Pointer[func(grant string, resp map[string]any)]
}

type fixtureOptions struct {
	instances int
	// store returns the session store of instance i; default in-memory.
	store       func(t *testing.T, i int) session.Store
	idle        time.Duration
	absolute    time.Duration
	logger      *slog.Logger
	noAccessVer bool
	// refreshTTL is the issuer's refresh token life; default its own.
	refreshTTL time.Duration
	// scopes are requested at login; default openid profile email groups
	// offline_access api:read.
	scopes []string
}

func newFixture(t *testing.T, opts fixtureOptions) *fixture {
	t.Helper()
	if opts.instances == 0 {
		opts.instances = 1
	}
	f := &fixture{clock: fakeclock.New(time.Now().Truncate(time.Second))}

	// Servers first, so that the issuer can register their redirect URIs.
	muxes := make([]*http.ServeMux, opts.instances)
	var bases []string
	for i := range opts.instances {
		mux := http.NewServeMux()
		muxes[i] = mux
		srv := httptest.NewUnstartedServer(mux)
		srv.Config.ErrorLog = panicLog(t)
		srv.Start()
		t.Cleanup(srv.Close)
		f.apps = append(f.apps, &app{srv: srv})
		bases = append(bases, srv.URL)
	}
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{
		ClientID: clientID, ClientSecret: clientSecret, Username: userName, Password: userPass, BaseURLs: bases,
	})
	if err != nil {
		t.Fatalf("devissuer.DefaultConfig: %v", err)
	}
	cfg.Now = f.clock.Now
	cfg.Users[0].Name = userFullName
	cfg.RefreshTokenTTL = opts.refreshTTL
	s := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(issuer http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if (f.swapNonce.Load() || f.dropNonce.Load()) && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v1/authorize") {
				q := r.URL.Query()
				if f.swapNonce.Load() {
					q.Set("nonce", "a-nonce-the-service-never-sent")
				}
				if f.dropNonce.Load() {
					q.Del("nonce")
				}
				r.URL.RawQuery = q.Encode()
			}
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/token") {
				body, _ := io.ReadAll(r.Body)
				q, _ := url.ParseQuery(string(body))
				if q.Get("grant_type") == "refresh_token" {
					f.refreshes.Add(1)
				}
				r.Body = io.NopCloser(strings.NewReader(string(body)))
				if hook := f.tokenHook.Load(); hook != nil {
					rewriteJSON(w, r, issuer, func(m map[string]any) { (*hook)(q.Get("grant_type"), m) })
					return
				}
			}
			issuer.ServeHTTP(w, r)
		})
	}))
	f.issuer, f.issuerSrv, f.issuerURL = s.Issuer, s.HTTP, s.URL

	scopes := opts.scopes
	if scopes == nil {
		scopes = []string{"openid", "profile", "email", "groups", "offline_access", "api:read"}
	}
	for i, a := range f.apps {
		var av *apiguard.Verifier
		if !opts.noAccessVer {
			av, err = apiguard.New(apiguard.Config{Issuer: f.issuerURL, Now: f.clock.Now})
			if err != nil {
				t.Fatalf("apiguard.New: %v", err)
			}
		}
		var store session.Store
		if opts.store != nil {
			store = opts.store(t, i)
		}
		a.svc, err = login.New(login.Config{
			Issuer: f.issuerURL, ClientID: clientID, ClientSecret: clientSecret, PublicURL: a.srv.URL,
			Scopes:         scopes,
			Store:          store,
			AccessVerifier: av,
			Logger:         opts.logger,
			Now:            f.clock.Now,
			IdleTimeout:    opts.idle, AbsoluteTimeout: opts.absolute,
		})
		if err != nil {
			t.Fatalf("login.New: %v", err)
		}
		a.svc.Register(muxes[i])
		svc := a.svc
		// An API route that accepts the browser session, as serve's
		// /secure-data does.
		muxes[i].HandleFunc("GET /secure-data", func(w http.ResponseWriter, r *http.Request) {
			c, err := svc.Claims(r)
			switch {
			case errors.Is(err, login.ErrNotLoggedIn), errors.Is(err, apiguard.ErrInvalidToken):
				http.Error(w, "not logged in", http.StatusUnauthorized)
				return
			case err != nil:
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"sub": c.Subject, "jti": c.ID, "scp": c.Scopes})
		})
	}
	return f
}

// rewriteJSON serves r with h, passing a successful JSON answer through
// change before writing it to w; other answers go out unchanged.
func rewriteJSON(w http.ResponseWriter, r *http.Request, h http.Handler, change func(map[string]any)) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code == http.StatusOK {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err == nil {
			change(m)
			body, _ = json.Marshal(m)
		}
	}
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

// panicLog is an http.Server ErrorLog that fails t when a handler panics.
// net/http recovers the panic and closes the connection, and the browser's
// transport then retries an idempotent request on a new connection: without
// this, a handler that panics once and answers rightly the second time
// (its state already changed by the first attempt) would pass unnoticed.
func panicLog(t *testing.T) *log.Logger {
	return log.New(panicWriter{t}, "", 0)
}

type panicWriter struct{ t *testing.T }

func (w panicWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panic serving")) {
		w.t.Errorf("server: %s", p)
	}
	return len(p), nil
}

// browser is an HTTP client with a cookie jar that records every response.
type browser struct {
	t      *testing.T
	client *http.Client
	jar    http.CookieJar
	mu     sync.Mutex
	hops   []*http.Response // every response, redirects included
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, jar: jar}
	b.client = &http.Client{Jar: jar, Timeout: 20 * time.Second, Transport: recorder{b}}
	return b
}

type recorder struct{ b *browser }

func (rt recorder) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		rt.b.mu.Lock()
		rt.b.hops = append(rt.b.hops, resp)
		rt.b.mu.Unlock()
	}
	return resp, err
}

// takeHops returns and forgets the responses recorded so far.
func (b *browser) takeHops() []*http.Response {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hops
	b.hops = nil
	return h
}

func (b *browser) do(req *http.Request, follow bool) (*http.Response, string) {
	b.t.Helper()
	c := *b.client
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("reading %s: %v", req.URL, err)
	}
	return resp, string(body)
}

// get fetches u, following redirects.
func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req, true)
}

// getNoFollow fetches u without following a redirect.
func (b *browser) getNoFollow(u string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req, false)
}

// post submits a form to u, following redirects unless follow is false.
func (b *browser) post(u string, form url.Values, follow bool, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	return b.do(req, follow)
}

var (
	requestField = regexp.MustCompile(`name="request" value="([^"]*)"`)
	formAction   = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]*)"`)
	titleTag     = regexp.MustCompile(`<h1[^>]*>([^<]*)</h1>`)
)

func match(t *testing.T, re *regexp.Regexp, body, what string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", what, body)
	}
	return html.UnescapeString(m[1])
}

func title(body string) string {
	m := titleTag.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// submitLogin fills the issuer's form shown in body (fetched from formURL)
// with action "login" or "cancel", following redirects unless follow is
// false.
func (f *fixture) submitLogin(b *browser, formURL *url.URL, body, action string, follow bool) (*http.Response, string) {
	b.t.Helper()
	req := match(b.t, requestField, body, "issuer sign-in request")
	act, err := formURL.Parse(match(b.t, formAction, body, "issuer form action"))
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{"request": {req}, "csrf": {match(b.t, csrfField, body, "issuer CSRF token")}, "action": {action}}
	if action == "login" {
		form.Set("username", userName)
		form.Set("password", userPass)
	}
	return b.post(act.String(), form, follow, nil)
}

// login runs the whole login from /login on a and returns the final page.
func (f *fixture) login(b *browser, a *app, returnTo string) (*http.Response, string) {
	b.t.Helper()
	u := a.url("/login")
	if returnTo != "" {
		u += "?return_to=" + url.QueryEscape(returnTo)
	}
	resp, body := b.get(u)
	if !strings.HasPrefix(resp.Request.URL.String(), f.issuerURL+"/v1/authorize") || resp.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /login ended at %d %s, want the issuer's sign-in form", resp.StatusCode, resp.Request.URL)
	}
	return f.submitLogin(b, resp.Request.URL, body, "login", true)
}

// sessionCookie returns b's session cookie for a.
func sessionCookie(t *testing.T, b *browser, a *app) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "apiguard_session" {
			return c
		}
	}
	return nil
}

// firstLogin makes a Service for cfg and answers one GET /login with it:
// the first request after start-up, the one that fetches the issuer's
// discovery document.
func firstLogin(t *testing.T, cfg login.Config) *httptest.ResponseRecorder {
	t.Helper()
	svc, err := login.New(cfg)
	if err != nil {
		t.Fatalf("login.New: %v", err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, cfg.PublicURL+"/login", nil))
	return rec
}
