package gateway_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/dpoptest"
)

// authConfig is the rule set of the /auth tests: a public prefix, reads and
// writes of orders under different scopes, and an admin area.
const authConfig = `
routes:
  - path: /public/**
    public: true
  - path: /orders/**
    methods: [GET]
    scopes: [orders:read]
  - path: /orders/**
    methods: [POST, PUT, DELETE]
    scopes: [orders:write]
  - path: /admin/**
    scopes: [admin]
`

// authReply is a /auth answer.
type authReply struct {
	status int
	header http.Header
	body   struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw string
}

// decide sends a decision request with the given headers (and a Bearer token
// unless token is "") to the gateway's /auth.
func decide(t *testing.T, f *fixture, token string, h http.Header) authReply {
	t.Helper()
	resp := f.do(t, http.MethodGet, gateway.PathAuth, token, h)
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := authReply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("got body %q, want JSON: %v", raw, err)
		}
	}
	return r
}

// pairs are the header pairs of each auth_proxy value; "" is the default.
var pairs = []struct {
	setting, method, uri, otherMethod, otherURI string
}{
	{"", "X-Original-Method", "X-Original-Uri", "X-Forwarded-Method", "X-Forwarded-Uri"},
	{"nginx", "X-Original-Method", "X-Original-Uri", "X-Forwarded-Method", "X-Forwarded-Uri"},
	{"NGINX", "X-Original-Method", "X-Original-Uri", "X-Forwarded-Method", "X-Forwarded-Uri"},
	{"traefik", "X-Forwarded-Method", "X-Forwarded-Uri", "X-Original-Method", "X-Original-Uri"},
	{"caddy", "X-Forwarded-Method", "X-Forwarded-Uri", "X-Original-Method", "X-Original-Uri"},
}

// TestAuthTrustedPair: for each auth_proxy value, /auth decides on that
// proxy's pair and refuses with 400 invalid_request, naming the header and
// the setting, a decision request that lacks a header of the pair, repeats
// one, spells one a second way, carries a header of the other pair, or has
// a method or URI that is not one. The decision request's own method is
// never used.
func TestAuthTrustedPair(t *testing.T) {
	ti := newTestIssuer(t)
	reader := ti.token(t, map[string]any{"scp": []string{"orders:read"}})
	for _, p := range pairs {
		t.Run("auth_proxy="+p.setting, func(t *testing.T) {
			f := newFixture(t, ti, "auth_proxy: "+p.setting+"\n"+authConfig, nil)
			with := func(kv ...string) http.Header {
				h := http.Header{}
				for i := 0; i+1 < len(kv); i += 2 {
					h[kv[i]] = append(h[kv[i]], kv[i+1])
				}
				return h
			}
			tests := []struct {
				name   string
				header http.Header
				want   int
				names  string // the header the refusal must name
			}{
				{"the pair", with(p.method, "GET", p.uri, "/orders/1"), 200, ""},
				{"the pair, method decides", with(p.method, "DELETE", p.uri, "/orders/1"), 403, ""},
				{"method missing", with(p.uri, "/orders/1"), 400, p.method},
				{"uri missing", with(p.method, "GET"), 400, p.uri},
				{"method empty", with(p.method, "", p.uri, "/orders/1"), 400, p.method},
				{"uri empty", with(p.method, "GET", p.uri, ""), 400, p.uri},
				{"only the other pair", with(p.otherMethod, "GET", p.otherURI, "/orders/1"), 400, p.otherMethod},
				{"other method beside the pair", with(p.method, "GET", p.uri, "/orders/1", p.otherMethod, "GET"), 400, p.otherMethod},
				{"other uri beside the pair", with(p.method, "GET", p.uri, "/orders/1", p.otherURI, "/orders/1"), 400, p.otherURI},
				{"other uri spelt with underscores", with(p.method, "GET", p.uri, "/orders/1", strings.ReplaceAll(p.otherURI, "-", "_"), "/public/x"), 400, p.otherURI},
				{"two methods", with(p.method, "GET", p.method, "GET", p.uri, "/orders/1"), 400, p.method},
				{"two uris", with(p.method, "GET", p.uri, "/orders/1", p.uri, "/orders/1"), 400, p.uri},
				{"uri again with underscores", with(p.method, "GET", p.uri, "/orders/1", strings.ReplaceAll(p.uri, "-", "_"), "/orders/1"), 400, p.uri},
				{"method is a list", with(p.method, "GET, DELETE", p.uri, "/orders/1"), 400, p.method},
				{"uri is absolute", with(p.method, "GET", p.uri, "http://api.example/orders/1"), 400, p.uri},
				{"uri is *", with(p.method, "OPTIONS", p.uri, "*"), 400, p.uri},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := decide(t, f, reader, tt.header)
					if r.status != tt.want {
						t.Fatalf("got %d %s, want %d", r.status, r.raw, tt.want)
					}
					if tt.want != 400 {
						return
					}
					if r.body.Error != "invalid_request" {
						t.Errorf("got error %q, want invalid_request", r.body.Error)
					}
					// The description names the header (as documented,
					// e.g. X-Original-URI) and the setting.
					if !strings.Contains(strings.ToLower(r.body.Description), strings.ToLower(tt.names)) || !strings.Contains(r.body.Description, "auth_proxy") {
						t.Errorf("got description %q, want it to name %s and auth_proxy", r.body.Description, tt.names)
					}
				})
			}
		})
	}
}

