package login_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/login"
)

// ownClient is a development issuer whose one client has secret ("":
// public) and a login service using it, for tests the shared fixture's
// confidential client cannot make. onToken, when set, sees every token
// request with its form; the refresh token last issued is returned by the
// function ownClient returns.
func ownClient(t *testing.T, secret string, onToken func(r *http.Request, form url.Values)) (*fixture, func() string) {
	t.Helper()
	mux := http.NewServeMux()
	appSrv := httptest.NewUnstartedServer(mux)
	appSrv.Config.ErrorLog = panicLog(t)
	appSrv.Start()
	t.Cleanup(appSrv.Close)
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{
		ClientID: clientID, ClientSecret: clientSecret, Username: userName, Password: userPass, BaseURLs: []string{appSrv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	cfg.Now = clk.Now
	if secret == "" {
		cfg.Clients[0].Secret, cfg.Clients[0].GrantTypes = "", nil // public: authorization_code and refresh_token
	}
	var (
		mu      sync.Mutex
		refresh string
	)
	s := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(issuer http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/token") {
				b, _ := io.ReadAll(r.Body)
				form, _ := url.ParseQuery(string(b))
				if onToken != nil {
					onToken(r, form)
				}
				r.Body = io.NopCloser(strings.NewReader(string(b)))
				rewriteJSON(w, r, issuer, func(m map[string]any) {
					if rt, ok := m["refresh_token"].(string); ok {
						mu.Lock()
						refresh = rt
						mu.Unlock()
					}
				})
				return
			}
			issuer.ServeHTTP(w, r)
		})
	}))
	svc, err := login.New(login.Config{Issuer: s.URL, ClientID: clientID, ClientSecret: secret, PublicURL: appSrv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(mux)
	f := &fixture{clock: clk, issuer: s.Issuer, issuerSrv: s.HTTP, issuerURL: s.URL, apps: []*app{{srv: appSrv, svc: svc}}}
	return f, func() string {
		mu.Lock()
		defer mu.Unlock()
		return refresh
	}
}

// TestPublicClientLogoutRevokes: a public client (no secret) identifies
// itself with client_id in the revocation request's form, so the issuer
// revokes the session's refresh token at logout.
func TestPublicClientLogoutRevokes(t *testing.T) {
	f, lastRefresh := ownClient(t, "", nil)
	b := newBrowser(t)
	resp, body := f.login(b, f.apps[0], "")
	rt := lastRefresh()
	if resp.StatusCode != http.StatusOK || rt == "" {
		t.Fatalf("public client login: %d, refresh token %q; want 200 and a refresh token", resp.StatusCode, rt)
	}
	resp, _ = b.post(f.apps[0].url("/logout"), url.Values{"csrf": {match(t, csrfField, body, "CSRF field")}}, false, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d, want 303", resp.StatusCode)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}
	res, err := http.PostForm(f.issuerURL+"/v1/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got struct{ Error string }
	_ = json.NewDecoder(res.Body).Decode(&got)
	if res.StatusCode != http.StatusBadRequest || got.Error != "invalid_grant" {
		t.Errorf("refresh with the logged-out session's refresh token: %d %q, want 400 invalid_grant (revoked at logout)", res.StatusCode, got.Error)
	}
}

// TestClientAuthentication: a confidential client authenticates at the
// token endpoint with HTTP Basic (client_secret_basic, what an Okta app
// expects by default), never with its secret in the form; a public client
// sends its client_id in the form and no Authorization header.
func TestClientAuthentication(t *testing.T) {
	for _, secret := range []string{clientSecret, ""} {
		var (
			mu   sync.Mutex
			seen []string
		)
		f, _ := ownClient(t, secret, func(r *http.Request, form url.Values) {
			id, sec, basic := r.BasicAuth()
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, form.Get("grant_type"))
			switch {
			case secret != "" && (!basic || id != clientID || sec != clientSecret || form.Has("client_secret")):
				t.Errorf("confidential client's %s request: Basic %v %q, form %v; want Basic credentials only", form.Get("grant_type"), basic, id, form)
			case secret == "" && (basic || form.Get("client_id") != clientID || form.Has("client_secret")):
				t.Errorf("public client's %s request: Basic %v, form %v; want client_id in the form only", form.Get("grant_type"), basic, form)
			}
		})
		resp, _ := f.login(newBrowser(t), f.apps[0], "")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("secret %q: login ended at %d %s, want 200", secret, resp.StatusCode, resp.Request.URL)
		}
		mu.Lock()
		if len(seen) != 1 || seen[0] != "authorization_code" {
			t.Errorf("secret %q: token requests %q, want one authorization_code", secret, seen)
		}
		mu.Unlock()
	}
}
