package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/dpoptest"
)

// The proxy tests run real nginx and Caddy with the configuration blocks of
// README.md, so the documentation and what is tested cannot drift apart.
// In those blocks 127.0.0.1:8081 is the gateway and 127.0.0.1:9000 the API;
// the tests put their own addresses there, and their own listen address in
// place of nginx's "listen 80;" and Caddy's ":80 {".
const (
	readmeGateway = "127.0.0.1:8081"
	readmeAPI     = "127.0.0.1:9000"
)

// proxiesConfig is the gateway's rule set behind the proxies.
const proxiesConfig = `
auth_proxy: {{proxy}}
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

// proxyBinary finds a proxy's executable, also in /usr/sbin, which is not on
// every PATH. A missing proxy fails the test: scripts/test.sh installs them,
// and only APIGUARD_SKIP_PROXIES=1 skips these tests.
func proxyBinary(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("APIGUARD_SKIP_PROXIES") == "1" {
		t.Skip("APIGUARD_SKIP_PROXIES=1")
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	t.Fatalf("%s not found on PATH or in /usr/sbin: run scripts/test.sh, which installs it, or set APIGUARD_SKIP_PROXIES=1", name)
	return ""
}

// readmeBlock returns the one fenced block of README.md in the given
// language.
func readmeBlock(t *testing.T, lang string) string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.SplitAfter(string(data), "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
		}
	}
	if len(blocks) != 1 {
		t.Fatalf("got %d ```%s blocks in README.md, want exactly 1", len(blocks), lang)
	}
	return blocks[0]
}

// substitute replaces each old string, which must occur in s, by its new one.
func substitute(t *testing.T, s string, oldNew ...string) string {
	t.Helper()
	for i := 0; i+1 < len(oldNew); i += 2 {
		if !strings.Contains(s, oldNew[i]) {
			t.Fatalf("README block lacks %q, which the test replaces", oldNew[i])
		}
		s = strings.ReplaceAll(s, oldNew[i], oldNew[i+1])
	}
	return s
}

// startProcess runs a proxy until the test ends and waits until addr answers
// HTTP, failing early if the process exits.
func startProcess(t *testing.T, addr, logFile string, name string, args []string, env []string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	logs := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited before serving: %s", name, logs())
		default:
		}
		resp, err := client.Get("http://" + addr + "/public/ready")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 15s: %v; log: %s", name, addr, err, logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startNginx runs nginx, as the current user, with the README's server block
// inside a minimal nginx.conf whose pid, logs and temporary files are in a
// temporary directory. It returns the address nginx listens on.
func startNginx(t *testing.T, gatewayAddr, apiAddr string) string {
	t.Helper()
	bin := proxyBinary(t, "nginx")
	dir := t.TempDir()
	addr := gateway.ClosedAddr(t)
	server := substitute(t, readmeBlock(t, "nginx"),
		"listen 80;", "listen "+addr+";",
		readmeGateway, gatewayAddr,
		readmeAPI, apiAddr)
	conf := `# Written by TestNginxAuthRequest around the server block of README.md.
master_process off;  # one process, as the current user
pid ` + dir + `/nginx.pid;
error_log ` + dir + `/error.log info;
events {
    worker_connections 64;
}
http {
    access_log off;
    client_body_temp_path ` + dir + `/client_body;
    proxy_temp_path ` + dir + `/proxy;
    fastcgi_temp_path ` + dir + `/fastcgi;
    uwsgi_temp_path ` + dir + `/uwsgi;
    scgi_temp_path ` + dir + `/scgi;
` + server + `}
`
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, addr, filepath.Join(dir, "stderr.log"), bin,
		[]string{"-p", dir + "/", "-c", path, "-g", "daemon off;"}, nil)
	return addr
}

