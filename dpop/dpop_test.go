package dpop_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

const apiURL = "https://api.example.com/orders"

type dpopFixture struct {
	iss   *testissuer.Issuer
	clk   *fakeclock.Clock
	key   *dpoptest.Key
	token string // bound to key
	plain string // a bearer token
	m     *apiguard.Middleware
}

func newDPoPFixture(t *testing.T, cfg dpop.Config) *dpopFixture {
	t.Helper()
	f := &dpopFixture{iss: testissuer.New(t), clk: fakeclock.New(epoch), key: dpoptest.NewKey(t, "ES256")}
	claims := f.iss.Claims(f.clk.Now())
	f.token = f.iss.Sign(t, "rs256", testissuer.With(claims, "cnf", map[string]string{"jkt": f.key.JKT()}), nil)
	f.plain = f.iss.Sign(t, "rs256", claims, nil)
	if cfg.Now == nil {
		cfg.Now = f.clk.Now
	}
	d, err := dpop.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.m = &apiguard.Middleware{Verifier: newVerifier(t, f.iss, f.clk), Binding: d,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource"}
	return f
}

// proof is a valid proof for GET apiURL with f.token, changed by mutate.
func (f *dpopFixture) proof(t *testing.T, mutate func(h, c map[string]any)) string {
	t.Helper()
	h, c := f.key.Header(), f.key.Claims(http.MethodGet, apiURL, f.token, f.clk.Now())
	if mutate != nil {
		mutate(h, c)
	}
	return f.key.Sign(t, h, c)
}

// proofFor is a valid proof by f.key for GET apiURL with token.
func (f *dpopFixture) proofFor(t *testing.T, token string) string {
	t.Helper()
	return f.key.Sign(t, f.key.Header(), f.key.Claims(http.MethodGet, apiURL, token, f.clk.Now()))
}

// call sends GET target with Authorization "scheme token" and the proofs.
func (f *dpopFixture) call(t *testing.T, target, scheme, token string, proofs ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	if scheme != "" {
		r.Header.Set("Authorization", scheme+" "+token)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	w := httptest.NewRecorder()
	f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})).ServeHTTP(w, r)
	return w.Result()
}

func errorCode(t *testing.T, res *http.Response) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if res.StatusCode != http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatalf("refusal body: %v", err)
		}
	}
	return body.Error
}

