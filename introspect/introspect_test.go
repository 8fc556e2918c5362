package introspect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/devissuer/devissuertest"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/middlewaretest"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/introspect"
)

const (
	introID     = "0oa-rs"
	introSecret = "s3cr:t/+ü" // needs form-encoding in Basic credentials
	opaque      = "opaque-token_0123456789~abc"
)

// fakeIntrospection is an introspection endpoint whose answer the test
// sets; it counts requests and checks the client's credentials.
type fakeIntrospection struct {
	t      *testing.T
	srv    *httptest.Server
	calls  atomic.Int64
	mu     sync.Mutex
	status int
	body   map[string]any
	raw    []byte        // when set, sent instead of body
	block  chan struct{} // when set, requests wait for it to close
}

func newFakeIntrospection(t *testing.T) *fakeIntrospection {
	f := &fakeIntrospection{t: t, status: 200}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		status, body, raw, block := f.status, f.body, f.raw, f.block
		f.mu.Unlock()
		if block != nil {
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		id, secret, ok := r.BasicAuth()
		uid, _ := url.QueryUnescape(id)
		usecret, _ := url.QueryUnescape(secret)
		if !ok || uid != introID || usecret != introSecret || r.Method != http.MethodPost {
			t.Errorf("introspection request: method %s, basic %v %q %q", r.Method, ok, uid, usecret)
			w.WriteHeader(401)
			return
		}
		if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" || r.PostForm.Get("token_type_hint") != "access_token" {
			t.Errorf("introspection form: %v %v", r.PostForm, err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if raw != nil {
			_, _ = w.Write(raw)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIntrospection) set(status int, body map[string]any) {
	f.mu.Lock()
	f.status, f.body, f.raw = status, body, nil
	f.mu.Unlock()
}

// setRaw makes the endpoint answer 200 with body as it is.
func (f *fakeIntrospection) setRaw(body string) {
	f.mu.Lock()
	f.status, f.body, f.raw = 200, nil, []byte(body)
	f.mu.Unlock()
}

func activeBody(iss string, now time.Time) map[string]any {
	return map[string]any{
		"active": true, "token_type": "Bearer", "scope": "read write", "client_id": "0oa-app",
		"sub": "user@example.com", "username": "user@example.com", "iss": iss, "aud": "api://default",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "AT.opaque",
	}
}

var epoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newIntrospect returns an introspect.Verifier for issuer with cfg, failing
// the test on error.
func newIntrospect(t *testing.T, acfg apiguard.Config, cfg introspect.Config) *introspect.Verifier {
	t.Helper()
	v, err := apiguard.New(acfg)
	if err != nil {
		t.Fatalf("apiguard.New: %v", err)
	}
	iv, err := introspect.New(v, cfg)
	if err != nil {
		t.Fatalf("introspect.New: %v", err)
	}
	return iv
}

func introVerifier(t *testing.T, iss *testissuer.Issuer, clk *fakeclock.Clock, endpoint string, mutate ...func(*introspect.Config)) *introspect.Verifier {
	t.Helper()
	ic := introspect.Config{ClientID: introID, ClientSecret: introSecret, Endpoint: endpoint}
	for _, m := range mutate {
		m(&ic)
	}
	return newIntrospect(t, apiguard.Config{Issuer: iss.URL, Now: clk.Now}, ic)
}

func TestIntrospectOpaque(t *testing.T) {
	iss, clk, fake := testissuer.New(t), fakeclock.New(epoch), newFakeIntrospection(t)
	v := introVerifier(t, iss, clk, fake.srv.URL)
	fake.set(200, activeBody(iss.URL, clk.Now()))

	c, err := v.Verify(context.Background(), opaque)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject != "user@example.com" || c.ClientID != "0oa-app" || !c.HasScope("write") || c.ID != "AT.opaque" {
		t.Errorf("claims = %+v", c)
	}
	if _, err := v.Verify(context.Background(), opaque); err != nil || fake.calls.Load() != 1 {
		t.Errorf("second Verify: %v after %d calls, want a cache hit (1 call)", err, fake.calls.Load())
	}
	clk.Advance(introspect.DefaultCacheTTL + time.Second)
	if _, err := v.Verify(context.Background(), opaque); err != nil || fake.calls.Load() != 2 {
		t.Errorf("after the cache TTL: %v after %d calls, want 2 calls", err, fake.calls.Load())
	}

	// JWTs are verified locally in the default mode: no introspection.
	if _, err := v.Verify(context.Background(), iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)); err != nil || fake.calls.Load() != 2 {
		t.Errorf("JWT: %v after %d calls, want no introspection", err, fake.calls.Load())
	}
}

func TestIntrospectCachedUntilExp(t *testing.T) {
	iss, clk, fake := testissuer.New(t), fakeclock.New(epoch), newFakeIntrospection(t)
	v := introVerifier(t, iss, clk, fake.srv.URL, func(c *introspect.Config) { c.MaxCacheTTL = time.Hour })
	body := activeBody(iss.URL, clk.Now())
	body["exp"] = clk.Now().Add(30 * time.Second).Unix()
	fake.set(200, body)
	if _, err := v.Verify(context.Background(), opaque); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute) // past exp and the leeway
	_, err := v.Verify(context.Background(), opaque)
	if !errors.Is(err, apiguard.ErrExpired) || fake.calls.Load() != 2 {
		t.Errorf("after exp: got %v after %d calls, want ErrExpired and a second call", err, fake.calls.Load())
	}
}

func TestIntrospectRefusals(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	now := clk.Now()
	with := func(kv ...any) map[string]any { return testissuer.With(activeBody(iss.URL, now), kv...) }
	tests := []struct {
		name   string
		token  string
		status int
		body   map[string]any
		want   error
		cached bool
	}{
		{"inactive", opaque, 200, map[string]any{"active": false}, introspect.ErrInactive, true},
		{"active missing", opaque, 200, with("active", nil), introspect.ErrInactive, true},
		{"active a string", opaque, 200, with("active", "true"), introspect.ErrInactive, true},
		{"other issuer", opaque, 200, with("iss", "https://evil.example.com"), apiguard.ErrIssuer, false},
		{"no iss", opaque, 200, with("iss", nil), apiguard.ErrIssuer, false},
		{"other audience", opaque, 200, with("aud", "api://other"), apiguard.ErrAudience, false},
		{"no exp", opaque, 200, with("exp", nil), apiguard.ErrExpired, false},
		{"expired", opaque, 200, with("exp", now.Add(-time.Hour).Unix()), apiguard.ErrExpired, false},
		{"not yet valid", opaque, 200, with("nbf", now.Add(time.Hour).Unix()), apiguard.ErrNotYetValid, false},
		{"a refresh token", opaque, 200, with("token_type", "refresh_token"), apiguard.ErrType, false},
		{"exp a string", opaque, 200, with("exp", "tomorrow"), apiguard.ErrMalformed, false},
		{"not b64token", "opaque token\x01", 200, with(), apiguard.ErrMalformed, false},
		{"issuer error", opaque, 500, with(), apiguard.ErrUnavailable, false},
		{"rate limited", opaque, 429, with(), apiguard.ErrUnavailable, false},
		{"client refused", opaque, 401, with(), apiguard.ErrUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeIntrospection(t)
			fake.set(tc.status, tc.body)
			v := introVerifier(t, iss, clk, fake.srv.URL)
			for i := range 2 {
				_, err := v.Verify(context.Background(), tc.token)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify #%d: got %v, want %v", i+1, err, tc.want)
				}
				if unavailable := errors.Is(tc.want, apiguard.ErrUnavailable); unavailable == errors.Is(err, apiguard.ErrInvalidToken) {
					t.Errorf("got %v: an unavailable issuer must not read as an invalid token, nor the reverse", err)
				}
			}
			wantCalls := int64(2)
			switch {
			case tc.cached:
				wantCalls = 1
			case tc.token != opaque:
				wantCalls = 0
			}
			if got := fake.calls.Load(); got != wantCalls {
				t.Errorf("got %d introspection calls, want %d", got, wantCalls)
			}
		})
	}
}