// startCaddy runs Caddy with the README's site block, its admin endpoint and
// automatic HTTPS off, bound to loopback, its storage in a temporary
// directory. It returns the address Caddy listens on.
func startCaddy(t *testing.T, gatewayAddr, apiAddr string) string {
	t.Helper()
	bin := proxyBinary(t, "caddy")
	dir := t.TempDir()
	addr := gateway.ClosedAddr(t)
	site := substitute(t, readmeBlock(t, "caddyfile"),
		":80 {\n", "http://"+addr+" {\n\tbind 127.0.0.1\n",
		readmeGateway, gatewayAddr,
		readmeAPI, apiAddr)
	conf := "# Written by TestCaddyForwardAuth around the site block of README.md.\n{\n\tadmin off\n\tauto_https off\n}\n\n" + site
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, addr, filepath.Join(dir, "caddy.log"), bin,
		[]string{"run", "--config", path, "--adapter", "caddyfile"},
		[]string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir + "/config", "XDG_DATA_HOME=" + dir + "/data"})
	return addr
}

// proxied is a running gateway, behind a real proxy, in front of an echo API.
type proxied struct {
	addr   string // the proxy
	issuer *testIssuer
	gw     *httptest.Server

	mu      sync.Mutex
	clients map[string]int // requests the gateway got, by remote address (one per connection)
}

// gatewayConns returns how many connections the proxy has opened to the
// gateway so far.
func (p *proxied) gatewayConns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

// newProxied starts the gateway (with DPoP on, so refusals carry both
// challenges), the echo API and the proxy start returns.
func newProxied(t *testing.T, proxy string, start func(*testing.T, string, string) string) *proxied {
	t.Helper()
	return newProxiedWith(t, proxy, start, newTestIssuer(t), dpop.Config{PublicURL: "https://api.example.test"})
}

// newProxiedWith is newProxied with the given issuer and DPoP settings.
func newProxiedWith(t *testing.T, proxy string, start func(*testing.T, string, string) string, ti *testIssuer, dcfg dpop.Config) *proxied {
	t.Helper()
	api := newEcho(t, "api")
	rules, opts := parseConfig(t, strings.ReplaceAll(proxiesConfig, "{{proxy}}", proxy))
	v, err := apiguard.New(apiguard.Config{Issuer: ti.URL, FetchTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dpop.New(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v, Binding: d}, rules, withLogger(opts, slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	p := &proxied{issuer: ti, clients: map[string]int{}}
	p.gw = newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.clients[r.RemoteAddr]++
		p.mu.Unlock()
		gw.ServeHTTP(w, r)
	}))
	p.addr = start(t, hostPort(t, p.gw.URL), hostPort(t, api.URL))
	return p
}

func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// reply is what the client got from the proxy.
type reply struct {
	status int
	header http.Header
	body   []byte
	api    *echo // what the API received, when it answered
}

// send sends method path through the proxy with the given headers (several
// values are sent as several lines) and a Bearer token unless it is "".
func (p *proxied) send(t *testing.T, method, path, token string, h http.Header) reply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+p.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: body}
	var e echo
	if json.Unmarshal(body, &e) == nil && e.Upstream == "api" {
		r.api = &e
	}
	return r
}

// proxyCase is one request through a proxy and what must come of it.
type proxyCase struct {
	name   string
	method string
	path   string
	token  string
	header http.Header
	status int // 0: any refusal (4xx or 5xx) that the API never sees
	// errCode is the JSON error the client must get on a refusal.
	errCode string
	// challenges are prefixes of the WWW-Authenticate lines the client
	// must get, in order.
	challenges []string
	// identity is what the API must get in the identity headers (absent or
	// empty for ""), when it answers.
	identity map[string]string
}

