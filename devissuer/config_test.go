package devissuer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
)

const sampleYAML = `
audience: api://tests
access_token_ttl: 15m
scopes:
  - {name: "orders:read", default: true}
  - {name: "orders:write"}
clients:
  - id: shop
    secret: shop-secret
    redirect_uris: [http://localhost:8080/cb]
    post_logout_redirect_uris: [http://localhost:8080/]
users:
  - {username: bob@example.com, password: pw, groups: [Everyone]}
`

func TestLoadConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "issuer.yaml")
	if err := os.WriteFile(path, []byte(sampleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := devissuer.LoadConfig(path)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	cfg.Issuer = "http://127.0.0.1:9/oauth2/default"
	iss, err := devissuer.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	got := iss.Config()
	if got.Audience != "api://tests" || got.AccessTokenTTL != 15*time.Minute || got.IDTokenTTL != time.Hour {
		t.Errorf("got audience %q, access TTL %v, ID TTL %v; want api://tests, 15m, 1h", got.Audience, got.AccessTokenTTL, got.IDTokenTTL)
	}
	if got.KeyGrace != time.Hour {
		t.Errorf("got key grace %v, want 1h (the longest token life)", got.KeyGrace)
	}
	c := got.Clients[0]
	if !slices.Equal(c.Scopes, []string{"orders:read", "orders:write"}) || len(c.GrantTypes) != 3 {
		t.Errorf("got client scopes %v grants %v, want all custom scopes and all grants", c.Scopes, c.GrantTypes)
	}
	u := got.Users[0]
	if u.ID == "" || u.Email != "bob@example.com" || u.Name != "bob@example.com" {
		t.Errorf("got user id %q email %q name %q, want defaults from the username", u.ID, u.Email, u.Name)
	}

	t.Run("missing file", func(t *testing.T) {
		if _, err := devissuer.LoadConfig(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
			t.Error("got no error, want one")
		}
	})
}

func TestParseConfigRefusesUnknownFields(t *testing.T) {
	_, err := devissuer.ParseConfig([]byte("clients:\n  - id: a\n    redirect_uri: http://x/cb\n"))
	if err == nil || !strings.Contains(err.Error(), "redirect_uri") {
		t.Errorf("got %v, want an error naming the unknown field", err)
	}
}

func TestNewValidates(t *testing.T) {
	valid := func() devissuer.Config {
		return devissuer.Config{
			Issuer:  "http://127.0.0.1:5000/oauth2/default",
			Clients: []devissuer.Client{{ID: "a", Secret: "s"}},
		}
	}
	tests := []struct {
		name   string
		change func(*devissuer.Config)
		want   string // in the error; "" for success
	}{
		{"valid", func(*devissuer.Config) {}, ""},
		{"no issuer", func(c *devissuer.Config) { c.Issuer = "" }, "Issuer"},
		{"issuer with trailing slash", func(c *devissuer.Config) { c.Issuer += "/" }, "trailing slash"},
		{"issuer not http", func(c *devissuer.Config) { c.Issuer = "ftp://x/oauth2/default" }, "http(s)"},
		{"issuer with query", func(c *devissuer.Config) { c.Issuer += "?a=b" }, "no query"},
		{"issuer with user info", func(c *devissuer.Config) { c.Issuer = "http://u:p@127.0.0.1/oauth2/default" }, "http(s)"},
		{"issuer path with a pattern", func(c *devissuer.Config) { c.Issuer = "http://127.0.0.1/oauth2/{x}" }, "path"},
		{"issuer path with a space", func(c *devissuer.Config) { c.Issuer = "http://127.0.0.1/oauth2/a%20b" }, "path"},
		{"issuer at the root", func(c *devissuer.Config) { c.Issuer = "http://127.0.0.1:5000" }, ""},
		{"no clients", func(c *devissuer.Config) { c.Clients = nil }, "client"},
		{"duplicate client", func(c *devissuer.Config) { c.Clients = append(c.Clients, c.Clients[0]) }, "twice"},
		{"unknown grant", func(c *devissuer.Config) { c.Clients[0].GrantTypes = []string{"password"} }, "password"},
		{"public client with client credentials", func(c *devissuer.Config) {
			c.Clients[0].Secret = ""
			c.Clients[0].GrantTypes = []string{devissuer.GrantClientCredentials}
		}, "client_credentials"},
		{"client scope not defined", func(c *devissuer.Config) { c.Clients[0].Scopes = []string{"x"} }, `"x"`},
		{"built-in scope configured", func(c *devissuer.Config) { c.Scopes = []devissuer.Scope{{Name: "openid"}} }, "built in"},
		{"scope with a space", func(c *devissuer.Config) { c.Scopes = []devissuer.Scope{{Name: "a b"}} }, "valid scope"},
		{"relative redirect URI", func(c *devissuer.Config) { c.Clients[0].RedirectURIs = []string{"/cb"} }, "absolute"},
		{"user without password", func(c *devissuer.Config) { c.Users = []devissuer.User{{Username: "u"}} }, "password"},
		{"negative TTL", func(c *devissuer.Config) { c.AccessTokenTTL = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.change(&cfg)
			_, err := devissuer.New(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Run("given credentials", func(t *testing.T) {
		cfg, gen, err := devissuer.DefaultConfig(devissuer.Defaults{
			ClientID: "0oaX", ClientSecret: "sec", Username: "me@example.com", Password: "pw",
			BaseURLs: []string{"http://127.0.0.1:8080/", "https://api.example.com"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if gen != (devissuer.Generated{}) {
			t.Errorf("got generated %+v, want nothing generated", gen)
		}
		c := cfg.Clients[0]
		if c.ID != "0oaX" || c.Secret != "sec" {
			t.Errorf("got client %q/%q, want 0oaX/sec", c.ID, c.Secret)
		}
		wantRedirects := []string{"http://127.0.0.1:8080/login/callback", "https://api.example.com/login/callback"}
		wantLogout := []string{"http://127.0.0.1:8080/logout/callback", "https://api.example.com/logout/callback"}
		if !slices.Equal(c.RedirectURIs, wantRedirects) || !slices.Equal(c.PostLogoutRedirectURIs, wantLogout) {
			t.Errorf("got redirects %v %v, want %v %v", c.RedirectURIs, c.PostLogoutRedirectURIs, wantRedirects, wantLogout)
		}
		u := cfg.Users[0]
		if u.Username != "me@example.com" || u.Password != "pw" || !slices.Equal(u.Groups, []string{"Everyone", "Engineering"}) {
			t.Errorf("got user %+v, want me@example.com/pw in Everyone, Engineering", u)
		}
	})

	t.Run("generated credentials", func(t *testing.T) {
		cfg, gen, err := devissuer.DefaultConfig(devissuer.Defaults{Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 1024))})
		if err != nil {
			t.Fatal(err)
		}
		if gen != (devissuer.Generated{ClientID: true, ClientSecret: true, Username: true, Password: true}) {
			t.Errorf("got generated %+v, want all four", gen)
		}
		c := cfg.Clients[0]
		if !strings.HasPrefix(c.ID, "0oa") || len(c.Secret) < 32 || len(cfg.Users[0].Password) < 12 {
			t.Errorf("got client %q secret length %d password length %d, want an Okta-like id and long secrets",
				c.ID, len(c.Secret), len(cfg.Users[0].Password))
		}
		want := []string{"http://localhost:5000/login/callback", "http://127.0.0.1:5000/login/callback"}
		if !slices.Equal(c.RedirectURIs, want) {
			t.Errorf("got redirect URIs %v, want the tutorial's %v", c.RedirectURIs, want)
		}
		cfg.Issuer = "http://127.0.0.1:5000/oauth2/default"
		if _, err := devissuer.New(cfg); err != nil {
			t.Errorf("New(default config): %v", err)
		}
	})

	t.Run("two calls generate different secrets", func(t *testing.T) {
		a, _, _ := devissuer.DefaultConfig(devissuer.Defaults{})
		b, _, _ := devissuer.DefaultConfig(devissuer.Defaults{})
		if a.Clients[0].Secret == b.Clients[0].Secret {
			t.Error("two default configurations share a client secret")
		}
	})
}
