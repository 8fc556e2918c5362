package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/testwait"
)

// gwClearEnv isolates a test from the developer's settings.
func gwClearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"OKTA_ISSUER", "OKTA_AUDIENCE", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "APIGUARD_GATEWAY_CONFIG",
		"APIGUARD_LOG_FORMAT", "APIGUARD_LOG_LEVEL", "APIGUARD_PUBLIC_URL", "APIGUARD_REDIS_URL", "APIGUARD_SESSION_SECRET",
		"APIGUARD_INTROSPECTION_CLIENT_ID", "APIGUARD_INTROSPECTION", "APIGUARD_INTROSPECTION_CACHE_TTL", "APIGUARD_DPOP", "APIGUARD_DPOP_NONCE",
		"APIGUARD_AUTH_PROXY"} {
		t.Setenv(k, "")
	}
}

// gwDevIssuer runs the development issuer on loopback with one service
// client allowed the orders:read scope.
func gwDevIssuer(t *testing.T) string {
	t.Helper()
	return devissuertest.NewServer(t, devissuer.Config{
		Scopes:  []devissuer.Scope{{Name: "orders:read"}},
		Clients: []devissuer.Client{{ID: "svc", Secret: "svc-secret-for-tests-only-0123456789"}},
	}).URL
}

// gwToken gets an access token from the development issuer by client credentials.
func gwToken(t *testing.T, issuerURL, scope string) string {
	t.Helper()
	req, err := http.NewRequest("POST", issuerURL+"/v1/token", strings.NewReader(url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
	}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("svc", "svc-secret-for-tests-only-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token response %d: %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

type runningGateway struct {
	addr, admin string
	stderr      *syncBuffer
}

// startGateway runs `apiguard gateway args…` until the test ends.
func startGateway(t *testing.T, args ...string) *runningGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &runningGateway{stderr: &syncBuffer{}}
	addrc := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runGatewayNotify(ctx, args, &syncBuffer{}, g.stderr, func(addr, admin string) { addrc <- [2]string{addr, admin} })
	}()
	stopped := false // done has been read
	t.Cleanup(func() {
		cancel()
		if stopped {
			return
		}
		if err := <-done; err != nil {
			t.Errorf("gateway returned %v after shutdown, want nil", err)
		}
	})
	select {
	case a := <-addrc:
		g.addr, g.admin = a[0], a[1]
	case err := <-done:
		stopped = true
		t.Fatalf("gateway stopped before listening: %v; stderr: %s", err, g.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not listen within 30s")
	}
	return g
}

func gwGet(t *testing.T, rawURL, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp, buf.Bytes()
}

// gwEventually polls cond until it holds, failing the test after a deadline.
var gwEventually = testwait.For

func writeGatewayConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestGatewayCommand(t *testing.T) {
	gwClearEnv(t)
	issuerURL := gwDevIssuer(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Client", r.Header.Get("X-Auth-Client-Id"))
		w.Header().Set("X-Seen-Authorization", r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("upstream " + r.URL.Path))
	}))
	t.Cleanup(up.Close)
	path := writeGatewayConfig(t, `
listen: 127.0.0.1:1  # overridden by --addr
upstream: `+up.URL+`
issuer: http://127.0.0.1:1/not-this-one  # overridden by OKTA_ISSUER
routes:
  - path: /public/**
    public: true
  - path: /orders/**
    scopes: [orders:read]
`)
	t.Setenv("OKTA_ISSUER", issuerURL)
	// Checked once the gateway has stopped (cleanups run last-registered
	// first), when every log line it buffered has been written.
	var token string
	var g *runningGateway
	t.Cleanup(func() {
		if token != "" && strings.Contains(g.stderr.String(), token) {
			t.Error("the token appears in the log")
		}
	})
	g = startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	base := "http://" + g.addr

	gwEventually(t, "readiness", func() bool {
		resp, _ := gwGet(t, base+"/readyz", "")
		return resp.StatusCode == 200
	})
	if resp, body := gwGet(t, base+"/public/x", ""); resp.StatusCode != 200 || string(body) != "upstream /public/x" {
		t.Errorf("public: got %d %q, want 200 from the upstream", resp.StatusCode, body)
	}
	if resp, _ := gwGet(t, base+"/orders/1", ""); resp.StatusCode != 401 {
		t.Errorf("no token: got %d, want 401", resp.StatusCode)
	}
	token = gwToken(t, issuerURL, "orders:read")
	resp, body := gwGet(t, base+"/orders/1", token)
	if resp.StatusCode != 200 {
		t.Fatalf("with token: got %d %s, want 200", resp.StatusCode, body)
	}
	if got := resp.Header.Get("X-Seen-Client"); got != "svc" {
		t.Errorf("upstream saw X-Auth-Client-Id %q, want svc", got)
	}
	if got := resp.Header.Get("X-Seen-Authorization"); got != "" {
		t.Errorf("upstream saw Authorization %q, want none", got)
	}

	// A real SIGHUP reloads the file.
	if err := os.WriteFile(path, []byte("upstream: "+up.URL+"\nroutes:\n  - path: /**\n    public: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	gwEventually(t, "a reload by signal", func() bool { return strings.Contains(g.stderr.String(), "trigger=signal") })
	if resp, _ := gwGet(t, base+"/orders/1", ""); resp.StatusCode != 200 {
		t.Errorf("after reload: got %d for /orders/1 without a token, want 200", resp.StatusCode)
	}
}

func TestGatewayCommandAdminListener(t *testing.T) {
	gwClearEnv(t)
	issuerURL := gwDevIssuer(t)
	path := writeGatewayConfig(t, "admin_listen: 127.0.0.1:0\nissuer: "+issuerURL+"\nroutes:\n  - path: /**\n")
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	if g.admin == "" {
		t.Fatal("got no admin address")
	}
	gwEventually(t, "readiness on the admin listener", func() bool {
		resp, _ := gwGet(t, "http://"+g.admin+"/readyz", "")
		return resp.StatusCode == 200
	})
	// Without an upstream the gateway only decides.
	token := gwToken(t, issuerURL, "orders:read")
	req, _ := http.NewRequest("GET", "http://"+g.admin+"/auth", nil)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-Uri", "/anything")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Auth-Client-Id") != "svc" {
		t.Errorf("/auth: got %d with X-Auth-Client-Id %q, want 200 and svc", resp.StatusCode, resp.Header.Get("X-Auth-Client-Id"))
	}
	if resp, _ := gwGet(t, "http://"+g.addr+"/healthz", token); resp.StatusCode != 404 {
		t.Errorf("main listener /healthz: got %d, want 404 (route without upstream)", resp.StatusCode)
	}
}

func TestGatewaySettingsErrors(t *testing.T) {
	good := "routes:\n  - path: /**\n    public: true\n"
	tests := []struct {
		name string
		file string // "" = no file
		env  map[string]string
		args []string
		want []string
	}{
		{"no issuer", good, nil, nil, []string{"OKTA_ISSUER", "required"}},
		{"placeholder issuer", good, map[string]string{"OKTA_ISSUER": "https://your-okta-domain/oauth2/default"}, nil, []string{"OKTA_ISSUER", "placeholder"}},
		{"bad issuer", good, map[string]string{"OKTA_ISSUER": "ftp://x"}, nil, []string{"OKTA_ISSUER"}},
		{"missing file", "", map[string]string{"OKTA_ISSUER": "https://example.okta.com/oauth2/default"}, nil, []string{"--config", "no such file"}},
		{"bad file", good + "    scopes: [x]\n", map[string]string{"OKTA_ISSUER": "https://example.okta.com/oauth2/default"}, nil, []string{"--config", "line 2", "public"}},
		{"bad addr", good, map[string]string{"OKTA_ISSUER": "https://example.okta.com/oauth2/default"}, []string{"--addr", "nope"}, []string{"--addr"}},
		{"bad log level", good, map[string]string{"OKTA_ISSUER": "https://example.okta.com/oauth2/default", "APIGUARD_LOG_LEVEL": "loud"}, nil, []string{"APIGUARD_LOG_LEVEL"}},
		{"unknown flag", good, nil, []string{"--nope"}, []string{"nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gwClearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := filepath.Join(t.TempDir(), "gateway.yaml")
			if tt.file != "" {
				path = writeGatewayConfig(t, tt.file)
			}
			args := append([]string{"--config", path}, tt.args...)
			err := runGateway(context.Background(), args, &syncBuffer{}, &syncBuffer{})
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
	t.Run("exit code", func(t *testing.T) {
		gwClearEnv(t)
		stderr := &syncBuffer{}
		path := writeGatewayConfig(t, good)
		if code := run(context.Background(), []string{"gateway", "--config", path}, strings.NewReader(""), &syncBuffer{}, stderr); code != 2 {
			t.Errorf("got exit code %d, want 2", code)
		}
		if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); lines != 0 || !strings.Contains(stderr.String(), "OKTA_ISSUER") {
			t.Errorf("got stderr %q, want one line naming OKTA_ISSUER", stderr.String())
		}
	})
}

func TestGatewaySettingsPrecedence(t *testing.T) {
	file := "listen: 127.0.0.1:7001\nissuer: https://file.example/oauth2/default\naudience: api://file\nclient_ids: [a, b]\nroutes:\n  - path: /**\n"
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		addr      string
		issuer    string
		audience  string
		clientIDs string
	}{
		{"file", nil, nil, "127.0.0.1:7001", "https://file.example/oauth2/default", "api://file", "a,b"},
		{"environment over file", map[string]string{"OKTA_ISSUER": "https://env.example/oauth2/default", "OKTA_AUDIENCE": "api://env", "OKTA_CLIENT_ID": "c"}, nil,
			"127.0.0.1:7001", "https://env.example/oauth2/default", "api://env", "c"},
		{"flags over environment", map[string]string{"OKTA_ISSUER": "https://env.example/oauth2/default"},
			[]string{"--issuer", "https://flag.example/oauth2/default", "--addr", "127.0.0.1:7002", "--audience", "api://flag"},
			"127.0.0.1:7002", "https://flag.example/oauth2/default", "api://flag", "a,b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gwClearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			path := writeGatewayConfig(t, file)
			cfg, err := parseGatewayConfig(append([]string{"--config", path}, tt.args...), &syncBuffer{})
			if err != nil {
				t.Fatalf("parseGatewayConfig: %v", err)
			}
			got := []string{cfg.addr, cfg.issuer, cfg.audience, strings.Join(cfg.clientIDs, ",")}
			want := []string{tt.addr, tt.issuer, tt.audience, tt.clientIDs}
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("got %q, want %q", got, want)
					break
				}
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		gwClearEnv(t)
		t.Setenv("OKTA_ISSUER", "https://env.example/oauth2/default")
		cfg, err := parseGatewayConfig([]string{"--config", writeGatewayConfig(t, "routes:\n  - path: /**\n")}, &syncBuffer{})
		if err != nil {
			t.Fatalf("parseGatewayConfig: %v", err)
		}
		if cfg.addr != "127.0.0.1:8080" || cfg.audience != "api://default" || len(cfg.clientIDs) != 0 {
			t.Errorf("got addr %q audience %q clients %q, want 127.0.0.1:8080, api://default, none", cfg.addr, cfg.audience, cfg.clientIDs)
		}
	})
}

// TestGatewayAuthProxySetting: --auth-proxy beats APIGUARD_AUTH_PROXY, which
// beats the file's auth_proxy; the default is nginx; a bad value stops
// start-up naming the setting, and -h documents it.
func TestGatewayAuthProxySetting(t *testing.T) {
	t.Run("precedence", func(t *testing.T) {
		tests := []struct {
			name string
			file string
			env  string
			args []string
			want string
		}{
			{"default", "", "", nil, "nginx"},
			{"file", "auth_proxy: traefik\n", "", nil, "traefik"},
			{"environment over file", "auth_proxy: traefik\n", "caddy", nil, "caddy"},
			{"flag over environment", "auth_proxy: traefik\n", "caddy", []string{"--auth-proxy", "nginx"}, "nginx"},
			{"case ignored", "", "Traefik", nil, "traefik"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				gwClearEnv(t)
				t.Setenv("OKTA_ISSUER", "https://env.example/oauth2/default")
				t.Setenv("APIGUARD_AUTH_PROXY", tt.env)
				path := writeGatewayConfig(t, tt.file+"routes:\n  - path: /**\n")
				cfg, err := parseGatewayConfig(append([]string{"--config", path}, tt.args...), &syncBuffer{})
				if err != nil {
					t.Fatalf("parseGatewayConfig: %v", err)
				}
				if cfg.authProxy != tt.want {
					t.Errorf("got auth proxy %q, want %q", cfg.authProxy, tt.want)
				}
			})
		}
	})
	t.Run("bad value", func(t *testing.T) {
		for _, tt := range []struct {
			name, env string
			args      []string
			want      string
		}{
			{"environment", "haproxy", nil, "APIGUARD_AUTH_PROXY"},
			{"flag", "", []string{"--auth-proxy", "envoy"}, "--auth-proxy"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				gwClearEnv(t)
				t.Setenv("OKTA_ISSUER", "https://env.example/oauth2/default")
				t.Setenv("APIGUARD_AUTH_PROXY", tt.env)
				path := writeGatewayConfig(t, "routes:\n  - path: /**\n")
				_, err := parseGatewayConfig(append([]string{"--config", path}, tt.args...), &syncBuffer{})
				var ue *usageError
				if !errors.As(err, &ue) {
					t.Fatalf("got %v, want a usage error", err)
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("got %q, want it to name %s", err, tt.want)
				}
			})
		}
	})
	t.Run("help", func(t *testing.T) {
		stderr := &syncBuffer{}
		if _, err := parseGatewayConfig([]string{"-h"}, stderr); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("got %v, want flag.ErrHelp", err)
		}
		for _, want := range []string{"-auth-proxy", "APIGUARD_AUTH_PROXY", "X-Original-URI", "X-Forwarded-Uri"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("got help without %q:\n%s", want, stderr.String())
			}
		}
	})
	t.Run("the running gateway trusts only the chosen pair", func(t *testing.T) {
		gwClearEnv(t)
		issuerURL := gwDevIssuer(t)
		t.Setenv("OKTA_ISSUER", issuerURL)
		t.Setenv("APIGUARD_AUTH_PROXY", "caddy")
		// The file says nginx; the environment wins.
		path := writeGatewayConfig(t, "auth_proxy: nginx\nroutes:\n  - path: /**\n")
		g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
		token := gwToken(t, issuerURL, "orders:read")
		decide := func(t *testing.T, h map[string]string) int {
			t.Helper()
			req, err := http.NewRequest("GET", "http://"+g.addr+"/auth", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		gwEventually(t, "a decision from Caddy's headers", func() bool {
			return decide(t, map[string]string{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/a"}) == 200
		})
		if got := decide(t, map[string]string{"X-Original-Method": "GET", "X-Original-Uri": "/a"}); got != 400 {
			t.Errorf("decision from nginx's headers: got %d, want 400", got)
		}
	})
}