// check sends c through p and checks the outcome.
func (c proxyCase) check(t *testing.T, p *proxied) {
	t.Helper()
	r := p.send(t, c.method, c.path, c.token, c.header)
	if c.status == 0 {
		if r.status < 400 || r.api != nil {
			t.Fatalf("got %d %s, want a refusal that never reaches the API", r.status, r.body)
		}
		return
	}
	if r.status != c.status {
		t.Fatalf("got %d %s, want %d", r.status, r.body, c.status)
	}
	if c.status >= 400 {
		if r.api != nil {
			t.Fatalf("got the API's answer %s on a refusal", r.body)
		}
		var body struct {
			Error string `json:"error"`
		}
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("got Content-Type %q, want application/json", ct)
		}
		if err := json.Unmarshal(r.body, &body); err != nil || body.Error != c.errCode {
			t.Errorf("got body %q, want JSON with error %q", r.body, c.errCode)
		}
	}
	got := r.header.Values("WWW-Authenticate")
	ok := len(got) == len(c.challenges)
	for i := 0; ok && i < len(got); i++ {
		ok = strings.HasPrefix(got[i], c.challenges[i])
	}
	if !ok {
		t.Errorf("got WWW-Authenticate %q, want lines starting %q", got, c.challenges)
	}
	if r.status >= 300 {
		return
	}
	if r.api == nil {
		t.Fatalf("got %s, want the API's echo", r.body)
	}
	for _, k := range []string{"X-Auth-Subject", "X-Auth-Client-Id", "X-Auth-Scopes", "X-Auth-Groups"} {
		want := c.identity[k]
		if got := r.api.Header.Values(k); (want == "" && len(got) > 0 && (len(got) > 1 || got[0] != "")) ||
			(want != "" && (len(got) != 1 || got[0] != want)) {
			t.Errorf("API got %s %q, want %q", k, got, want)
		}
	}
	for k, vs := range r.api.Header {
		// Also under other spellings, which CGI-style APIs merge.
		norm := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		switch {
		case norm == "authorization" || norm == "dpop" || strings.HasPrefix(norm, "x-original-") ||
			norm == "x-forwarded-uri" || norm == "x-forwarded-method":
			t.Errorf("API got %s %q, want none", k, vs)
		case strings.HasPrefix(norm, "x-auth-") && c.identity[k] == "" && (len(vs) > 1 || vs[0] != ""):
			t.Errorf("API got %s %q, want none", k, vs)
		}
	}
}

// proxyCases are the requests both proxies are tested with; only the
// methods the proxies treat differently are in each test.
func proxyCases(t *testing.T, ti *testIssuer) []proxyCase {
	reader := ti.token(t, map[string]any{"sub": "alice", "cid": "client-1", "scp": []string{"orders:read"}, "groups": []string{"Everyone", "Ops"}})
	bearer := `Bearer realm="apiguard"`
	dpop := `DPoP algs="`
	alice := map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "client-1", "X-Auth-Scopes": "orders:read", "X-Auth-Groups": "Everyone,Ops"}
	spoofed := http.Header{"X-Auth-Subject": {"root"}, "X-Auth-Client-Id": {"admin-client"}, "X-Auth-Scopes": {"admin"}, "X-Auth-Groups": {"Admins"}}
	return []proxyCase{
		{name: "public, no token", method: "GET", path: "/public/x", status: 200},
		{name: "allowed: identity reaches the API, the token does not", method: "GET", path: "/orders/1", token: reader, status: 200, identity: alice,
			header: http.Header{"Dpop": {"not.a.proof"}}},
		{name: "no token: 401 with both challenges and a JSON body", method: "GET", path: "/admin/secret", status: 401,
			errCode: "unauthorized", challenges: []string{bearer, dpop}},
		{name: "bad token: 401 invalid_token", method: "GET", path: "/orders/1", token: "x.y.z", status: 401,
			errCode: "invalid_token", challenges: []string{bearer + `, error="invalid_token"`, dpop}},
		{name: "scope missing: 403 with the insufficient_scope challenge", method: "DELETE", path: "/orders/1", token: reader, status: 403,
			errCode: "insufficient_scope", challenges: []string{bearer + `, error="insufficient_scope"`, dpop}},
		{name: "no route: 404", method: "GET", path: "/nowhere", token: reader, status: 404, errCode: "not_found"},

		// Finding 1: the client must not choose the request decided.
		{name: "client X-Forwarded-Uri names a public path", method: "GET", path: "/admin/secret", status: 401,
			header: http.Header{"X-Forwarded-Uri": {"/public/x"}}, errCode: "unauthorized", challenges: []string{bearer, dpop}},
		{name: "client X-Forwarded-Method turns DELETE into GET", method: "DELETE", path: "/orders/1", token: reader, status: 403,
			header: http.Header{"X-Forwarded-Method": {"GET"}}, errCode: "insufficient_scope", challenges: []string{bearer + `, error="insufficient_scope"`, dpop}},
		{name: "client X-Original-URI and -Method", method: "POST", path: "/admin/secret", status: 401,
			header: http.Header{"X-Original-Uri": {"/public/x"}, "X-Original-Method": {"GET"}}, errCode: "unauthorized", challenges: []string{bearer, dpop}},
		{name: "client pairs, twice each, any case", method: "GET", path: "/admin/secret",
			header: http.Header{"X-Original-Uri": {"/public/x", "/public/y"}, "x-forwarded-uri": {"/public/x", "/public/y"},
				"X-Forwarded-Method": {"GET", "GET"}, "x-original-method": {"GET"}}},
		{name: "client pair with underscores", method: "GET", path: "/admin/secret",
			header: http.Header{"X_Forwarded_Uri": {"/public/x"}, "X_Original_Uri": {"/public/x"}}},

		{name: "client X_Original_Uri on a public route: removed, not refused", method: "GET", path: "/public/x", status: 200,
			header: http.Header{"X_Original_Uri": {"/admin/secret"}}},

		// Routing overrides the proxy would pass on to the API: refused at
		// /auth, since the proxy, not the gateway, forwards the request.
		{name: "X-HTTP-Method-Override on a checked GET", method: "GET", path: "/orders/1", token: reader, status: 400,
			header: http.Header{"X-Http-Method-Override": {"DELETE"}}, errCode: "invalid_request"},
		{name: "_method parameter on a checked GET", method: "GET", path: "/orders/1?_method=DELETE", token: reader, status: 400,
			errCode: "invalid_request"},
		{name: "X-Rewrite-URL on a public path", method: "GET", path: "/public/x", status: 400,
			header: http.Header{"X-Rewrite-Url": {"/admin/secret"}}, errCode: "invalid_request"},

		// Identity headers come from the decision only.
		{name: "spoofed identity on a public route", method: "GET", path: "/public/x", header: spoofed, status: 200},
		{name: "spoofed identity beside a token", method: "GET", path: "/orders/1", token: reader, header: spoofed, status: 200, identity: alice},
		{name: "spoofed identity with underscores", method: "GET", path: "/public/x", status: 200,
			header: http.Header{"X_Auth_Subject": {"root"}, "X_Auth_Groups": {"Admins"}}},
	}
}