func TestIntrospectUnreachable(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	t.Run("timeout", func(t *testing.T) {
		fake := newFakeIntrospection(t)
		fake.block = make(chan struct{})
		defer close(fake.block)
		v := introVerifier(t, iss, clk, fake.srv.URL, func(c *introspect.Config) { c.Timeout = 100 * time.Millisecond })
		var ue *apiguard.UnavailableError
		if _, err := v.Verify(context.Background(), opaque); !errors.As(err, &ue) || ue.RetryAfter <= 0 {
			t.Errorf("got %v, want an *UnavailableError with RetryAfter", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		v := introVerifier(t, iss, clk, srv.URL)
		if _, err := v.Verify(context.Background(), opaque); !errors.Is(err, apiguard.ErrUnavailable) {
			t.Errorf("got %v, want ErrUnavailable", err)
		}
	})
	t.Run("middleware answers 503", func(t *testing.T) {
		fake := newFakeIntrospection(t)
		fake.set(503, nil)
		m := &apiguard.Middleware{Verifier: introVerifier(t, iss, clk, fake.srv.URL)}
		res := middlewaretest.Call(t, m.Handler(http.NotFoundHandler()), middlewaretest.Bearer(opaque))
		if res.Status != 503 || res.RetryAfter == "" || res.Challenge != "" || res.Body["error"] != "temporarily_unavailable" {
			t.Errorf("got %+v, want 503 temporarily_unavailable with Retry-After and no challenge", res)
		}
	})
}

// recordingCache is an introspect.Cache that records keys and can fail.
type recordingCache struct {
	mu   sync.Mutex
	m    map[string][]byte
	keys []string
	fail bool
}

func (c *recordingCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return nil, errors.New("cache down")
	}
	return c.m[key], nil
}

func (c *recordingCache) Set(_ context.Context, key string, value []byte, _ time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keys = append(c.keys, key)
	if c.fail {
		return errors.New("cache down")
	}
	c.m[key] = value
	return nil
}

func TestIntrospectionCache(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	t.Run("keys are hashes, not tokens", func(t *testing.T) {
		fake, cache := newFakeIntrospection(t), &recordingCache{m: map[string][]byte{}}
		fake.set(200, activeBody(iss.URL, clk.Now()))
		v := introVerifier(t, iss, clk, fake.srv.URL, func(c *introspect.Config) { c.Cache = cache })
		if _, err := v.Verify(context.Background(), opaque); err != nil {
			t.Fatal(err)
		}
		if len(cache.keys) != 1 || len(cache.keys[0]) != 64 || strings.Contains(cache.keys[0], "opaque") {
			t.Errorf("cache keys %q, want one hex SHA-256", cache.keys)
		}
		if _, err := v.Verify(context.Background(), opaque); err != nil || fake.calls.Load() != 1 {
			t.Errorf("second Verify: %v after %d calls, want a hit from the configured cache", err, fake.calls.Load())
		}
	})
	t.Run("a cache outage asks the issuer", func(t *testing.T) {
		fake, cache := newFakeIntrospection(t), &recordingCache{m: map[string][]byte{}, fail: true}
		fake.set(200, map[string]any{"active": false})
		v := introVerifier(t, iss, clk, fake.srv.URL, func(c *introspect.Config) { c.Cache = cache })
		for i := range 2 {
			if _, err := v.Verify(context.Background(), opaque); !errors.Is(err, introspect.ErrInactive) {
				t.Fatalf("Verify #%d with the cache down: got %v, want ErrInactive", i+1, err)
			}
		}
		if fake.calls.Load() != 2 {
			t.Errorf("got %d calls, want 2 (each request asks the issuer)", fake.calls.Load())
		}
	})
	t.Run("negative MaxCacheTTL: no cache", func(t *testing.T) {
		fake := newFakeIntrospection(t)
		fake.set(200, activeBody(iss.URL, clk.Now()))
		v := introVerifier(t, iss, clk, fake.srv.URL, func(c *introspect.Config) { c.MaxCacheTTL = -1 })
		for range 3 {
			if _, err := v.Verify(context.Background(), opaque); err != nil {
				t.Fatal(err)
			}
		}
		if fake.calls.Load() != 3 {
			t.Errorf("got %d calls, want 3", fake.calls.Load())
		}
	})
	t.Run("concurrent requests for one token ask once", func(t *testing.T) {
		fake := newFakeIntrospection(t)
		fake.set(200, activeBody(iss.URL, clk.Now()))
		fake.block = make(chan struct{})
		v := introVerifier(t, iss, clk, fake.srv.URL)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := v.Verify(context.Background(), opaque)
				errs <- err
			})
		}
		// Let the first request reach the issuer, then release it; the
		// others either joined it in flight or find the cached result.
		deadline := time.Now().Add(5 * time.Second)
		for fake.calls.Load() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		close(fake.block)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if fake.calls.Load() != 1 {
			t.Errorf("got %d calls, want 1", fake.calls.Load())
		}
	})
}