// TestAuthAttacks: one case per request that /auth let through before it
// trusted one header pair only. Each reproduces what a client could do
// through nginx with the old README snippet (nginx passes the client's
// headers to the auth_request subrequest, and sets only X-Original-*).
func TestAuthAttacks(t *testing.T) {
	ti := newTestIssuer(t)
	f := newFixture(t, ti, authConfig, nil)
	reader := ti.token(t, map[string]any{"scp": []string{"orders:read"}})
	tests := []struct {
		name   string
		token  string
		header http.Header
	}{
		// GET /admin/secret plus "X-Forwarded-Uri: /public/x": the old
		// code preferred X-Forwarded-Uri and decided on a public path, so
		// nginx proxied /admin/secret without a token.
		{"client X-Forwarded-Uri names a public path", "", http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/admin/secret"}, "X-Forwarded-Uri": {"/public/x"}}},
		// POST /orders/1 with a read-only token plus "X-Forwarded-Method:
		// GET": the old code decided GET /orders/1 and accepted it.
		{"client X-Forwarded-Method turns a POST into a GET", reader, http.Header{
			"X-Original-Method": {"POST"}, "X-Original-Uri": {"/orders/1"}, "X-Forwarded-Method": {"GET"}}},
		// Both forwarded headers: the old code never looked at X-Original-*.
		{"client X-Forwarded-Method and -Uri together", "", http.Header{
			"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/orders/1"}, "X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/public/"}}},
		// A proxy configured without X-Original-Method: the old code fell
		// back to the subrequest's own method (GET), so a POST through it
		// was decided as a GET.
		{"no method header: the subrequest's GET was used", reader, http.Header{
			"X-Original-Uri": {"/orders/1"}}},
		// Two X-Original-URI values (a proxy that adds rather than sets):
		// the old code decided on the first, which the client sent.
		{"two uris: the first was decided", "", http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/public/x", "/admin/secret"}}},
		// GET /orders/1 with a read token plus X-HTTP-Method-Override:
		// DELETE: decided as a GET, then nginx passed the header to an API
		// that routes on it (express method-override, Rails, Symfony).
		{"method-override header on a checked GET", reader, http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/1"}, "X-Http-Method-Override": {"DELETE"}}},
		{"X-Method-Override on a checked GET", reader, http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/1"}, "X-Method-Override": {"DELETE"}}},
		// The same with a _method query parameter in the described URI.
		{"_method parameter on a checked GET", reader, http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/1?_method=DELETE"}}},
		// A public path decided, and X-Original-URL (Symfony, IIS) or
		// X-Rewrite-URL naming a protected one for the API to route on.
		{"X-Original-URL on a public path", "", http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/public/x"}, "X-Original-Url": {"/admin/secret"}}},
		{"X-Rewrite-URL on a public path", "", http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/public/x"}, "X-Rewrite-Url": {"/admin/secret"}}},
		// An h2c upgrade decided as a plain GET of a public path.
		{"Upgrade h2c on a public path", "", http.Header{
			"X-Original-Method": {"GET"}, "X-Original-Uri": {"/public/x"}, "Upgrade": {"h2c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decide(t, f, tt.token, tt.header)
			if r.status != http.StatusBadRequest || r.body.Error != "invalid_request" {
				t.Errorf("got %d %s, want 400 invalid_request", r.status, r.raw)
			}
		})
	}
}

// TestAuthRefusalHeaders: with auth_proxy nginx, a refusal carries its JSON
// body in X-Apiguard-Error and its challenges in X-Apiguard-Bearer-Challenge
// and X-Apiguard-Dpop-Challenge instead of WWW-Authenticate (nginx copies the
// first WWW-Authenticate line onto a 401 itself, and reads no body); with
// traefik or caddy the answer is the usual one, without those headers.
func TestAuthRefusalHeaders(t *testing.T) {
	const public = "https://api.example.test"
	ti := newTestIssuer(t)
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dpop.New(dpop.Config{PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	reader := ti.token(t, map[string]any{"scp": []string{"orders:read"}})
	for _, proxy := range []string{"nginx", "traefik"} {
		t.Run(proxy, func(t *testing.T) {
			rules, opts := parseConfig(t, "auth_proxy: "+proxy+"\n"+authConfig)
			gw, err := gateway.New(&apiguard.Middleware{Verifier: v, Binding: d}, rules, withLogger(opts, slog.New(slog.DiscardHandler)))
			if err != nil {
				t.Fatal(err)
			}
			f := &fixture{gw: gw, srv: newServer(t, gw), issuer: ti}
			method, uri := "X-Original-Method", "X-Original-Uri"
			if proxy != "nginx" {
				method, uri = "X-Forwarded-Method", "X-Forwarded-Uri"
			}
			tests := []struct {
				name       string
				token      string
				header     http.Header
				status     int
				errCode    string
				challenges []string // prefixes of the Bearer and DPoP challenges, "" for none
			}{
				{"no token", "", http.Header{method: {"GET"}, uri: {"/orders/1"}}, 401, "unauthorized", []string{`Bearer realm="apiguard"`, `DPoP algs="`}},
				{"bad token", "x.y.z", http.Header{method: {"GET"}, uri: {"/orders/1"}}, 401, "invalid_token", []string{`Bearer realm="apiguard", error="invalid_token"`, `DPoP algs="`}},
				{"scope missing", reader, http.Header{method: {"DELETE"}, uri: {"/orders/1"}}, 403, "insufficient_scope", []string{`Bearer realm="apiguard", error="insufficient_scope"`, `DPoP algs="`}},
				{"no route", reader, http.Header{method: {"GET"}, uri: {"/nowhere"}}, 404, "not_found", []string{"", ""}},
				{"bad header", reader, http.Header{method: {"GET"}}, 400, "invalid_request", []string{"", ""}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := decide(t, f, tt.token, tt.header)
					if r.status != tt.status || r.body.Error != tt.errCode {
						t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.errCode)
					}
					got := []string{r.header.Get("X-Apiguard-Bearer-Challenge"), r.header.Get("X-Apiguard-Dpop-Challenge")}
					www := r.header.Values("WWW-Authenticate")
					if proxy != "nginx" {
						got = []string{"", ""}
						for _, c := range www {
							if strings.HasPrefix(c, "Bearer ") {
								got[0] = c
							} else if strings.HasPrefix(c, "DPoP ") {
								got[1] = c
							}
						}
						www = nil
						if e := r.header.Get("X-Apiguard-Error"); e != "" {
							t.Errorf("got X-Apiguard-Error %q with auth_proxy %s, want none", e, proxy)
						}
					} else if e := r.header.Get("X-Apiguard-Error"); e != strings.TrimSpace(r.raw) {
						t.Errorf("got X-Apiguard-Error %q, want the body %q", e, strings.TrimSpace(r.raw))
					}
					if len(www) != 0 {
						t.Errorf("got WWW-Authenticate %q with auth_proxy nginx, want it only in X-Apiguard-* headers", www)
					}
					for i, want := range tt.challenges {
						if (want == "") != (got[i] == "") || !strings.HasPrefix(got[i], want) {
							t.Errorf("got challenge %q, want one starting %q", got[i], want)
						}
					}
				})
			}
		})
	}
}

// TestAuthDPoPNginx: with auth_proxy nginx a DPoP proof is checked against
// X-Original-Method and PublicURL plus the path of X-Original-URI, and a
// client's X-Forwarded-Method cannot move htm.
func TestAuthDPoPNginx(t *testing.T) {
	const public = "https://api.example.test"
	ti := newTestIssuer(t)
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dpop.New(dpop.Config{PublicURL: public})
	if err != nil {
		t.Fatal(err)
	}
	rules, opts := parseConfig(t, "routes:\n  - path: /orders/**\n")
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v, Binding: d}, rules, withLogger(opts, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	key := dpoptest.NewKey(t, "ES256")
	token := ti.token(t, map[string]any{"cnf": map[string]string{"jkt": key.JKT()}})
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"proof for the described request", http.Header{"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/orders/2?force=1"},
			"Dpop": {key.Proof(t, "DELETE", public+"/orders/2", token)}}, 200},
		{"proof for another method", http.Header{"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/orders/2"},
			"Dpop": {key.Proof(t, "GET", public+"/orders/2", token)}}, 401},
		{"client X-Forwarded-Method beside a proof for it", http.Header{"X-Original-Method": {"DELETE"}, "X-Original-Uri": {"/orders/2"},
			"X-Forwarded-Method": {"GET"}, "Dpop": {key.Proof(t, "GET", public+"/orders/2", token)}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+gateway.PathAuth, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.header
			req.Header.Set("Authorization", "DPoP "+token)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("got %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// TestAuthProxyOption: Options.AuthProxy picks the pair /auth trusts, in
// any letter case, and a bad value is ErrAuthProxy.
func TestAuthProxyOption(t *testing.T) {
	ti := newTestIssuer(t)
	rules, _ := parseConfig(t, authConfig)
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL})
	if err != nil {
		t.Fatal(err)
	}
	mw := &apiguard.Middleware{Verifier: v}
	for _, bad := range []string{"haproxy", "envoy", "nginx traefik"} {
		if _, err := gateway.New(mw, rules, gateway.Options{AuthProxy: bad}); !errors.Is(err, gateway.ErrAuthProxy) || !strings.Contains(err.Error(), "AuthProxy") {
			t.Errorf("New with AuthProxy %q: got %v, want ErrAuthProxy naming the option", bad, err)
		}
	}
	gw, err := gateway.New(mw, rules, gateway.Options{AuthProxy: "Caddy", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{gw: gw, srv: newServer(t, gw), issuer: ti}
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"Caddy's pair", http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/public/a"}}, 200},
		{"the file's (nginx) pair", http.Header{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/public/a"}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := decide(t, f, "", tt.header); r.status != tt.want {
				t.Errorf("got %d %s, want %d", r.status, r.raw, tt.want)
			}
		})
	}
}

// TestAuthIdentityAlwaysAnswered: an allowed decision answers all four
// identity headers, empty when the token lacks the claim and on public
// routes, so a proxy copying them (Caddy's copy_headers) overwrites what
// the client sent instead of keeping it or writing placeholder text.
func TestAuthIdentityAlwaysAnswered(t *testing.T) {
	ti := newTestIssuer(t)
	f := newFixture(t, ti, authConfig, nil)
	reader := ti.token(t, map[string]any{"sub": "dave", "cid": "", "scp": []string{"orders:read"}})
	tests := []struct {
		name  string
		token string
		uri   string
		want  map[string]string
	}{
		{"public", "", "/public/a", map[string]string{"X-Auth-Subject": "", "X-Auth-Client-Id": "", "X-Auth-Scopes": "", "X-Auth-Groups": ""}},
		{"token without client or groups", reader, "/orders/1", map[string]string{"X-Auth-Subject": "dave", "X-Auth-Client-Id": "", "X-Auth-Scopes": "orders:read", "X-Auth-Groups": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := decide(t, f, tt.token, http.Header{"X-Original-Method": {"GET"}, "X-Original-Uri": {tt.uri}})
			if r.status != 200 {
				t.Fatalf("got %d %s, want 200", r.status, r.raw)
			}
			for k, want := range tt.want {
				if got := r.header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("got %s %q, want exactly one value %q", k, got, want)
				}
			}
		})
	}
}
