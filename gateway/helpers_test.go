package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/syncbuf"
	"github.com/apiguard/apiguard/internal/testwait"
	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"
)

// testIssuer is a minimal Okta-shaped issuer on loopback: discovery, a JWKS
// with one RSA key, and tokens minted with golang-jwt.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
	URL string // the issuer identifier
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("failed to generate key: %v", err)
	}
	ti := &testIssuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth2/default/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":   ti.URL,
			"jwks_uri": ti.URL + "/v1/keys",
		})
	})
	mux.HandleFunc("GET /oauth2/default/v1/keys", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": ti.kid,
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	ti.URL = ti.srv.URL + "/oauth2/default"
	return ti
}

// token mints an access token for sub; extra claims override the defaults.
func (ti *testIssuer) token(t testing.TB, extra map[string]any) string {
	t.Helper()
	return ti.tokenWithKey(t, ti.key, extra)
}

func (ti *testIssuer) tokenWithKey(t testing.TB, key *rsa.PrivateKey, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := jwt.MapClaims{
		"ver": 1, "jti": "AT.test", "iss": ti.URL, "aud": "api://default",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"cid": "client-1", "uid": "00u1", "sub": "alice@example.com",
		"scp": []string{}, "groups": []string{},
	}
	for k, v := range extra {
		claims[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = ti.kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("failed to sign token: %v", err)
	}
	return s
}

// syncBuffer collects output that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

// echo is what the echo upstream answers: what it received.
type echo struct {
	Upstream string      `json:"upstream"`
	Method   string      `json:"method"`
	Path     string      `json:"path"`
	Query    string      `json:"query"`
	Header   http.Header `json:"header"`
}

// newEcho starts an upstream that answers with the request it received.
func newEcho(t testing.TB, name string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echo{Upstream: name, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// fixture is a running gateway in front of upstreams, with its issuer.
type fixture struct {
	gw     *gateway.Gateway
	srv    *httptest.Server
	issuer *testIssuer
	logs   *syncBuffer
}

// newFixture starts a gateway for the YAML config text; "{{issuer}}" in it is
// replaced by the test issuer's URL and "{{name}}" by vars[name].
func newFixture(t *testing.T, ti *testIssuer, config string, vars map[string]string) *fixture {
	t.Helper()
	for k, v := range vars {
		config = strings.ReplaceAll(config, "{{"+k+"}}", v)
	}
	rules, opts := parseConfig(t, config)
	logs := &syncBuffer{}
	gw := newGateway(t, ti.URL, rules, opts, logs)
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &fixture{gw: gw, srv: srv, issuer: ti, logs: logs}
}

// testConfig is how the tests write a gateway: its Rules as YAML (their
// keys in `apiguard gateway`'s file), plus the Options they vary.
type testConfig struct {
	gateway.Rules `yaml:",inline"`
	AuthProxy     string `yaml:"auth_proxy"`
	SeparateAdmin bool   `yaml:"separate_admin"`
}

// parseConfig decodes a testConfig strictly.
func parseConfig(t testing.TB, text string) (gateway.Rules, gateway.Options) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	var c testConfig
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return c.Rules, gateway.Options{AuthProxy: c.AuthProxy, SeparateAdmin: c.SeparateAdmin}
}

// withLogger returns o logging to l.
func withLogger(o gateway.Options, l *slog.Logger) gateway.Options {
	o.Logger = l
	return o
}

// newGateway builds a gateway deciding with a verifier for issuer, logging
// to logs.
func newGateway(t testing.TB, issuer string, rules gateway.Rules, opts gateway.Options, logs io.Writer) *gateway.Gateway {
	t.Helper()
	v, err := apiguard.New(apiguard.Config{Issuer: issuer, FetchTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("apiguard.New: %v", err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v}, rules, opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	return gw
}

// do sends a request through the gateway; token "" sends none.
func (f *fixture) do(t *testing.T, method, path, token string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// decode reads a JSON body into v.
func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("failed to read body: %v", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("failed to decode body %q: %v", body, err)
	}
}

// eventually polls cond until it holds, failing the test after a deadline.
var eventually = testwait.For

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	decode(t, resp, &body)
	return body.Error
}

// newAdmin serves the fixture's admin endpoints.
func newAdmin(t *testing.T, f *fixture) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f.gw.AdminHandler())
	t.Cleanup(srv.Close)
	return srv
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
