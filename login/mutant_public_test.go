package login_test

import (
	"encoding/json"
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

// TestPublicClientLogoutRevokes: a public client (no secret) identifies
// itself with client_id in the revocation request's form, so the issuer
// revokes the session's refresh token at logout.
func TestPublicClientLogoutRevokes(t *testing.T) {
	mux := http.NewServeMux()
	appSrv := httptest.NewServer(mux)
	t.Cleanup(appSrv.Close)
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{
		ClientID: clientID, ClientSecret: clientSecret, Username: userName, Password: userPass, BaseURLs: []string{appSrv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk := fakeclock.New(time.Now().Truncate(time.Second))
	cfg.Now = clk.Now
	cfg.Clients[0].Secret, cfg.Clients[0].GrantTypes = "", nil // public: authorization_code and refresh_token
	var (
		mu      sync.Mutex
		refresh string
	)
	s := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(issuer http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v1/token") {
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
	svc, err := login.New(login.Config{Issuer: s.URL, ClientID: clientID, PublicURL: appSrv.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(mux)
	f := &fixture{clock: clk, issuer: s.Issuer, issuerSrv: s.HTTP, issuerURL: s.URL, apps: []*app{{srv: appSrv, svc: svc}}}
	b := newBrowser(t)
	resp, body := f.login(b, f.apps[0], "")
	mu.Lock()
	rt := refresh
	mu.Unlock()
	if resp.StatusCode != http.StatusOK || rt == "" {
		t.Fatalf("public client login: %d, refresh token %q; want 200 and a refresh token", resp.StatusCode, rt)
	}
	resp, _ = b.post(f.apps[0].url("/logout"), url.Values{"csrf": {match(t, csrfField, body, "CSRF field")}}, false, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d, want 303", resp.StatusCode)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}}
	res, err := http.PostForm(s.URL+"/v1/token", form)
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
