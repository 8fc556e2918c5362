package devissuertest_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
)

func TestNewServer(t *testing.T) {
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: "client", ClientSecret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuer = "http://ignored.example/oauth2/default"
	var requests atomic.Int64
	s := devissuertest.NewServer(t, cfg, devissuertest.Wrap(func(issuer http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests.Add(1)
			issuer.ServeHTTP(w, r)
		})
	}))
	if want := s.HTTP.URL + devissuertest.Path; s.URL != want || s.Issuer.URL() != want {
		t.Fatalf("URL %q, Issuer.URL() %q; want %q", s.URL, s.Issuer.URL(), want)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Errorf("URL %q is not on loopback", s.URL)
	}

	res, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var meta struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(res.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	if meta.Issuer != s.URL || meta.TokenEndpoint != s.Endpoint("token") {
		t.Errorf("discovery: issuer %q, token endpoint %q; want %q, %q", meta.Issuer, meta.TokenEndpoint, s.URL, s.Endpoint("token"))
	}

	tok, err := http.PostForm(s.Endpoint("token"), url.Values{"grant_type": {"client_credentials"},
		"client_id": {"client"}, "client_secret": {"secret"}})
	if err != nil {
		t.Fatal(err)
	}
	tok.Body.Close()
	if tok.StatusCode != http.StatusOK {
		t.Errorf("client credentials: status %d, want 200", tok.StatusCode)
	}
	if got := requests.Load(); got != 2 {
		t.Errorf("the wrapper saw %d requests, want 2", got)
	}
}

func TestNewServerStopsAtCleanup(t *testing.T) {
	var s *devissuertest.Server
	t.Run("inner", func(t *testing.T) {
		cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{})
		if err != nil {
			t.Fatal(err)
		}
		s = devissuertest.NewServer(t, cfg)
	})
	if res, err := http.Get(s.URL + "/v1/keys"); err == nil {
		res.Body.Close()
		t.Errorf("the server still answers after its test ended: status %d", res.StatusCode)
	}
}