// TestNginxAuthRequest runs the README's nginx block in front of the gateway
// and an echo API: a client cannot choose the request decided, refusals
// reach it with the gateway's challenges and JSON body, identity headers
// come only from the decision, and nginx refuses methods not in upper case.
func TestNginxAuthRequest(t *testing.T) {
	p := newProxied(t, "nginx", startNginx)
	cases := append(proxyCases(t, p.issuer),
		// Finding 2: nginx answers a method that is not upper case with its
		// own 400, before auth_request runs.
		proxyCase{name: "lowercase method", method: "post", path: "/orders/1", token: p.issuer.token(t, map[string]any{"scp": []string{"orders:write"}})},
		proxyCase{name: "mixed-case method", method: "Delete", path: "/public/x"},
		// Refusals that auth_request turns into 500 get the gateway's status.
		proxyCase{name: "path not canonical: the gateway's 400", method: "GET", path: "/public/../admin/secret", status: 400, errCode: "invalid_request"},
		// nginx passes X-Original-URL (Symfony, IIS) to /auth and the API:
		// the gateway refuses it. (The Caddy block removes X-Original-*.)
		proxyCase{name: "X-Original-URL on a public path", method: "GET", path: "/public/x", status: 400,
			header: http.Header{"X-Original-Url": {"/admin/secret"}}, errCode: "invalid_request"},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, p) })
	}
	t.Run("nginx's own 400 for a lowercase method", func(t *testing.T) {
		if r := p.send(t, "post", "/public/x", "", nil); r.status != http.StatusBadRequest {
			t.Errorf("got %d %s, want nginx's 400", r.status, r.body)
		}
	})
	// The README's upstream block with keepalive: nginx asks /auth on kept
	// connections, not on a new one per decision (issue 16).
	t.Run("decisions on kept-alive connections", func(t *testing.T) {
		before := p.gatewayConns()
		for range 20 {
			if r := p.send(t, "GET", "/public/x", "", nil); r.status != http.StatusOK {
				t.Fatalf("got %d %s", r.status, r.body)
			}
		}
		if n := p.gatewayConns() - before; n > 1 {
			t.Errorf("nginx opened %d new connections to the gateway for 20 sequential decisions, want at most 1", n)
		}
	})
}

