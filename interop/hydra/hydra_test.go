package hydra_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/interop/internal/oidctest"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	apiAudience   = "api://interop"
	otherAudience = "api://other"
	clientID      = "api-client"
	clientSecret  = "api-client-secret-for-tests"
	// accessTokenSet is the key set Hydra signs JWT access tokens with.
	accessTokenSet = "hydra.jwt.access-token"
	cooldown       = 10 * time.Second
)

// server is a running Hydra.
type server struct {
	issuer string // public URL with Hydra's trailing slash
	public string // public URL without it
	admin  string
	client *http.Client
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHydra runs `hydra serve all --dev` with an in-memory database and
// JWT access tokens on free loopback ports, and waits until it is ready.
func startHydra(t *testing.T) *server {
	t.Helper()
	bin := hydraBinary(t)
	pub, adm := freePort(t), freePort(t)
	public := fmt.Sprintf("http://127.0.0.1:%d", pub)
	s := &server{
		issuer: public + "/",
		public: public,
		admin:  fmt.Sprintf("http://127.0.0.1:%d", adm),
		client: &http.Client{Timeout: 10 * time.Second},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = append(os.Environ(),
		"DSN=memory",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strconv.Itoa(pub),
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strconv.Itoa(adm),
		"URLS_SELF_ISSUER="+s.issuer,
		"URLS_LOGIN=http://127.0.0.1:1/login", "URLS_CONSENT=http://127.0.0.1:1/consent",
		"STRATEGIES_ACCESS_TOKEN=jwt",
		"SECRETS_SYSTEM=apiguard-interop-test-system-secret",
		"SQA_OPT_OUT=true",
		"LOG_LEVEL=warn",
	)
	logPath := filepath.Join(t.TempDir(), "hydra.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start Hydra: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-exited
		logFile.Close()
		if t.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				t.Logf("Hydra's log:\n%s", out)
			}
		}
	})

	// Ready means both listeners answer and the public key set has keys:
	// Hydra generates its signing keys lazily on the first request that
	// needs them, which takes seconds on a busy machine. Asking for the
	// JWKS here makes that happen within this generous deadline instead of
	// inside a test's Verify, whose key fetch has a short timeout.
	ready := func() bool {
		for _, u := range []string{s.admin + "/health/ready", s.public + "/health/ready", s.public + "/.well-known/jwks.json"} {
			resp, err := s.client.Get(u)
			if err != nil {
				return false
			}
			var body struct {
				Keys []json.RawMessage `json:"keys"`
			}
			decodeErr := json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return false
			}
			if strings.HasSuffix(u, "/jwks.json") && (decodeErr != nil || len(body.Keys) == 0) {
				return false
			}
		}
		return true
	}
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("Hydra exited before it was ready: %v", err)
		case <-deadline.C:
			t.Fatal("Hydra not ready after 60s")
		case <-tick.C:
		}
	}
	t.Logf("Hydra ready in %s at %s (admin %s)", time.Since(start).Round(time.Millisecond), s.public, s.admin)
	return s
}

// adminJSON calls Hydra's admin API and decodes the answer into out.
func (s *server) adminJSON(t *testing.T, method, path string, in, out any, wantStatus int) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.admin+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: got status %d, want %d: %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: failed to decode %s: %v", method, path, data, err)
		}
	}
}

// createClient registers the client-credentials client, allowed both
// audiences.
func (s *server) createClient(t *testing.T) {
	t.Helper()
	s.adminJSON(t, http.MethodPost, "/admin/clients", map[string]any{
		"client_id":                  clientID,
		"client_secret":              clientSecret,
		"grant_types":                []string{"client_credentials"},
		"token_endpoint_auth_method": "client_secret_basic",
		"audience":                   []string{apiAudience, otherAudience},
		"scope":                      "read write",
	}, nil, http.StatusCreated)
}

func (s *server) clientCredentials(t *testing.T, audience string, scopes ...string) string {
	t.Helper()
	return oidctest.ClientCredentials(t, clientcredentials.Config{
		ClientID:       clientID,
		ClientSecret:   clientSecret,
		TokenURL:       s.public + "/oauth2/token",
		Scopes:         scopes,
		EndpointParams: url.Values{"audience": {audience}},
	})
}

// newVerifier returns a verifier for the provider's tokens to apiAudience.
func newVerifier(t *testing.T, s *server, clk *fakeclock.Clock, mutate ...func(*apiguard.Config)) *apiguard.Verifier {
	t.Helper()
	cfg := apiguard.Config{Issuer: s.issuer, Audience: apiAudience, Now: clk.Now, RefreshCooldown: cooldown}
	return oidctest.NewVerifier(t, cfg, mutate...)
}

