package gateway_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/gateway"
)

func TestExampleConfig(t *testing.T) {
	cfg, err := gateway.LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if got, want := len(cfg.Routes), 5; got != want {
		t.Fatalf("got %d routes, want %d", got, want)
	}
	if got, want := cfg.Routes[4].Upstream, "http://127.0.0.1:9100/v1"; got != want {
		t.Errorf("got routes[4].upstream %q, want %q", got, want)
	}
	if !cfg.Routes[4].ForwardToken || cfg.Routes[1].ForwardToken {
		t.Errorf("got forward_token %v/%v, want only the legacy route", cfg.Routes[1].ForwardToken, cfg.Routes[4].ForwardToken)
	}
	if got := cfg.Routes[3].Claims["cid"]; len(got) != 1 || got[0] != "0oa-admin-client" {
		t.Errorf("got claims.cid %q, want [0oa-admin-client]", got)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const head = "upstream: http://127.0.0.1:9000\nroutes:\n"
	tests := []struct {
		name   string
		config string
		want   []string // every one must appear in the error
	}{
		{"empty", "", []string{"empty"}},
		{"unknown top-level field", "listn: :80\n" + head + "  - path: /a\n", []string{"line 1", "listn"}},
		{"unknown route field", head + "  - path: /a\n    scope: [x]\n", []string{"line 4", "scope"}},
		{"wrong type", head + "  - path: /a\n    public: maybe\n", []string{"line 4"}},
		{"duplicate key", head + "  - path: /a\n    path: /b\n", []string{"line 4", "path"}},
		{"two documents", head + "  - path: /a\n---\nlisten: x\n", []string{"one YAML document"}},
		{"no routes", "upstream: http://127.0.0.1:9000\n", []string{"routes"}},
		{"bad glob", head + "  - path: /a\n  - path: /b*\n", []string{"line 4", "routes[1]", "bad glob"}},
		{"relative glob", head + "  - path: a/b\n", []string{"routes[0]", "start with /"}},
		{"missing path", head + "  - public: true\n", []string{"routes[0]", "path is required"}},
		{"unknown method", head + "  - path: /a\n    methods: [GETT]\n", []string{"line 3", "unknown method", "GETT"}},
		{"public with scopes", head + "  - path: /a\n    public: true\n    scopes: [x]\n", []string{"routes[0]", "public"}},
		{"public with claims", head + "  - path: /a\n    public: true\n    claims: {cid: [x]}\n", []string{"public"}},
		{"claim without values", head + "  - path: /a\n    claims: {cid: []}\n", []string{"claims.cid"}},
		{"scope with space", head + "  - path: /a\n    scopes: [\"a b\"]\n", []string{"bad scope"}},
		{"bad upstream scheme", "upstream: ftp://x\nroutes:\n  - path: /a\n", []string{"upstream", "scheme"}},
		{"upstream without host", "upstream: http://\nroutes:\n  - path: /a\n", []string{"upstream", "host"}},
		{"upstream with query", "upstream: http://x/?a=1\nroutes:\n  - path: /a\n", []string{"upstream", "query"}},
		{"upstream with credentials", "upstream: http://u:p@x/\nroutes:\n  - path: /a\n", []string{"upstream", "credentials"}},
		{"bad route upstream", head + "  - path: /a\n    upstream: localhost:9000\n", []string{"routes[0]", "upstream"}},
		{"bad listen", "listen: nope\n" + head + "  - path: /a\n", []string{"listen"}},
		{"same admin_listen", "listen: 127.0.0.1:1\nadmin_listen: 127.0.0.1:1\n" + head + "  - path: /a\n", []string{"admin_listen"}},
		{"bad issuer", "issuer: example.com\n" + head + "  - path: /a\n", []string{"issuer"}},
		{"bad public_url", "public_url: api.example.com\n" + head + "  - path: /a\n", []string{"public_url"}},
		{"public_url with query", "public_url: https://api.example.com/?a=1\n" + head + "  - path: /a\n", []string{"public_url"}},
		{"bad introspection", "introspection: sometimes\n" + head + "  - path: /a\n", []string{"introspection", "sometimes"}},
		{"bad introspection_cache_ttl", "introspection_cache_ttl: soon\n" + head + "  - path: /a\n", []string{"introspection_cache_ttl"}},
		{"negative introspection_cache_ttl", "introspection_cache_ttl: -1s\n" + head + "  - path: /a\n", []string{"introspection_cache_ttl"}},
		{"bad dpop", "dpop: maybe\n" + head + "  - path: /a\n", []string{"dpop", "maybe"}},
		{"dpop_nonce with dpop off", "dpop: off\ndpop_nonce: true\n" + head + "  - path: /a\n", []string{"dpop_nonce"}},
		{"dpop_nonce not a boolean", "dpop_nonce: sometimes\n" + head + "  - path: /a\n", []string{"line 1"}},
		{"shadowed route", head + "  - path: /a/**\n  - path: /a/**\n    methods: [GET]\n", []string{"routes[1]", "never matches"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gateway.ParseConfig([]byte(tt.config))
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestParseConfigAccepts(t *testing.T) {
	// Same path, disjoint methods: both routes can match, so both are kept.
	cfg, err := gateway.ParseConfig([]byte("routes:\n  - path: /a/**\n    methods: [GET]\n  - path: /a/**\n    methods: [post]\n"))
	if err != nil {
		t.Fatalf("ParseConfig: %v", err)
	}
	if got := len(cfg.Routes); got != 2 {
		t.Errorf("got %d routes, want 2", got)
	}
}

func TestParseConfigTokenSettings(t *testing.T) {
	tests := []struct {
		config string
		want   string // public_url introspection ttl dpop nonce
	}{
		{"", "    <nil>"},
		{"public_url: https://api.example.com/base\nintrospection: always\nintrospection_cache_ttl: 0s\ndpop: required\ndpop_nonce: true\n",
			"https://api.example.com/base always 0s required true"},
		{"introspection: OPAQUE\ndpop: off\ndpop_nonce: false\n", " OPAQUE  off false"},
		{"dpop: on\n", "   on <nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			cfg, err := gateway.ParseConfig([]byte(tt.config + "routes:\n  - path: /**\n"))
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			nonce := "<nil>"
			if cfg.DPoPNonce != nil {
				nonce = fmt.Sprint(*cfg.DPoPNonce)
			}
			got := strings.Join([]string{cfg.PublicURL, cfg.Introspection, cfg.IntrospectionCacheTTL, cfg.DPoP, nonce}, " ")
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadConfigNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte("routes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("got error %v, want it to name %s", err, path)
	}
	if _, err := gateway.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("got error %v, want a not-exist error", err)
	}
}

// TestParseConfigAuthProxy: auth_proxy takes nginx, traefik or caddy (any
// case, empty for nginx); another value is ErrAuthProxy, naming the setting.
func TestParseConfigAuthProxy(t *testing.T) {
	for _, v := range []string{"", "nginx", "traefik", "caddy", "Caddy"} {
		t.Run("accepts "+v, func(t *testing.T) {
			if _, err := gateway.ParseConfig([]byte("auth_proxy: " + v + "\nroutes:\n  - path: /**\n")); err != nil {
				t.Errorf("got %v, want no error", err)
			}
		})
	}
	for _, v := range []string{"haproxy", "envoy", "nginx traefik"} {
		t.Run("refuses "+v, func(t *testing.T) {
			_, err := gateway.ParseConfig([]byte("auth_proxy: " + v + "\nroutes:\n  - path: /**\n"))
			if !errors.Is(err, gateway.ErrAuthProxy) {
				t.Fatalf("got %v, want ErrAuthProxy", err)
			}
			if !strings.Contains(err.Error(), "auth_proxy") {
				t.Errorf("got %q, want it to name auth_proxy", err)
			}
		})
	}
}
