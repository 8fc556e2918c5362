// Package zitadel_test runs the zitadel/oidc v3 example OpenID provider in
// process on loopback and verifies the tokens it issues with apiguard.
//
// The example's in-memory storage issues opaque access tokens and has one
// fixed signing key, so the tests wrap it (an embedding type overriding a
// few methods): clients get JWT access tokens, client-credentials requests
// may ask for an extra audience with an "aud:<audience>" scope, and the
// signing key can be rotated and retired. Everything else (discovery, the
// token and authorize endpoints, the login page, signing) is zitadel's.
package zitadel_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/interop/internal/oidctest"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const (
	// The example storage's built-in service user (client credentials).
	serviceClientID     = "sid1"
	serviceClientSecret = "verysecret"
	// The native (public, PKCE) client the tests register, and the example
	// user store's test user.
	nativeClientID = "native"
	redirectURI    = "http://127.0.0.1/callback"
	userPassword   = "verysecure"

	apiAudience   = "api://interop"
	otherAudience = "api://other"
	// cooldown is the verifier's RefreshCooldown; the fake clock is moved
	// past it before a kid miss must cause a fetch.
	cooldown = 10 * time.Second
)

// signingKey is an RS256 key in the shapes zitadel's op package wants: a
// SigningKey to sign with and, through publicKey, a Key to publish.
type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.priv.PublicKey }

// jwtClient makes a client of the example storage get JWT access tokens.
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

// store is the example's in-memory storage with rotating keys, JWT access
// tokens and requested audiences.
type store struct {
	*storage.Storage

	mu      sync.Mutex
	keys    []*signingKey // published, the last one signs
	counter int
}

func (s *store) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[len(s.keys)-1], nil
}

func (s *store) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *store) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		keys = append(keys, publicKey{k})
	}
	return keys, nil
}