func TestClientCredentials(t *testing.T) {
	s := startHydra(t)
	s.createClient(t)
	clk := fakeclock.New(time.Now())
	v := newVerifier(t, s, clk)
	ctx := context.Background()

	tok := s.clientCredentials(t, apiAudience, "read", "write")
	header, payload := oidctest.Parts(t, tok, " (is strategies.access_token jwt?)")
	// Hydra's shapes: typ JWT, aud always an array, scp an array (like
	// Okta), client_id (not cid), ext for extra claims, and an issuer with a
	// trailing slash.
	t.Logf("Hydra access token: header %v; payload iss=%v aud=%v scp=%v client_id=%v", header, payload["iss"], payload["aud"], payload["scp"], payload["client_id"])
	if _, ok := payload["aud"].([]any); !ok {
		t.Errorf("got aud %v (%T), want an array", payload["aud"], payload["aud"])
	}

	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Issuer != s.issuer {
		t.Errorf("got iss %q, want %q", c.Issuer, s.issuer)
	}
	if got, want := c.Audience, []string{apiAudience}; !slices.Equal(got, want) {
		t.Errorf("got aud %q, want %q", got, want)
	}
	if got, want := c.Scopes, []string{"read", "write"}; !slices.Equal(got, want) {
		t.Errorf("got scopes %q, want %q", got, want)
	}
	if c.ClientID != clientID || c.Subject != clientID {
		t.Errorf("got client %q sub %q, want %q for both", c.ClientID, c.Subject, clientID)
	}

	refusals := []struct {
		name   string
		v      *apiguard.Verifier
		token  string
		reason error
	}{
		{"token for another audience", v, s.clientCredentials(t, otherAudience, "read"), apiguard.ErrAudience},
		{"verifier for another audience", newVerifier(t, s, clk, func(c *apiguard.Config) { c.Audience = otherAudience }), tok, apiguard.ErrAudience},
		{"issuer without the trailing slash", newVerifier(t, s, clk, func(c *apiguard.Config) { c.Issuer = s.public }), tok, apiguard.ErrIssuer},
		{"at+jwt required", newVerifier(t, s, clk, func(c *apiguard.Config) { c.RequireType = "at+jwt" }), tok, apiguard.ErrType},
		{"another client required", newVerifier(t, s, clk, func(c *apiguard.Config) { c.ClientIDs = []string{"someone-else"} }), tok, apiguard.ErrClient},
		{"two hours later", newVerifier(t, s, clk, func(c *apiguard.Config) { c.Now = func() time.Time { return clk.Now().Add(2 * time.Hour) } }), tok, apiguard.ErrExpired},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := r.v.Verify(ctx, r.token)
			if !errors.Is(err, r.reason) {
				t.Fatalf("got %v, want %v", err, r.reason)
			}
		})
	}

	// Scope policies work with Hydra's scp array.
	if err := apiguard.RequireScopes("read", "write")(c); err != nil {
		t.Errorf("RequireScopes(read, write): %v", err)
	}
	if err := apiguard.RequireScopes("admin")(c); !errors.Is(err, apiguard.ErrForbidden) {
		t.Errorf("RequireScopes(admin): got %v, want ErrForbidden", err)
	}
}