func TestDPoPProofChecks(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{PublicURL: "https://api.example.com"})
	other := dpoptest.NewKey(t, "ES256")
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		proofs []string
		code   string // "" = accepted
	}{
		{"valid", []string{f.proof(t, nil)}, ""},
		{"htu with query, fragment, upper-case host and default port", []string{f.proof(t, func(h, c map[string]any) {
			c["htu"] = "HTTPS://API.Example.com:443/orders?page=2#top"
		})}, ""},
		{"no proof", nil, "invalid_dpop_proof"},
		{"two proofs", []string{f.proof(t, nil), f.proof(t, nil)}, "invalid_dpop_proof"},
		{"not a JWS", []string{"abc"}, "invalid_dpop_proof"},
		{"typ JWT", []string{f.proof(t, func(h, c map[string]any) { h["typ"] = "JWT" })}, "invalid_dpop_proof"},
		{"no typ", []string{f.proof(t, func(h, c map[string]any) { delete(h, "typ") })}, "invalid_dpop_proof"},
		{"HS256", []string{f.proof(t, func(h, c map[string]any) { h["alg"] = "HS256" })}, "invalid_dpop_proof"},
		{"alg none", []string{strings.Join(strings.Split(f.proof(t, func(h, c map[string]any) { h["alg"] = "none" }), ".")[:2], ".") + "."}, "invalid_dpop_proof"},
		{"no jwk", []string{f.proof(t, func(h, c map[string]any) { delete(h, "jwk") })}, "invalid_dpop_proof"},
		{"jwk of another key", []string{f.proof(t, func(h, c map[string]any) { h["jwk"] = other.Public })}, "invalid_dpop_proof"},
		{"private jwk", []string{f.proof(t, func(h, c map[string]any) { h["jwk"] = jose.JSONWebKey{Key: f.key.Priv} })}, "invalid_dpop_proof"},
		{"htm POST", []string{f.proof(t, func(h, c map[string]any) { c["htm"] = "POST" })}, "invalid_dpop_proof"},
		{"htm lower-case", []string{f.proof(t, func(h, c map[string]any) { c["htm"] = "get" })}, "invalid_dpop_proof"},
		{"htu other path", []string{f.proof(t, func(h, c map[string]any) { c["htu"] = "https://api.example.com/admin" })}, "invalid_dpop_proof"},
		{"htu other host", []string{f.proof(t, func(h, c map[string]any) { c["htu"] = "https://evil.example.com/orders" })}, "invalid_dpop_proof"},
		{"htu http", []string{f.proof(t, func(h, c map[string]any) { c["htu"] = "http://api.example.com/orders" })}, "invalid_dpop_proof"},
		{"no htu", []string{f.proof(t, func(h, c map[string]any) { delete(c, "htu") })}, "invalid_dpop_proof"},
		{"iat 61s old", []string{f.proof(t, func(h, c map[string]any) { c["iat"] = f.clk.Now().Add(-61 * time.Second).Unix() })}, "invalid_dpop_proof"},
		{"iat 61s ahead", []string{f.proof(t, func(h, c map[string]any) { c["iat"] = f.clk.Now().Add(61 * time.Second).Unix() })}, "invalid_dpop_proof"},
		{"iat 59s old", []string{f.proof(t, func(h, c map[string]any) { c["iat"] = f.clk.Now().Add(-59 * time.Second).Unix() })}, ""},
		{"no iat", []string{f.proof(t, func(h, c map[string]any) { delete(c, "iat") })}, "invalid_dpop_proof"},
		{"iat a string", []string{f.proof(t, func(h, c map[string]any) { c["iat"] = "now" })}, "invalid_dpop_proof"},
		{"no jti", []string{f.proof(t, func(h, c map[string]any) { delete(c, "jti") })}, "invalid_dpop_proof"},
		{"no ath", []string{f.proof(t, func(h, c map[string]any) { delete(c, "ath") })}, "invalid_dpop_proof"},
		{"ath of another token", []string{f.proof(t, func(h, c map[string]any) { c["ath"] = dpoptest.ATH(f.plain) })}, "invalid_dpop_proof"},
		{"valid proof by a key the token is not bound to", []string{other.Sign(t, other.Header(), other.Claims(http.MethodGet, apiURL, f.token, f.clk.Now()))}, "invalid_token"},
		{"RSA key of 1024 bits", []string{weakProof(t, weak, f)}, "invalid_dpop_proof"},
		// Claim names match exactly (RFC 7519 §4): a proof whose htm, htu,
		// iat, jti or ath is spelt in another case has none of them.
		{"HTM instead of htm", []string{f.proof(t, func(h, c map[string]any) { c["HTM"] = c["htm"]; delete(c, "htm") })}, "invalid_dpop_proof"},
		{"Htu instead of htu", []string{f.proof(t, func(h, c map[string]any) { c["Htu"] = c["htu"]; delete(c, "htu") })}, "invalid_dpop_proof"},
		{"IAT instead of iat", []string{f.proof(t, func(h, c map[string]any) { c["IAT"] = c["iat"]; delete(c, "iat") })}, "invalid_dpop_proof"},
		{"Ath instead of ath", []string{f.proof(t, func(h, c map[string]any) { c["Ath"] = c["ath"]; delete(c, "ath") })}, "invalid_dpop_proof"},
		{"HTM beside a wrong htm", []string{f.proof(t, func(h, c map[string]any) { c["HTM"] = c["htm"]; c["htm"] = "POST" })}, "invalid_dpop_proof"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := f.call(t, apiURL+"?page=2", "DPoP", f.token, tc.proofs...)
			if got := errorCode(t, res); got != tc.code {
				t.Fatalf("got %d %q, want %q", res.StatusCode, got, tc.code)
			}
			if tc.code == "" {
				return
			}
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("got status %d, want 401", res.StatusCode)
			}
			challenges := res.Header.Values("WWW-Authenticate")
			want := `DPoP algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", error="` + tc.code + `"`
			if len(challenges) != 2 || !strings.HasPrefix(challenges[0], "Bearer ") || strings.Contains(challenges[0], "error=") ||
				!strings.HasPrefix(challenges[1], want) || !strings.Contains(challenges[1], "resource_metadata=") {
				t.Errorf("got challenges %q, want a plain Bearer one and %s…", challenges, want)
			}
		})
	}
}