// rotate adds a new signing key; the previous ones stay published.
func (s *store) rotate(t *testing.T) string {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("failed to generate a key: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counter++
	k := &signingKey{id: fmt.Sprintf("zitadel-key-%d", s.counter), priv: priv}
	s.keys = append(s.keys, k)
	return k.id
}

// retire stops publishing the key kid.
func (s *store) retire(kid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.DeleteFunc(s.keys, func(k *signingKey) bool { return k.id == kid })
}

func (s *store) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

func (s *store) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.Storage.ClientCredentials(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

// ClientCredentialsTokenRequest adds the audiences asked for with
// "aud:<audience>" scopes to the client id the example puts in aud.
func (s *store) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	aud := []string{clientID}
	var rest []string
	for _, sc := range scopes {
		if a, ok := strings.CutPrefix(sc, "aud:"); ok {
			aud = append(aud, a)
		} else {
			rest = append(rest, sc)
		}
	}
	return &oidc.JWTTokenRequest{Subject: clientID, Audience: aud, Scopes: rest}, nil
}

// provider is a running zitadel example OP.
type provider struct {
	issuer string
	store  *store
	token  string // token endpoint, from discovery
	auth   string // authorization endpoint, from discovery
}

func startProvider(t *testing.T) *provider {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	// The example's issuer form: a trailing slash.
	issuer := "http://" + srv.Listener.Addr().String() + "/"
	clients := map[string]*storage.Client{nativeClientID: storage.NativeClient(nativeClientID, redirectURI)}
	st := &store{Storage: storage.NewStorageWithClients(storage.NewUserStore(issuer), clients)}
	st.rotate(t)
	// A nil logger keeps SetupServer from replacing the process's default
	// logger.
	srv.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	srv.Start()
	t.Cleanup(srv.Close)

	var doc struct {
		Issuer string `json:"issuer"`
		Token  string `json:"token_endpoint"`
		Auth   string `json:"authorization_endpoint"`
		JWKS   string `json:"jwks_uri"`
	}
	getJSON(t, srv.Client(), issuer+".well-known/openid-configuration", &doc)
	if doc.Issuer != issuer {
		t.Fatalf("got discovery issuer %q, want %q", doc.Issuer, issuer)
	}
	return &provider{issuer: issuer, store: st, token: doc.Token, auth: doc.Auth}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("failed to GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: got status %d, want 200", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("failed to decode %s: %v", u, err)
	}
}

// clientCredentials obtains an access token for the service client.
func (p *provider) clientCredentials(t *testing.T, scopes ...string) string {
	t.Helper()
	return oidctest.ClientCredentials(t, clientcredentials.Config{
		ClientID:     serviceClientID,
		ClientSecret: serviceClientSecret,
		TokenURL:     p.token,
		Scopes:       scopes,
	})
}

// newVerifier returns a verifier for the provider's tokens to apiAudience.
func newVerifier(t *testing.T, p *provider, clk *fakeclock.Clock, mutate ...func(*apiguard.Config)) *apiguard.Verifier {
	t.Helper()
	cfg := apiguard.Config{Issuer: p.issuer, Audience: apiAudience, Now: clk.Now, RefreshCooldown: cooldown}
	return oidctest.NewVerifier(t, cfg, mutate...)
}

func TestClientCredentials(t *testing.T) {
	p := startProvider(t)
	clk := fakeclock.New(time.Now())
	v := newVerifier(t, p, clk)
	ctx := context.Background()

	tok := p.clientCredentials(t, "read", "write", "aud:"+apiAudience)
	header, payload := oidctest.Parts(t, tok, "")
	// zitadel's shapes, as opposed to Okta's: typ JWT (not at+jwt), aud an
	// array with the client id first, client_id (not cid), an issuer with a
	// trailing slash, and no scope claim at all: zitadel/oidc v3.52.0's
	// CreateJWT never copies the granted scopes into a JWT access token
	// (they are in the token response and in introspection only), so scope
	// policies cannot pass with these tokens.
	t.Logf("zitadel access token: header %v; payload iss=%v aud=%v scope=%v client_id=%v", header, payload["iss"], payload["aud"], payload["scope"], payload["client_id"])
	if got := header["typ"]; got != "JWT" {
		t.Errorf("got typ %v, want JWT", got)
	}
	if _, ok := payload["aud"].([]any); !ok {
		t.Errorf("got aud %v (%T), want an array", payload["aud"], payload["aud"])
	}

	c, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Issuer != p.issuer || !strings.HasSuffix(c.Issuer, "/") {
		t.Errorf("got iss %q, want %q", c.Issuer, p.issuer)
	}
	if got, want := c.Audience, []string{serviceClientID, apiAudience}; !slices.Equal(got, want) {
		t.Errorf("got aud %q, want %q", got, want)
	}
	if _, ok := payload["scope"]; ok || len(c.Scopes) != 0 {
		t.Errorf("got scope claim %v, scopes %q: zitadel started putting scopes in JWT access tokens; check them here", payload["scope"], c.Scopes)
	}
	if c.ClientID != serviceClientID || c.Subject != serviceClientID {
		t.Errorf("got client %q sub %q, want %q for both", c.ClientID, c.Subject, serviceClientID)
	}

	refusals := []struct {
		name   string
		v      *apiguard.Verifier
		token  string
		reason error
	}{
		{"token for another audience", v, p.clientCredentials(t, "read", "aud:"+otherAudience), apiguard.ErrAudience},
		{"token with only the client id as audience", v, p.clientCredentials(t, "read"), apiguard.ErrAudience},
		{"verifier for another audience", newVerifier(t, p, clk, func(c *apiguard.Config) { c.Audience = otherAudience }), tok, apiguard.ErrAudience},
		{"issuer without the trailing slash", newVerifier(t, p, clk, func(c *apiguard.Config) { c.Issuer = strings.TrimSuffix(p.issuer, "/") }), tok, apiguard.ErrIssuer},
		{"at+jwt required", newVerifier(t, p, clk, func(c *apiguard.Config) { c.RequireType = "at+jwt" }), tok, apiguard.ErrType},
		{"another client required", newVerifier(t, p, clk, func(c *apiguard.Config) { c.ClientIDs = []string{"someone-else"} }), tok, apiguard.ErrClient},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			_, err := r.v.Verify(ctx, r.token)
			if !errors.Is(err, r.reason) {
				t.Fatalf("got %v, want %v", err, r.reason)
			}
		})
	}

	// Through the middleware, over HTTP: with no scope claim, a scope policy
	// answers 403 insufficient_scope; a claim policy on client_id works.
	api := httptest.NewServer(http.NewServeMux())
	defer api.Close()
	mux := api.Config.Handler.(*http.ServeMux)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.Handle("/any", v.Middleware(ok))
	mux.Handle("/client", v.Middleware(ok, apiguard.RequireClaim("client_id", serviceClientID)))
	mux.Handle("/read", v.Middleware(ok, apiguard.RequireScopes("read")))
	for _, h := range []struct {
		path, token string
		want        int
	}{
		{"/any", tok, http.StatusOK},
		{"/client", tok, http.StatusOK},
		{"/read", tok, http.StatusForbidden},
		{"/any", refusals[0].token, http.StatusUnauthorized},
		{"/any", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodGet, api.URL+h.path, nil)
		if h.token != "" {
			req.Header.Set("Authorization", "Bearer "+h.token)
		}
		resp, err := api.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != h.want {
			t.Errorf("GET %s: got status %d, want %d", h.path, resp.StatusCode, h.want)
		}
	}
}

