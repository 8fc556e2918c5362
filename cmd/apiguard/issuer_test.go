package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clearOktaEnv isolates a test from the developer's OKTA_* and APIGUARD_*
// settings (empty counts as unset).
func clearOktaEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"OKTA_ISSUER", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "OKTA_AUDIENCE",
		"APIGUARD_DEV_USER", "APIGUARD_DEV_PASSWORD", "APIGUARD_ISSUER_ADDR", "APIGUARD_ISSUER_PUBLIC_URL",
		"APIGUARD_ISSUER_CONFIG", "APIGUARD_ISSUER_ROTATE_EVERY"} {
		t.Setenv(k, "")
	}
}

// runningIssuer is `apiguard issuer` started by a test.
type runningIssuer struct {
	url            string // issuer URL
	stdout, stderr *syncBuffer
}

// startIssuer runs `apiguard issuer --addr 127.0.0.1:0 args…` until the
// test ends, and waits until it listens.
func startIssuer(t *testing.T, args ...string) *runningIssuer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningIssuer{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- issuer(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), r.stdout, r.stderr,
			func(addr string) { addrc <- addr })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("issuer returned %v, want nil after shutdown", err)
		}
	})
	select {
	case addr := <-addrc:
		r.url = "http://" + addr + "/oauth2/default"
	case err := <-done:
		t.Fatalf("issuer stopped before listening: %v; stderr: %s", err, r.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("issuer did not listen within 30s")
	}
	return r
}

var (
	bannerClientID     = regexp.MustCompile(`client id:\s+(\S+)`)
	bannerClientSecret = regexp.MustCompile(`client secret:\s+(\S+)`)
	bannerCurl         = regexp.MustCompile(`(?m)^\s+(curl .*)$`)
)

func (r *runningIssuer) credentials(t *testing.T) (id, secret string) {
	t.Helper()
	out := r.stdout.String()
	m1, m2 := bannerClientID.FindStringSubmatch(out), bannerClientSecret.FindStringSubmatch(out)
	if m1 == nil || m2 == nil {
		t.Fatalf("no client id and secret in the banner:\n%s", out)
	}
	return m1[1], m2[1]
}

func keyIDs(t *testing.T, issuerURL string) []string {
	t.Helper()
	resp, err := http.Get(issuerURL + "/v1/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.Kid)
	}
	return out
}

func jwtClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		t.Fatalf("got %q, want a JWT", token)
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

func TestIssuerCommand(t *testing.T) {
	clearOktaEnv(t)
	r := startIssuer(t)
	out := r.stdout.String()
	for _, want := range []string{"DEVELOPMENT ISSUER", "never", "production", r.url, "(generated; set OKTA_CLIENT_SECRET"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	id, secret := r.credentials(t)

	// The banner's curl line is what a reader pastes into a shell, so it is
	// run as printed, by sh and curl: shell quoting and curl's raw -u
	// credentials are what this checks, which Go's HTTP client would not.
	t.Run("the printed curl command gets a token", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Fatal("curl not found on PATH; install it (Debian: apt-get install -y curl; scripts/test.sh does)")
		}
		m := bannerCurl.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no curl command in the banner:\n%s", out)
		}
		got, err := exec.Command("sh", "-c", m[1]).Output()
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		var resp struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal(got, &resp); err != nil || resp.TokenType != "Bearer" {
			t.Fatalf("got %q, want a Bearer token response", got)
		}
		if c := jwtClaims(t, resp.AccessToken); c["iss"] != r.url || c["cid"] != id {
			t.Errorf("got iss %v cid %v, want %s and %s", c["iss"], c["cid"], r.url, id)
		}
	})

	t.Run("apiguard token", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"token", "--issuer", r.url, "--client-id", id, "--client-secret", secret,
			"--scope", "api:read api:write"}, nil, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("got exit %d, stderr %q; want 0", code, stderr.String())
		}
		c := jwtClaims(t, stdout.String())
		if scp, _ := c["scp"].([]any); len(scp) != 2 || c["aud"] != "api://default" {
			t.Errorf("got scp %v aud %v, want [api:read api:write] and api://default", c["scp"], c["aud"])
		}
	})

	t.Run("SIGHUP rotates the key", func(t *testing.T) {
		before := keyIDs(t, r.url)
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			after := keyIDs(t, r.url)
			if len(after) == 3 && after[0] == before[1] && after[2] == before[0] {
				break // next became active, the old key is kept for the grace period
			}
			if time.Now().After(deadline) {
				t.Fatalf("got keys %v after SIGHUP, want rotation of %v", after, before)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestIssuerCommandWithEnvAndConfig(t *testing.T) {
	clearOktaEnv(t)
	t.Run("credentials from the environment", func(t *testing.T) {
		t.Setenv("OKTA_CLIENT_ID", "0oaFromEnv")
		t.Setenv("OKTA_CLIENT_SECRET", "env-secret-value")
		r := startIssuer(t, "--rotate-every", "1h")
		out := r.stdout.String()
		if !strings.Contains(out, "client id:     0oaFromEnv\n") {
			t.Errorf("banner does not show the client id from OKTA_CLIENT_ID:\n%s", out)
		}
		if strings.Contains(out, "(generated; set OKTA_CLIENT_SECRET") {
			t.Errorf("banner says a secret given in OKTA_CLIENT_SECRET was generated:\n%s", out)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"token", "--issuer", r.url, "--auth", "post"}, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("token with OKTA_CLIENT_ID/SECRET from the environment: exit %d, %s", code, stderr.String())
		}
	})

	t.Run("clients from a file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "issuer.yaml")
		yaml := "scopes: [{name: orders, default: true}]\nclients: [{id: shop, secret: shop-secret}]\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := startIssuer(t, "--config", path)
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"token", "--issuer", r.url, "--client-id", "shop", "--client-secret", "shop-secret", "--json"},
			nil, &stdout, &stderr)
		if code != 0 {
			t.Fatalf("got exit %d, %s", code, stderr.String())
		}
		var resp map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
			t.Fatalf("--json printed %q: %v", stdout.String(), err)
		}
		if resp["token_type"] != "Bearer" || resp["scope"] != "orders" || resp["expires_in"] != 3600.0 {
			t.Errorf("got %v, want the whole token response with scope orders", resp)
		}
	})
}

func TestIssuerCommandBadSettings(t *testing.T) {
	clearOktaEnv(t)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad rotation", []string{"--rotate-every", "soon"}, "--rotate-every: "},
		{"rotation too fast", []string{"--rotate-every", "10ms"}, "--rotate-every: "},
		{"bad address", []string{"--addr", "nowhere"}, "--addr: "},
		{"bad public URL", []string{"--public-url", "ftp://x"}, "--public-url: "},
		{"bad app URL", []string{"--app-url", "localhost:5000"}, "--app-url"},
		{"missing config", []string{"--config", missing}, "--config: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"issuer", "--addr", "127.0.0.1:0"}, tt.args...)
			if code := run(context.Background(), args, nil, &stdout, &stderr); code != 2 {
				t.Errorf("got exit %d, want 2", code)
			}
			if lines := strings.Count(strings.TrimSpace(stderr.String()), "\n"); !strings.Contains(stderr.String(), tt.want) || lines != 0 {
				t.Errorf("got stderr %q, want one line naming %s", stderr.String(), tt.want)
			}
		})
	}
}