// weakProof is a proof by a 1024-bit RSA key for a token bound to it.
func weakProof(t *testing.T, weak *rsa.PrivateKey, f *dpopFixture) string {
	k := &dpoptest.Key{Alg: "RS256", Priv: weak, Public: jose.JSONWebKey{Key: weak.Public()}}
	return k.Sign(t, k.Header(), k.Claims(http.MethodGet, apiURL, f.token, f.clk.Now()))
}

func TestDPoPReplayRefused(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{PublicURL: "https://api.example.com"})
	p := f.proof(t, nil)
	if res := f.call(t, apiURL, "DPoP", f.token, p); res.StatusCode != http.StatusOK {
		t.Fatalf("first use: got %d, want 200", res.StatusCode)
	}
	if res := f.call(t, apiURL, "DPoP", f.token, p); errorCode(t, res) != "invalid_dpop_proof" {
		t.Errorf("replay: got %d, want 401 invalid_dpop_proof", res.StatusCode)
	}
	// A proof refused for another reason is not remembered: its jti can
	// still be used once by a valid proof.
	h, c := f.key.Header(), f.key.Claims(http.MethodGet, apiURL, f.token, f.clk.Now())
	c["htm"] = "POST"
	if res := f.call(t, apiURL, "DPoP", f.token, f.key.Sign(t, h, c)); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad htm: got %d", res.StatusCode)
	}
	c["htm"] = "GET"
	if res := f.call(t, apiURL, "DPoP", f.token, f.key.Sign(t, h, c)); res.StatusCode != http.StatusOK {
		t.Errorf("same jti after a refused proof: got %d, want 200", res.StatusCode)
	}
}

func TestDPoPSchemes(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{})
	cnfNoJKT := f.iss.Sign(t, "rs256", testissuer.With(f.iss.Claims(f.clk.Now()), "cnf", map[string]string{"x5t#S256": "abc"}), nil)
	tests := []struct {
		name, scheme, token string
		proof               bool
		status              int
		code                string
		errorOnDPoP         bool // the error is on the DPoP challenge
	}{
		{"bound token as Bearer", "Bearer", f.token, true, 401, "invalid_token", true},
		{"bearer token with DPoP scheme", "DPoP", f.plain, true, 401, "invalid_token", true},
		{"bearer token as Bearer", "Bearer", f.plain, false, 200, "", false},
		{"bound token, DPoP scheme in lower case", "dpop", f.token, true, 200, "", false},
		{"cnf without jkt", "DPoP", cnfNoJKT, true, 401, "invalid_token", true},
		{"no credentials", "", "", false, 401, "unauthorized", false},
		{"empty DPoP token", "DPoP", "", false, 400, "invalid_request", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var proofs []string
			if tc.proof {
				// The default htu comes from the request: https (TLS) and its Host.
				proofs = append(proofs, f.proofFor(t, tc.token))
			}
			res := f.call(t, apiURL, tc.scheme, tc.token, proofs...)
			if got := errorCode(t, res); res.StatusCode != tc.status || (tc.code != "unauthorized" && got != tc.code) {
				t.Fatalf("got %d %q, want %d %q", res.StatusCode, got, tc.status, tc.code)
			}
			if tc.status == 200 {
				return
			}
			ch := res.Header.Values("WWW-Authenticate")
			if len(ch) != 2 {
				t.Fatalf("got challenges %q, want Bearer and DPoP", ch)
			}
			onDPoP := strings.Contains(ch[1], "error=")
			onBearer := strings.Contains(ch[0], "error=")
			if tc.code == "unauthorized" && (onDPoP || onBearer) {
				t.Errorf("no credentials: got challenges %q, want no error code", ch)
			} else if tc.code != "unauthorized" && (onDPoP != tc.errorOnDPoP || onBearer == tc.errorOnDPoP) {
				t.Errorf("got challenges %q, want the error on the DPoP one: %v", ch, tc.errorOnDPoP)
			}
		})
	}
}