// TestCaddyForwardAuth runs the README's Caddyfile block in front of the
// gateway and an echo API, with the requests of TestNginxAuthRequest. Caddy
// passes methods in any case; the gateway must not decide them under the
// rule of another spelling.
func TestCaddyForwardAuth(t *testing.T) {
	p := newProxied(t, "caddy", startCaddy)
	writer := p.issuer.token(t, map[string]any{"scp": []string{"orders:write"}})
	reader := p.issuer.token(t, map[string]any{"scp": []string{"orders:read"}})
	cases := append(proxyCases(t, p.issuer),
		// Finding 2: the GET rule must not let a "get" through with a token
		// it refuses, nor a lowercase write with a read-only token.
		proxyCase{name: "lowercase post with a read token", method: "post", path: "/orders/1", token: reader},
		proxyCase{name: "mixed-case Delete with a read token", method: "Delete", path: "/orders/1", token: reader},
		proxyCase{name: "lowercase get without a token", method: "get", path: "/orders/1"},
		proxyCase{name: "lowercase delete on admin with a write token", method: "delete", path: "/admin/x", token: writer},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.check(t, p) })
	}
}

// TestProxiedRefusalExtras: through each proxy, a DPoP nonce challenge
// reaches the client with its DPoP-Nonce header, and an issuer that cannot
// be reached gives 503 with Retry-After, as the gateway answered them.
func TestProxiedRefusalExtras(t *testing.T) {
	const public = "https://api.example.test"
	for _, proxy := range []struct {
		name  string
		start func(*testing.T, string, string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(proxy.name, func(t *testing.T) {
			t.Run("use_dpop_nonce", func(t *testing.T) {
				ti := newTestIssuer(t)
				p := newProxiedWith(t, proxy.name, proxy.start, ti, dpop.Config{PublicURL: public, NonceKey: []byte("0123456789abcdef0123456789abcdef-proxies")})
				key := dpoptest.NewKey(t, "ES256")
				token := ti.token(t, map[string]any{"scp": []string{"orders:read"}, "cnf": map[string]string{"jkt": key.JKT()}})
				r := p.send(t, "GET", "/orders/1", "", http.Header{"Authorization": {"DPoP " + token},
					"Dpop": {key.Proof(t, "GET", public+"/orders/1", token)}})
				ch := r.header.Values("WWW-Authenticate")
				if r.status != http.StatusUnauthorized || r.header.Get("DPoP-Nonce") == "" || len(ch) != 2 ||
					!strings.HasPrefix(ch[1], `DPoP algs="`) || !strings.Contains(ch[1], `error="use_dpop_nonce"`) {
					t.Errorf("got %d %s, DPoP-Nonce %q, WWW-Authenticate %q; want 401 use_dpop_nonce with a nonce and the DPoP challenge",
						r.status, r.body, r.header.Get("DPoP-Nonce"), ch)
				}
			})
			t.Run("issuer down", func(t *testing.T) {
				ti := newTestIssuer(t)
				ti.srv.Close()
				p := newProxiedWith(t, proxy.name, proxy.start, ti, dpop.Config{PublicURL: public})
				// The token is signed, but no key can be fetched to check it.
				r := p.send(t, "GET", "/orders/1", ti.token(t, nil), nil)
				var body struct {
					Error string `json:"error"`
				}
				if err := json.Unmarshal(r.body, &body); err != nil || r.status != http.StatusServiceUnavailable ||
					body.Error != "temporarily_unavailable" || r.header.Get("Retry-After") == "" {
					t.Errorf("got %d %s, Retry-After %q; want 503 temporarily_unavailable with Retry-After", r.status, r.body, r.header.Get("Retry-After"))
				}
			})
		})
	}
}