// devIssuer runs the development issuer on a loopback server.
func devIssuer(t *testing.T) (*devissuer.Issuer, string) {
	t.Helper()
	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: "0oa-dev", ClientSecret: "dev-secret-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	s := devissuertest.NewServer(t, cfg)
	return s.Issuer, s.URL
}

func devToken(t *testing.T, issuerURL string) string {
	t.Helper()
	res, err := http.PostForm(issuerURL+"/v1/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"0oa-dev"}, "client_secret": {"dev-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

func devRevoke(t *testing.T, issuerURL, token string) {
	t.Helper()
	res, err := http.PostForm(issuerURL+"/v1/revoke", url.Values{"token": {token},
		"client_id": {"0oa-dev"}, "client_secret": {"dev-secret-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
}

// TestIntrospectAlwaysRevocation runs against the development issuer: the
// endpoint comes from discovery, and a revoked JWT is refused at once
// without a cache, and once the cached result ends with one.
func TestIntrospectAlwaysRevocation(t *testing.T) {
	_, issuerURL := devIssuer(t)
	clk := fakeclock.New(time.Now())
	newV := func(ttl time.Duration, mode introspect.Mode) *introspect.Verifier {
		return newIntrospect(t, apiguard.Config{Issuer: issuerURL, Now: clk.Now}, introspect.Config{
			ClientID: "0oa-dev", ClientSecret: "dev-secret-0123456789", Mode: mode, MaxCacheTTL: ttl})
	}
	ctx := context.Background()
	token := devToken(t, issuerURL)
	noCache, cached, opaqueOnly := newV(-1, introspect.Always), newV(time.Minute, introspect.Always), newV(0, introspect.Opaque)
	for name, v := range map[string]*introspect.Verifier{"no cache": noCache, "cached": cached, "opaque only": opaqueOnly} {
		if _, err := v.Verify(ctx, token); err != nil {
			t.Fatalf("%s: before revocation: %v", name, err)
		}
	}
	devRevoke(t, issuerURL, token)
	if _, err := noCache.Verify(ctx, token); !errors.Is(err, introspect.ErrInactive) {
		t.Errorf("always, no cache, after revocation: got %v, want ErrInactive at once", err)
	}
	if _, err := cached.Verify(ctx, token); err != nil {
		t.Errorf("always, cached, after revocation: got %v, want the cached result until it ends", err)
	}
	if _, err := opaqueOnly.Verify(ctx, token); err != nil {
		t.Errorf("opaque only, JWT after revocation: got %v, want it valid until exp", err)
	}
	clk.Advance(time.Minute + time.Second)
	if _, err := cached.Verify(ctx, token); !errors.Is(err, introspect.ErrInactive) {
		t.Errorf("always, cached, after the cache TTL: got %v, want ErrInactive", err)
	}
}

// TestIntrospectUnknownOpaqueToken: the development issuer answers
// active:false for a value it never issued; the endpoint comes from discovery.
func TestIntrospectUnknownOpaqueToken(t *testing.T) {
	_, issuerURL := devIssuer(t)
	v := newIntrospect(t, apiguard.Config{Issuer: issuerURL}, introspect.Config{
		ClientID: "0oa-dev", ClientSecret: "dev-secret-0123456789"})
	if _, err := v.Verify(context.Background(), "RT.not-issued"); !errors.Is(err, introspect.ErrInactive) {
		t.Errorf("unknown opaque token: got %v, want ErrInactive", err)
	}
}

func TestIntrospectionConfigErrors(t *testing.T) {
	v, err := apiguard.New(apiguard.Config{Issuer: "https://issuer.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	idv, err := apiguard.New(apiguard.Config{Issuer: "https://issuer.example.com", Audience: "app", IDToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := introspect.New(idv, introspect.Config{ClientID: "c", ClientSecret: "s"}); err == nil {
		t.Error("ID token verifier: New succeeded")
	}
	if _, err := introspect.New(nil, introspect.Config{ClientID: "c", ClientSecret: "s"}); err == nil {
		t.Error("nil verifier: New succeeded")
	}
	for name, ic := range map[string]introspect.Config{
		"no client id":     {ClientSecret: "s"},
		"no client secret": {ClientID: "c"},
		"bad mode":         {ClientID: "c", ClientSecret: "s", Mode: 7},
		"http endpoint":    {ClientID: "c", ClientSecret: "s", Endpoint: "http://issuer.example.com/introspect"},
	} {
		if _, err := introspect.New(v, ic); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// TestIntrospectTokenTypes: a result is accepted only for an access token.
// token_type must be Bearer or DPoP (in any case) or access_token; an
// absent one is refused, since oidc-provider answers so for a refresh
// token; Hydra's token_use and Keycloak's typ must not name another kind
// of token (issue 12, finding 7).
func TestIntrospectTokenTypes(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	with := func(kv ...any) map[string]any { return testissuer.With(activeBody(iss.URL, clk.Now()), kv...) }
	tests := []struct {
		name string
		body map[string]any
		want error // nil: accepted
	}{
		{"Bearer", with(), nil},
		{"bearer", with("token_type", "bearer"), nil},
		{"DPoP", with("token_type", "DPoP"), nil},
		{"access_token", with("token_type", "access_token"), nil},
		{"Hydra's access token", with("token_use", "access_token"), nil},
		{"Keycloak's access token", with("typ", "Bearer"), nil},
		{"no token_type (oidc-provider's refresh token)", with("token_type", nil), apiguard.ErrType},
		{"token_type null", with("token_type", nil, "x", 1), apiguard.ErrType},
		{"empty token_type", with("token_type", ""), apiguard.ErrType},
		{"refresh_token (Okta's refresh token)", with("token_type", "refresh_token"), apiguard.ErrType},
		{"Refresh_Token", with("token_type", "Refresh_Token"), apiguard.ErrType},
		{"N_A", with("token_type", "N_A"), apiguard.ErrType},
		{"id_token", with("token_type", "id_token"), apiguard.ErrType},
		{"Hydra's refresh token", with("token_use", "refresh_token"), apiguard.ErrType},
		{"Keycloak's refresh token", with("typ", "Refresh"), apiguard.ErrType},
		{"Keycloak's offline token", with("typ", "Offline"), apiguard.ErrType},
		{"Keycloak's ID token", with("typ", "ID"), apiguard.ErrType},
		{"token_type a number", with("token_type", 1), apiguard.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeIntrospection(t)
			fake.set(200, tc.body)
			v := introVerifier(t, iss, clk, fake.srv.URL)
			c, err := v.Verify(context.Background(), opaque)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tc.want == nil && c.Subject != "user@example.com":
				t.Errorf("got sub %q, want user@example.com", c.Subject)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got claims %v, error %v; want %v", c, err, tc.want)
			case errors.Is(tc.want, apiguard.ErrType) && !errors.Is(err, apiguard.ErrInvalidToken):
				t.Errorf("got %v, want an invalid token", err)
			}
		})
	}
}

// TestIntrospectMemberNamesCaseSensitive sends introspection results whose
// member names differ from RFC 7662's only in case, or repeat: "Active" is
// not active, "Token_type" not token_type, "Scope" not scope (issue 12,
// finding 6). A result with a name twice is not a usable answer: 503, never
// a token let through.
func TestIntrospectMemberNamesCaseSensitive(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	now := clk.Now()
	rest := fmt.Sprintf(`"iss":%q,"aud":"api://default","sub":"user@example.com","client_id":"0oa-app","iat":%d`, iss.URL, now.Unix())
	exp := fmt.Sprintf(`"exp":%d`, now.Add(time.Hour).Unix())
	tests := []struct {
		name   string
		body   string
		want   error // nil: accepted
		scopes []string
	}{
		{"lower case", `{"active":true,"token_type":"Bearer","scope":"read",` + exp + `,` + rest + `}`, nil, []string{"read"}},
		{"Active is not active", `{"Active":true,"token_type":"Bearer","scope":"read",` + exp + `,` + rest + `}`, introspect.ErrInactive, nil},
		{"ACTIVE true, active false", `{"active":false,"ACTIVE":true,"token_type":"Bearer",` + exp + `,` + rest + `}`, introspect.ErrInactive, nil},
		{"Token_type is not token_type", `{"active":true,"Token_type":"Bearer","scope":"read",` + exp + `,` + rest + `}`, apiguard.ErrType, nil},
		{"TOKEN_TYPE Bearer beside refresh_token", `{"active":true,"token_type":"refresh_token","TOKEN_TYPE":"Bearer",` + exp + `,` + rest + `}`, apiguard.ErrType, nil},
		{"Scope is not scope", `{"active":true,"token_type":"Bearer","scope":"read","Scope":"admin",` + exp + `,` + rest + `}`, nil, []string{"read"}},
		{"Exp only: no exp", `{"active":true,"token_type":"Bearer","Exp":` + fmt.Sprint(now.Add(time.Hour).Unix()) + `,` + rest + `}`, apiguard.ErrExpired, nil},
		{"active twice", `{"active":false,"active":true,"token_type":"Bearer",` + exp + `,` + rest + `}`, apiguard.ErrUnavailable, nil},
		{"token_type twice", `{"active":true,"token_type":"refresh_token","token_type":"Bearer",` + exp + `,` + rest + `}`, apiguard.ErrUnavailable, nil},
		{"sub twice", `{"active":true,"token_type":"Bearer","sub":"admin",` + exp + `,` + rest + `}`, apiguard.ErrUnavailable, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeIntrospection(t)
			fake.setRaw(tc.body)
			v := introVerifier(t, iss, clk, fake.srv.URL)
			c, err := v.Verify(context.Background(), opaque)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tc.want == nil && !slices.Equal(c.Scopes, tc.scopes):
				t.Errorf("got scopes %q, want %q", c.Scopes, tc.scopes)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got claims %v, error %v; want %v", c, err, tc.want)
			}
		})
	}
}