func TestDPoPOffRefusesBoundTokens(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{})
	f.m.Binding = nil
	res := f.call(t, apiURL, "Bearer", f.token)
	if code := errorCode(t, res); res.StatusCode != 401 || code != "invalid_token" {
		t.Errorf("bound token with DPoP off: got %d %q, want 401 invalid_token", res.StatusCode, code)
	}
	if ch := res.Header.Values("WWW-Authenticate"); len(ch) != 1 || !strings.HasPrefix(ch[0], "Bearer ") {
		t.Errorf("got challenges %q, want one Bearer challenge", ch)
	}
	_, err := f.m.Check(httptest.NewRequest(http.MethodGet, apiURL, nil))
	if err == nil {
		t.Fatal("no credentials accepted")
	}
	r := httptest.NewRequest(http.MethodGet, apiURL, nil)
	r.Header.Set("Authorization", "Bearer "+f.token)
	if _, err := f.m.Check(r); !errors.Is(err, apiguard.ErrTokenBinding) || !errors.Is(err, apiguard.ErrInvalidToken) {
		t.Errorf("Check: got %v, want ErrTokenBinding (an ErrInvalidToken)", err)
	}
}

func TestDPoPRequired(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{Required: true})
	res := f.call(t, apiURL, "Bearer", f.plain)
	if code := errorCode(t, res); res.StatusCode != 401 || code != "invalid_token" {
		t.Errorf("bearer token with DPoP required: got %d %q, want 401 invalid_token", res.StatusCode, code)
	}
	if ch := res.Header.Values("WWW-Authenticate"); len(ch) != 1 || !strings.HasPrefix(ch[0], `DPoP algs=`) || !strings.Contains(ch[0], `error="invalid_token"`) {
		t.Errorf("got challenges %q, want one DPoP challenge with the error", ch)
	}
	if res := f.call(t, apiURL, "DPoP", f.token, f.proofFor(t, f.token)); res.StatusCode != 200 {
		t.Errorf("bound token: got %d, want 200", res.StatusCode)
	}
}

func TestDPoPNonce(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{NonceKey: []byte("0123456789abcdef0123456789abcdef"), NonceLifetime: time.Minute})
	res := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil))
	nonce := res.Header.Get("DPoP-Nonce")
	if code := errorCode(t, res); res.StatusCode != 401 || code != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: got %d %q, DPoP-Nonce %q; want 401 use_dpop_nonce and a nonce", res.StatusCode, code, nonce)
	}
	withNonce := func(n string) string {
		return f.proof(t, func(h, c map[string]any) { c["nonce"] = n })
	}
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce(nonce)); res.StatusCode != 200 {
		t.Errorf("with the nonce: got %d, want 200", res.StatusCode)
	}
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce(nonce+"x")); errorCode(t, res) != "use_dpop_nonce" {
		t.Errorf("forged nonce: got %d, want use_dpop_nonce", res.StatusCode)
	}
	f.clk.Advance(time.Minute) // the previous nonce is still good
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce(nonce)); res.StatusCode != 200 {
		t.Errorf("previous nonce: got %d, want 200", res.StatusCode)
	}
	f.clk.Advance(time.Minute)
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce(nonce)); errorCode(t, res) != "use_dpop_nonce" {
		t.Errorf("stale nonce: got %d, want use_dpop_nonce", res.StatusCode)
	}
}