func TestKeyRotation(t *testing.T) {
	s := startHydra(t)
	s.createClient(t)
	clk := fakeclock.New(time.Now())
	var fetches atomic.Int64
	v := newVerifier(t, s, clk, func(c *apiguard.Config) {
		c.OnFetch = func(apiguard.FetchEvent) { fetches.Add(1) }
	})
	ctx := context.Background()

	first := s.clientCredentials(t, apiAudience, "read")
	if _, err := v.Verify(ctx, first); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	h, _ := oidctest.Parts(t, first, " (is strategies.access_token jwt?)")
	firstKID := h["kid"].(string)

	// Rotate with the admin API: a new key in the access-token set signs
	// from now on; the old one stays published.
	clk.Advance(cooldown + time.Second)
	s.adminJSON(t, http.MethodPost, "/admin/keys/"+accessTokenSet, map[string]string{"alg": "RS256", "kid": "rotated-1", "use": "sig"}, nil, http.StatusCreated)
	second := s.clientCredentials(t, apiAudience, "read")
	if h, _ := oidctest.Parts(t, second, " (is strategies.access_token jwt?)"); h["kid"] != "rotated-1" {
		t.Fatalf("got kid %v after rotation, want rotated-1", h["kid"])
	}
	before := fetches.Load()
	if _, err := v.Verify(ctx, second); err != nil {
		t.Fatalf("first request with the new kid: %v", err)
	}
	if got := fetches.Load() - before; got != 1 {
		t.Errorf("got %d fetches for the new kid, want 1", got)
	}
	if _, err := v.Verify(ctx, first); err != nil {
		t.Errorf("token of the old, still published key: %v", err)
	}

	// Remove the first key and rotate again: the fetch caused by the third
	// kid drops the first key, and its (cached) token stops verifying.
	s.adminJSON(t, http.MethodDelete, "/admin/keys/"+accessTokenSet+"/"+firstKID, nil, nil, http.StatusNoContent)
	clk.Advance(cooldown + time.Second)
	s.adminJSON(t, http.MethodPost, "/admin/keys/"+accessTokenSet, map[string]string{"alg": "ES256", "kid": "rotated-2", "use": "sig"}, nil, http.StatusCreated)
	third := s.clientCredentials(t, apiAudience, "read")
	if h, _ := oidctest.Parts(t, third, " (is strategies.access_token jwt?)"); h["kid"] != "rotated-2" || h["alg"] != "ES256" {
		t.Fatalf("got kid %v alg %v, want rotated-2 ES256", h["kid"], h["alg"])
	}
	if _, err := v.Verify(ctx, third); err != nil {
		t.Fatalf("first request with the third kid (ES256): %v", err)
	}
	if _, err := v.Verify(ctx, first); !errors.Is(err, apiguard.ErrUnknownKey) {
		t.Errorf("token of the removed key: got %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(ctx, second); err != nil {
		t.Errorf("token of the second key, still published: %v", err)
	}
}

// TestAuthorizationCodePKCE runs the authorization code flow with PKCE,
// playing Hydra's login and consent apps through its admin API, and
// verifies the user's access token.
func TestAuthorizationCodePKCE(t *testing.T) {
	s := startHydra(t)
	const (
		webClient   = "web-client"
		redirectURI = "http://127.0.0.1:1/callback"
	)
	s.adminJSON(t, http.MethodPost, "/admin/clients", map[string]any{
		"client_id":                  webClient,
		"grant_types":                []string{"authorization_code"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "none",
		"redirect_uris":              []string{redirectURI},
		"audience":                   []string{apiAudience},
		"scope":                      "openid read",
	}, nil, http.StatusCreated)

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// follow requests u and returns where it redirects to.
	follow := func(u string) *url.URL {
		t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("GET %s: got status %d and no redirect", u, resp.StatusCode)
		}
		return loc
	}
	cfg := oauth2.Config{
		ClientID:    webClient,
		RedirectURL: redirectURI,
		Scopes:      []string{"openid", "read"},
		Endpoint:    oauth2.Endpoint{AuthURL: s.public + "/oauth2/auth", TokenURL: s.public + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	loginAt := follow(cfg.AuthCodeURL("state-123456789", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", apiAudience), oauth2.SetAuthURLParam("nonce", "nonce-123456789")))
	var redirect struct {
		To string `json:"redirect_to"`
	}
	s.adminJSON(t, http.MethodPut, "/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(loginAt.Query().Get("login_challenge")),
		map[string]any{"subject": "user-1"}, &redirect, http.StatusOK)
	consentAt := follow(redirect.To)
	s.adminJSON(t, http.MethodPut, "/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(consentAt.Query().Get("consent_challenge")),
		map[string]any{"grant_scope": []string{"openid", "read"}, "grant_access_token_audience": []string{apiAudience}}, &redirect, http.StatusOK)
	back := follow(redirect.To)
	if !strings.HasPrefix(back.String(), redirectURI) || back.Query().Get("state") != "state-123456789" {
		t.Fatalf("got redirect %s, want %s with the state", back, redirectURI)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := cfg.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("failed to exchange the code: %v", err)
	}

	clk := fakeclock.New(time.Now())
	v := newVerifier(t, s, clk)
	c, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify the user's access token: %v", err)
	}
	if c.Subject != "user-1" || c.ClientID != webClient || !c.HasScope("read") {
		t.Errorf("got sub %q client %q scopes %q, want user-1, %s, read", c.Subject, c.ClientID, c.Scopes, webClient)
	}
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("got no id_token")
	}
	// Hydra's ID token is for the client (aud web-client), with a nonce and
	// at_hash: refused as an access token for the API, accepted as an ID
	// token for the client.
	if _, err := v.Verify(ctx, idToken); !errors.Is(err, apiguard.ErrInvalidToken) {
		t.Errorf("ID token as an access token: got %v, want a refusal", err)
	}
	if _, err := newVerifier(t, s, clk, func(c *apiguard.Config) { c.Audience = webClient }).Verify(ctx, idToken); !errors.Is(err, apiguard.ErrType) {
		t.Errorf("ID token as an access token for the client's audience: got %v, want ErrType", err)
	}
	ic, err := newVerifier(t, s, clk, func(c *apiguard.Config) { c.Audience = webClient; c.IDToken = true }).Verify(ctx, idToken)
	if err != nil {
		t.Fatalf("Verify the ID token with IDToken set: %v", err)
	}
	if ic.Nonce != "nonce-123456789" || ic.Subject != "user-1" {
		t.Errorf("got nonce %q sub %q, want nonce-123456789 and user-1", ic.Nonce, ic.Subject)
	}
}