// authorizationCode runs the authorization code flow with PKCE for the
// native client through zitadel's example login page, scripted with an
// http.Client and a cookie jar, and returns the token response.
func (p *provider) authorizationCode(t *testing.T) *oauth2.Token {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var code string
	client := &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				code = req.URL.Query().Get("code")
				if got := req.URL.Query().Get("state"); got != "state-1" {
					return fmt.Errorf("got state %q, want state-1", got)
				}
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	cfg := oauth2.Config{
		ClientID:    nativeClientID,
		RedirectURL: redirectURI,
		Scopes:      []string{oidc.ScopeOpenID, oidc.ScopeProfile},
		Endpoint:    oauth2.Endpoint{AuthURL: p.auth, TokenURL: p.token, AuthStyle: oauth2.AuthStyleInParams},
	}
	verifier := oauth2.GenerateVerifier()
	resp, err := client.Get(cfg.AuthCodeURL("state-1", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", "nonce-1")))
	if err != nil {
		t.Fatalf("failed to start the authorization: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// The authorize endpoint redirected to the login page, which names the
	// auth request.
	id := resp.Request.URL.Query().Get("authRequestID")
	if id == "" {
		t.Fatalf("got no authRequestID at %s (status %d)", resp.Request.URL, resp.StatusCode)
	}
	login := resp.Request.URL.ResolveReference(&url.URL{Path: resp.Request.URL.Path})
	resp, err = client.PostForm(login.String(), url.Values{"id": {id}, "username": {"test-user@127.0.0.1"}, "password": {userPassword}})
	if err != nil {
		t.Fatalf("failed to log in: %v", err)
	}
	resp.Body.Close()
	if code == "" {
		t.Fatalf("got no code after login (status %d at %s)", resp.StatusCode, resp.Request.URL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("failed to exchange the code: %v", err)
	}
	return tok
}

func TestAuthorizationCodePKCE(t *testing.T) {
	p := startProvider(t)
	clk := fakeclock.New(time.Now())
	tok := p.authorizationCode(t)
	idToken, _ := tok.Extra("id_token").(string)
	if idToken == "" {
		t.Fatal("got no id_token")
	}
	_, payload := oidctest.Parts(t, tok.AccessToken, "")
	t.Logf("zitadel user access token: aud=%v scope=%v sub=%v", payload["aud"], payload["scope"], payload["sub"])

	// The example gives user tokens the client id as their only audience.
	v := newVerifier(t, p, clk, func(c *apiguard.Config) { c.Audience = nativeClientID })
	ctx := context.Background()
	c, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatalf("Verify access token: %v", err)
	}
	if c.Subject != "id1" || c.ClientID != nativeClientID {
		t.Errorf("got sub %q client %q, want id1 and %q", c.Subject, c.ClientID, nativeClientID)
	}
	if len(c.Scopes) != 0 {
		t.Errorf("got scopes %q, want none (zitadel puts no scope in JWT access tokens)", c.Scopes)
	}

	// The ID token has the same issuer, audience and keys, but carries a
	// nonce and at_hash: refused where an access token is expected.
	if _, err := v.Verify(ctx, idToken); !errors.Is(err, apiguard.ErrType) {
		t.Errorf("ID token as an access token: got %v, want ErrType", err)
	}
	idv := newVerifier(t, p, clk, func(c *apiguard.Config) { c.Audience = nativeClientID; c.IDToken = true })
	ic, err := idv.Verify(ctx, idToken)
	if err != nil {
		t.Fatalf("Verify ID token with IDToken set: %v", err)
	}
	if ic.Nonce != "nonce-1" {
		t.Errorf("got nonce %q, want nonce-1", ic.Nonce)
	}
	if _, err := newVerifier(t, p, clk).Verify(ctx, tok.AccessToken); !errors.Is(err, apiguard.ErrAudience) {
		t.Errorf("user token at an API of another audience: got %v, want ErrAudience", err)
	}
}

func TestKeyRotation(t *testing.T) {
	p := startProvider(t)
	clk := fakeclock.New(time.Now())
	var fetches atomic.Int64
	v := newVerifier(t, p, clk, func(c *apiguard.Config) {
		c.OnFetch = func(ev apiguard.FetchEvent) { fetches.Add(1) }
	})
	ctx := context.Background()

	first := p.clientCredentials(t, "read", "aud:"+apiAudience)
	if _, err := v.Verify(ctx, first); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}

	// Rotate: the new key signs; the old one stays published for a while.
	clk.Advance(cooldown + time.Second)
	newKID := p.store.rotate(t)
	second := p.clientCredentials(t, "read", "aud:"+apiAudience)
	if h, _ := oidctest.Parts(t, second, ""); h["kid"] != newKID {
		t.Fatalf("got kid %v after rotation, want %s", h["kid"], newKID)
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

	// Retire the first key and rotate again: the next fetch (caused by the
	// third key's kid) drops the first key, and its token stops verifying
	// even though it was verified (and cached) before.
	firstKID, _ := oidctest.Parts(t, first, "")
	p.store.retire(firstKID["kid"].(string))
	clk.Advance(cooldown + time.Second)
	p.store.rotate(t)
	third := p.clientCredentials(t, "read", "aud:"+apiAudience)
	if _, err := v.Verify(ctx, third); err != nil {
		t.Fatalf("first request with the third kid: %v", err)
	}
	if _, err := v.Verify(ctx, first); !errors.Is(err, apiguard.ErrUnknownKey) {
		t.Errorf("token of the retired key: got %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(ctx, second); err != nil {
		t.Errorf("token of the second key, still published: %v", err)
	}
	if got := v.KeyCount(); got != 2 {
		t.Errorf("got %d keys loaded, want 2", got)
	}
}