// brokenReplay is a replay cache that cannot be reached.
type brokenReplay struct{}

func (brokenReplay) Use(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("connection refused")
}

func TestDPoPReplayCacheDownIs503(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{ReplayCache: brokenReplay{}})
	res := f.call(t, apiURL, "DPoP", f.token, f.proofFor(t, f.token))
	if code := errorCode(t, res); res.StatusCode != http.StatusServiceUnavailable || code != "temporarily_unavailable" || res.Header.Get("Retry-After") == "" {
		t.Errorf("got %d %q, want 503 temporarily_unavailable with Retry-After", res.StatusCode, code)
	}
}

func TestDPoPReplayCacheFullIs503(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{ReplayCacheSize: 1})
	if res := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil)); res.StatusCode != 200 {
		t.Fatalf("first proof: got %d", res.StatusCode)
	}
	if res := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil)); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second proof with a full replay cache: got %d, want 503", res.StatusCode)
	}
	f.clk.Advance(3 * time.Minute) // the first proof's entry expires
	if res := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil)); res.StatusCode != 200 {
		t.Errorf("after the entry expired: got %d, want 200", res.StatusCode)
	}
}

func TestDPoPKeyTypes(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			f := newDPoPFixture(t, dpop.Config{})
			key := dpoptest.NewKey(t, alg)
			token := f.iss.Sign(t, "rs256", testissuer.With(f.iss.Claims(f.clk.Now()), "cnf", map[string]string{"jkt": key.JKT()}), nil)
			proof := key.Sign(t, key.Header(), key.Claims(http.MethodGet, apiURL, token, f.clk.Now()))
			if res := f.call(t, apiURL, "DPoP", token, proof); res.StatusCode != 200 {
				t.Errorf("got %d, want 200", res.StatusCode)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	for _, cfg := range []dpop.Config{
		{PublicURL: "ftp://api.example.com"},
		{PublicURL: "https://api.example.com/?q=1"},
		{Algorithms: []string{"HS256"}},
		{Window: 6 * time.Minute},
		{NonceKey: []byte("short")},
	} {
		if _, err := dpop.New(cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

// TestNewPublicURL checks that a public URL clients cannot have sent, or
// that holds credentials, is refused with an error naming the setting and
// not repeating a password.
func TestNewPublicURL(t *testing.T) {
	for _, tt := range []struct {
		url  string
		want error
	}{
		{"https://api.example.com/?q=1", urlcheck.ErrQuery},
		{"https://api.example.com?", urlcheck.ErrQuery},
		{"https://api.example.com/#top", urlcheck.ErrFragment},
		{"https://svc:hunter2@api.example.com", urlcheck.ErrCredentials},
		{"ftp://api.example.com", urlcheck.ErrScheme},
		{"api.example.com", urlcheck.ErrNotAbsolute},
	} {
		_, err := dpop.New(dpop.Config{PublicURL: tt.url})
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), "Config.PublicURL") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("New(PublicURL %q): got %v, want %v naming Config.PublicURL without the password", tt.url, err, tt.want)
		}
	}
	for _, ok := range []string{"https://api.example.com", "http://127.0.0.1:5000/prefix/"} {
		if _, err := dpop.New(dpop.Config{PublicURL: ok}); err != nil {
			t.Errorf("New(PublicURL %q): %v", ok, err)
		}
	}
}

var epoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newVerifier(t *testing.T, iss *testissuer.Issuer, clk *fakeclock.Clock) *apiguard.Verifier {
	t.Helper()
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, Now: clk.Now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}
