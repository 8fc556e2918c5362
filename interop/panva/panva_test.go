// Package panva_test runs panva's oidc-provider (the npm package
// oidc-provider, a certified OpenID provider for Node.js) on loopback and
// checks apiguard's token introspection against it: an access token is
// accepted, a refresh token of the same grant is refused although the
// provider calls it active.
//
// The provider's packages are pinned by testdata/package-lock.json and
// installed once with npm ci into the user cache directory, keyed by the
// lock file's hash (${XDG_CACHE_HOME:-$HOME/.cache}/apiguard-panva/<hash>).
// The test needs node and npm: without them it fails, unless
// APIGUARD_SKIP_PANVA=1 is set.
package panva_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/introspect"
)

const (
	skipEnv     = "APIGUARD_SKIP_PANVA"
	resource    = "https://api.apiguard.test" // as in testdata/provider.mjs
	appID       = "app"
	appSecret   = "app-secret-0123456789"
	appCallback = "http://127.0.0.1/cb"
	rsID        = "apiguard-rs"
	rsSecret    = "rs-secret-0123456789"
)

// installDeps returns the directory holding testdata's package.json and
// node_modules, running npm ci into the cache the first time.
func installDeps(t *testing.T) string {
	t.Helper()
	if os.Getenv(skipEnv) == "1" {
		t.Skipf("%s=1: panva oidc-provider interop test skipped", skipEnv)
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (set %s=1 to skip this test): %v", tool, skipEnv, err)
		}
	}
	lock, err := os.ReadFile(filepath.Join("testdata", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("failed to find the user cache directory: %v", err)
	}
	dir := filepath.Join(cache, "apiguard-panva", hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// Install into a directory of its own and rename it into place, so a
	// concurrent run never sees half an install.
	work, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (set %s=1 to skip this test): %v\n%s", skipEnv, err, out)
	}
	if err := os.Rename(work, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules")); statErr != nil {
			t.Fatalf("failed to move the install into the cache: %v", err)
		}
	}
	return dir
}

// startProvider runs testdata/provider.mjs with node and returns its issuer
// once discovery answers. It stops when the test ends.
func startProvider(t *testing.T) string {
	t.Helper()
	deps := installDeps(t)
	// ESM resolves oidc-provider from the script's directory upwards: the
	// script runs from a directory inside the install.
	runDir, err := os.MkdirTemp(deps, "run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	script, err := os.ReadFile(filepath.Join("testdata", "provider.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(runDir, "provider.mjs"), script, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("node", filepath.Join(runDir, "provider.mjs"))
	cmd.Dir = runDir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start node: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close() // the script exits when its input ends
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})

	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				lines <- issuer
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var issuer string
	select {
	case issuer = <-lines:
	case <-exited:
		t.Fatalf("oidc-provider exited before listening:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("oidc-provider did not listen within 30s:\n%s", stderr.String())
	}

	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return issuer
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("oidc-provider discovery not ready within 20s: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not a wait for readiness
	}
}

// lockedBuffer is a goroutine-safe buffer for the child's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// codeFlow runs the authorization code flow for client app with
// offline_access, driving the provider's development interactions (login
// with any name, then consent) by HTTP, and returns the tokens.
func codeFlow(t *testing.T, issuer string) *oauth2.Token {
	t.Helper()
	conf := &oauth2.Config{
		ClientID: appID, ClientSecret: appSecret, RedirectURL: appCallback,
		Scopes:   []string{"openid", "offline_access", "api:read"},
		Endpoint: oauth2.Endpoint{AuthURL: issuer + "/auth", TokenURL: issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	verifier := oauth2.GenerateVerifier()
	next := conf.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", resource))

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var code string
	for step := 0; code == ""; step++ {
		if step == 10 {
			t.Fatalf("no code after %d redirects, at %s", step, next)
		}
		resp, err := browser.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 3:
			loc, err := resp.Location()
			if err != nil {
				t.Fatal(err)
			}
			next = loc.String()
			if strings.HasPrefix(next, appCallback+"?") {
				q := loc.Query()
				if q.Get("code") == "" || q.Get("state") != "state-1" {
					t.Fatalf("got callback %s, want a code and state-1", next)
				}
				code = q.Get("code")
			}
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="prompt" value="login"`):
			next = submit(t, browser, next, url.Values{"prompt": {"login"}, "login": {"alice"}, "password": {"any"}})
		case resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="prompt" value="consent"`):
			next = submit(t, browser, next, url.Values{"prompt": {"consent"}})
		default:
			t.Fatalf("GET %s: got status %d %q, want a redirect or an interaction form", next, resp.StatusCode, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier), oauth2.SetAuthURLParam("resource", resource))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("got no refresh token for offline_access")
	}
	return tok
}

// submit posts an interaction form and returns where it redirects.
func submit(t *testing.T, browser *http.Client, action string, form url.Values) string {
	t.Helper()
	resp, err := browser.PostForm(action, form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("POST %s: got status %d %q, want a redirect", action, resp.StatusCode, body)
	}
	return loc.String()
}

// introspectAt asks the provider about token as apiguard would, and returns
// its answer.
func introspectAt(t *testing.T, issuer, token string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, issuer+"/token/introspection",
		strings.NewReader(url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(rsID, rsSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("introspection: status %d, %v", resp.StatusCode, err)
	}
	return out
}

// TestIntrospectionRefusesRefreshToken gets an access token and a refresh
// token from one code flow, checks what oidc-provider says about each
// (token_type Bearer for the access token, none at all for the refresh
// token, both active), and that apiguard accepts the access token and
// refuses the refresh token as an invalid token (issue 12, finding 7).
func TestIntrospectionRefusesRefreshToken(t *testing.T) {
	issuer := startProvider(t)
	tok := codeFlow(t, issuer)
	if strings.Count(tok.AccessToken, ".") == 2 {
		t.Fatalf("got a JWT access token, want an opaque one (testdata/provider.mjs)")
	}

	at, rt := introspectAt(t, issuer, tok.AccessToken), introspectAt(t, issuer, tok.RefreshToken)
	t.Logf("oidc-provider introspection: access token %v; refresh token %v", at, rt)
	if at["active"] != true || at["token_type"] != "Bearer" {
		t.Errorf("access token: got active %v token_type %v, want true and Bearer", at["active"], at["token_type"])
	}
	if _, typed := rt["token_type"]; rt["active"] != true || typed {
		t.Errorf("refresh token: got active %v token_type %v, want true and none (as apiguard's absent token_type rule assumes)", rt["active"], rt["token_type"])
	}

	av, err := apiguard.New(apiguard.Config{Issuer: issuer, Audience: resource})
	if err != nil {
		t.Fatal(err)
	}
	v, err := introspect.New(av, introspect.Config{ClientID: rsID, ClientSecret: rsSecret, MaxCacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify(access token): got %v, want it accepted", err)
	}
	if c.Subject != "alice" || c.ClientID != appID || !slices.Contains(c.Scopes, "api:read") {
		t.Errorf("access token claims: got sub %q client %q scopes %q, want alice, %s, api:read", c.Subject, c.ClientID, c.Scopes, appID)
	}
	c, err = v.Verify(ctx, tok.RefreshToken)
	if !errors.Is(err, apiguard.ErrInvalidToken) {
		t.Fatalf("Verify(refresh token): got claims %v, error %v; want ErrInvalidToken", c, err)
	}
	if !errors.Is(err, apiguard.ErrType) {
		t.Errorf("Verify(refresh token): got %v, want the reason ErrType", err)
	}
}
