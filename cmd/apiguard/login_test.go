package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/redistest"
)

const (
	devUser = "ada@example.com"
	devPass = "correct horse battery staple"
)

// browser is an HTTP client with a cookie jar, like a browser without
// JavaScript.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, client: &http.Client{Jar: jar}}
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	res, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenTag  = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// submit posts the first form of page (at pageURL) with its hidden fields
// plus fields.
func (b *browser) submit(pageURL *url.URL, page string, fields url.Values) (*http.Response, string) {
	b.t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form on %s:\n%s", pageURL, page)
	}
	action, err := pageURL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{}
	for _, h := range hiddenTag.FindAllStringSubmatch(page, -1) {
		form.Set(h[1], html.UnescapeString(h[2]))
	}
	for k, v := range fields {
		form[k] = v
	}
	return b.post(action.String(), form)
}

// logIn opens /profile at base, is sent to the issuer's form, and signs in.
func (b *browser) logIn(base string) string {
	b.t.Helper()
	res, page := b.get(base + "/profile")
	if res.StatusCode != 200 || !strings.Contains(res.Request.URL.Path, "/v1/authorize") {
		b.t.Fatalf("GET /profile ended at %d %s, want the issuer's sign-in form", res.StatusCode, res.Request.URL)
	}
	res, page = b.submit(res.Request.URL, page, url.Values{"username": {devUser}, "password": {devPass}, "action": {"login"}})
	if res.StatusCode != 200 || res.Request.URL.Path != "/profile" {
		b.t.Fatalf("after signing in: %d at %s\n%s", res.StatusCode, res.Request.URL, page)
	}
	return page
}

// logOut posts the logout form of the profile page.
func (b *browser) logOut(base, profile string) string {
	b.t.Helper()
	u, _ := url.Parse(base + "/profile")
	res, page := b.submit(u, profile, nil)
	if res.StatusCode != 200 || res.Request.URL.Path != "/logout/callback" || !strings.Contains(page, "Log in") {
		b.t.Fatalf("after logging out: %d at %s\n%s", res.StatusCode, res.Request.URL, page)
	}
	return page
}

func TestServeBrowserLoginEmbeddedIssuer(t *testing.T) {
	s := startServe(t, map[string]string{"APIGUARD_DEV_USER": devUser, "APIGUARD_DEV_PASSWORD": devPass})
	b := newBrowser(t)
	profile := b.logIn(s.url)
	for _, want := range []string{devUser, "Engineering", "api:read"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile lacks %q:\n%s", want, profile)
		}
	}
	if strings.Contains(profile, "eyJ") {
		t.Error("the profile page shows a token")
	}

	// The session also opens /secure-data, with the access token's claims.
	res, body := b.get(s.url + "/secure-data")
	if res.StatusCode != 200 || !strings.Contains(body, `"sub":"`+devUser+`"`) || !strings.Contains(body, `"aud":"api://default"`) {
		t.Errorf("/secure-data with the session: %d %s", res.StatusCode, body)
	}

	b.logOut(s.url, profile)
	res, _ = b.get(s.url + "/profile")
	if !strings.Contains(res.Request.URL.Path, "/v1/authorize") {
		t.Errorf("after logout /profile ended at %s, want the issuer's sign-in form", res.Request.URL)
	}
	if res, _ := b.get(s.url + "/secure-data"); res.StatusCode != 401 {
		t.Errorf("/secure-data after logout: %d, want 401", res.StatusCode)
	}
}

// switchProxy is a load balancer whose backend the test chooses.
type switchProxy struct{ target atomic.Pointer[url.URL] }

func (p *switchProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(p.target.Load())
		pr.Out.Host = pr.In.Host // the instances see the public host, as behind a real balancer
	}}
	rp.ServeHTTP(w, r)
}

func (p *switchProxy) use(t *testing.T, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p.target.Store(u)
}

// TestServeLoginSharedThroughRedis: two serve instances behind one public
// URL share sessions through a real redis-server: log in through A, use the
// session on B, log out on B, and A no longer knows the session.
func TestServeLoginSharedThroughRedis(t *testing.T) {
	redisServer := redistest.New(t)
	redisAddr := redisServer.Addr()
	lb := &switchProxy{}
	lbServer := httptest.NewServer(lb)
	t.Cleanup(lbServer.Close)

	dcfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{
		ClientID: "0oa-shared", ClientSecret: "shared-secret-0123456789",
		Username: devUser, Password: devPass, BaseURLs: []string{lbServer.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	issuerURL := devissuertest.NewServer(t, dcfg).URL

	env := map[string]string{
		"OKTA_ISSUER": issuerURL, "OKTA_CLIENT_ID": "0oa-shared", "OKTA_CLIENT_SECRET": "shared-secret-0123456789",
		"APIGUARD_PUBLIC_URL": lbServer.URL, "APIGUARD_REDIS_URL": "redis://" + redisAddr + "/0",
		"APIGUARD_SESSION_SECRET": "0123456789abcdef0123456789abcdef-shared",
	}
	a := startServe(t, env)
	b := startServe(t, env)

	br := newBrowser(t)
	lb.use(t, a.url)
	profile := br.logIn(lbServer.URL)

	lb.use(t, b.url)
	res, page := br.get(lbServer.URL + "/profile")
	if res.StatusCode != 200 || res.Request.URL.Path != "/profile" || !strings.Contains(page, devUser) {
		t.Fatalf("instance B does not know the session made on A: %d at %s", res.StatusCode, res.Request.URL)
	}
	br.logOut(lbServer.URL, profile)

	lb.use(t, a.url)
	res, _ = br.get(lbServer.URL + "/profile")
	if !strings.Contains(res.Request.URL.Path, "/v1/authorize") {
		t.Errorf("instance A still knows the session after logout on B: ended at %s", res.Request.URL)
	}

	// Redis down: login answers 503 with a clear page; bearer tokens work.
	tokenRes, err := http.PostForm(issuerURL+"/v1/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"0oa-shared"}, "client_secret": {"shared-secret-0123456789"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(tokenRes.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("client credentials: %v", err)
	}
	tokenRes.Body.Close()
	redisServer.Stop()
	res, page = newBrowser(t).get(a.url + "/login")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(strings.ToLower(page), "unavailable") {
		t.Errorf("/login with Redis down: %d\n%s", res.StatusCode, page)
	}
	if r := do(t, "GET", a.url+"/secure-data", map[string]string{"Authorization": "Bearer " + tok.AccessToken}); r.status != 200 {
		t.Errorf("bearer token with Redis down: %d %s", r.status, r.raw)
	}
}
