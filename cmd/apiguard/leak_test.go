package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/session"
)

// The secrets of the leak test: each must appear nowhere in what the
// commands write or answer (the client secret and the password are
// supplied by the operator, never generated, so no banner may show them).
const (
	leakClientID      = "0oaLeakClient"
	leakClientSecret  = "leak-client-secret-7f3a9c1e"
	leakWrongSecret   = "leak-wrong-client-secret-4d2b"
	leakSessionSecret = "leak-session-secret-0123456789abcdef"
	leakShortSecret   = "leak-short-5e1"
	leakRedisPassword = "leak-redis-password-91c0"
	leakWrongRedisPwd = "leak-wrong-redis-password-77aa"
	leakUser          = "lee@example.com"
	leakPassword      = "leak-dev-password-b7e2"
	leakWrongPassword = "leak-wrong-dev-password-3f80"
)

// corpus collects everything the commands wrote and answered.
type corpus struct {
	mu    sync.Mutex
	parts []corpusPart
}

type corpusPart struct {
	where string
	text  func() string // read at the end: logs keep growing
	// token is true where printing a token is the point (apiguard
	// token's stdout): secrets are still searched for, tokens are not.
	token bool
}

func (c *corpus) add(where string, text func() string, token bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts = append(c.parts, corpusPart{where, text, token})
}

func (c *corpus) addText(where, text string) { c.add(where, func() string { return text }, false) }

// do sends a request and records the status line, headers and body.
func (c *corpus) do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	return c.doToken(t, client, req, false)
}

// doToken is do for a token endpoint: a 200 answer carries a token by
// design.
func (c *corpus) doToken(t *testing.T, client *http.Client, req *http.Request, tokenEndpoint bool) (*http.Response, string) {
	t.Helper()
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var head bytes.Buffer
	_ = res.Header.Write(&head)
	text := res.Status + "\n" + head.String() + "\n" + string(body)
	c.add(fmt.Sprintf("%s %s → %d", req.Method, req.URL.Path, res.StatusCode), func() string { return text }, tokenEndpoint && res.StatusCode == 200)
	return res, string(body)
}

func (c *corpus) get(t *testing.T, u, auth string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return c.do(t, nil, req)
}

// tokenRequest asks issuerURL for a client credentials token.
func (c *corpus) tokenRequest(t *testing.T, issuerURL, id, secret string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", issuerURL+"/v1/token", strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, body := c.doToken(t, nil, req, true)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal([]byte(body), &tok)
	return res.StatusCode, tok.AccessToken
}

// runCmd runs an apiguard command to its end and records its output.
func (c *corpus) runCmd(t *testing.T, tokenOnStdout bool, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// A command that should have refused to start is stopped after a while
	// and exits 0, which the caller reports.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	c.mu.Lock()
	name := fmt.Sprintf("apiguard %s, run %d", args[0], len(c.parts))
	c.mu.Unlock()
	out, errOut := stdout.String(), stderr.String()
	c.add(name+" (stdout)", func() string { return out }, tokenOnStdout && code == 0)
	c.addText(name+" (stderr)", errOut)
	return code, out, errOut
}

// check fails for every secret, and every token outside deliberate
// output, found in the corpus.
func (c *corpus) check(t *testing.T, secrets map[string]string, tokens []string) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	total := 0
	for _, p := range c.parts {
		text := p.text()
		total += len(text)
		for _, name := range names {
			if strings.Contains(text, secrets[name]) {
				t.Errorf("got the %s in %s:\n%s", name, p.where, excerpt(text, secrets[name]))
			}
		}
		if p.token {
			continue
		}
		for i, tok := range tokens {
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			if strings.Contains(text, tok) || (len(sig) >= 16 && strings.Contains(text, sig)) {
				t.Errorf("got token %d in %s", i, p.where)
			}
		}
		if m := jwtLike.FindString(text); m != "" {
			t.Errorf("got something like a JWT (eyJ….) in %s:\n%s", p.where, excerpt(text, m))
		}
	}
	t.Logf("searched %d outputs (%d bytes) for %d secrets and %d tokens", len(c.parts), total, len(secrets), len(tokens))
}

// jwtLike is the start of a JWS in compact form: a base64url JSON header
// ("eyJ" is `{"`) that begins a word and ends at a dot. A bare "eyJ" is
// not enough: random base64url, such as a key in the issuer's state file,
// holds it about once in 260,000 positions.
var jwtLike = regexp.MustCompile(`(?:^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]+\.`)

func excerpt(text, s string) string {
	i := strings.Index(text, s)
	return text[max(0, i-200):min(len(text), i+len(s)+200)]
}

// setRedisPassword makes a running redis-server require password.
func setRedisPassword(t *testing.T, addr, password string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	cmd := fmt.Sprintf("*4\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$11\r\nrequirepass\r\n$%d\r\n%s\r\n", len(password), password)
	if _, err := conn.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "+OK\r\n" {
		t.Fatalf("CONFIG SET requirepass: %q %v", line, err)
	}
}

// leakIssuer runs `apiguard issuer` and can be stopped mid-test.
type leakIssuer struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func()
}

func startLeakIssuer(t *testing.T, args ...string) *leakIssuer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	li := &leakIssuer{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- issuer(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), li.stdout, li.stderr, func(a string) { addrc <- a })
	}()
	var once sync.Once
	li.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("issuer: %v", err)
			}
		})
	}
	t.Cleanup(li.stop)
	select {
	case a := <-addrc:
		li.url = "http://" + a + "/oauth2/default"
	case err := <-done:
		t.Fatalf("issuer: %v\n%s", err, li.stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("issuer did not listen within 30s")
	}
	return li
}

// TestNoSecretLeaks runs issuer, token, serve (with its development issuer
// and with an external one) and gateway with known secrets through their
// flows, failures included (bad tokens, bad settings, wrong secrets and
// passwords, Redis down or refusing the password, the issuer down), and
// searches everything they wrote and answered: stdout, stderr and logs at
// debug level, /metrics, HTML pages, JSON bodies and headers. No secret may
// appear anywhere, and no token outside `apiguard token`'s output.
func TestNoSecretLeaks(t *testing.T) {
	devEnv(t, nil)
	gwClearEnv(t)
	c := &corpus{}
	var tokens []string
	redisServer := redistest.New(t)
	setRedisPassword(t, redisServer.Addr(), leakRedisPassword)
	redisURL := "redis://:" + leakRedisPassword + "@" + redisServer.Addr() + "/0"
	wrongRedisURL := "redis://:" + leakWrongRedisPwd + "@" + redisServer.Addr() + "/0"

	// serve's port is chosen first: the issuer's client needs its callbacks.
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	serveURL := "http://127.0.0.1:" + strconv.Itoa(port)

	// apiguard issuer, with the operator's client secret and password.
	t.Setenv("OKTA_CLIENT_ID", leakClientID)
	t.Setenv("OKTA_CLIENT_SECRET", leakClientSecret)
	t.Setenv("APIGUARD_DEV_USER", leakUser)
	t.Setenv("APIGUARD_DEV_PASSWORD", leakPassword)
	// With a state file: what the operator set is never written there
	// (only the signing keys are), nor printed by dev-env.
	issuerState := filepath.Join(t.TempDir(), "issuer-state.json")
	t.Setenv("APIGUARD_DEV_STATE", issuerState)
	iss := startLeakIssuer(t, "--app-url", serveURL)
	c.add("issuer stdout", iss.stdout.String, false)
	c.add("issuer stderr", iss.stderr.String, false)
	c.add("issuer state file", func() string { b, _ := os.ReadFile(issuerState); return string(b) }, false)
	if code, _, _ := c.runCmd(t, false, "dev-env"); code == 0 {
		t.Error("dev-env printed a client the operator set")
	}
	t.Setenv("APIGUARD_DEV_STATE", "off")
	t.Setenv("OKTA_CLIENT_ID", "")
	t.Setenv("OKTA_CLIENT_SECRET", "")
	t.Setenv("APIGUARD_DEV_USER", "")
	t.Setenv("APIGUARD_DEV_PASSWORD", "")

	t.Run("token", func(t *testing.T) {
		code, out, _ := c.runCmd(t, true, "token", "--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakClientSecret)
		if code != 0 {
			t.Fatalf("got exit %d, want a token", code)
		}
		tokens = append(tokens, strings.TrimSpace(out))
		if code, _, _ := c.runCmd(t, true, "token", "--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakClientSecret, "--json"); code != 0 {
			t.Errorf("--json: got exit %d", code)
		}
		for _, args := range [][]string{
			{"--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakWrongSecret},
			{"--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakWrongSecret, "--auth", "post"},
			{"--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakClientSecret, "--scope", "nope"},
			{"--token-url", "http://127.0.0.1:1/v1/token", "--client-id", leakClientID, "--client-secret", leakClientSecret},
			{"--client-id", leakClientID, "--client-secret", leakClientSecret},
			{"--issuer", "not a url", "--client-id", leakClientID, "--client-secret", leakClientSecret},
		} {
			if code, _, _ := c.runCmd(t, true, append([]string{"token"}, args...)...); code == 0 {
				t.Errorf("apiguard token %q: got exit 0, want a failure", args)
			}
		}
		if status, _ := c.tokenRequest(t, iss.url, leakClientID, leakWrongSecret); status != http.StatusUnauthorized {
			t.Errorf("wrong secret at the token endpoint: got %d, want 401", status)
		}
	})

	// serve with the external issuer: browser login, introspection, Redis.
	serveEnv := map[string]string{
		"OKTA_ISSUER": iss.url, "OKTA_CLIENT_ID": leakClientID, "OKTA_CLIENT_SECRET": leakClientSecret,
		"APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": leakSessionSecret,
		"APIGUARD_INTROSPECTION": "always", "APIGUARD_LOG_LEVEL": "debug", "APIGUARD_PUBLIC_URL": serveURL,
	}
	s := startServe(t, serveEnv, "--addr", "127.0.0.1:"+strconv.Itoa(port))
	c.add("serve stdout", s.stdout.String, false)
	c.add("serve stderr", s.stderr.String, false)

	// gateway in front of an upstream, introspecting with the secret.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "upstream "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	gwPath := writeGatewayConfig(t, "upstream: "+up.URL+"\nissuer: "+iss.url+"\nintrospection: always\nroutes:\n  - path: /public/**\n    public: true\n  - path: /api/**\n")
	for k, v := range map[string]string{"OKTA_CLIENT_ID": leakClientID, "OKTA_CLIENT_SECRET": leakClientSecret,
		"APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": leakSessionSecret} {
		t.Setenv(k, v)
	}
	g := startGateway(t, "--config", gwPath, "--addr", "127.0.0.1:0", "--log-level", "debug")
	c.add("gateway stderr", g.stderr.String, false)
	gwURL := "http://" + g.addr
	gwEventually(t, "gateway readiness", func() bool {
		res, _ := gwGet(t, gwURL+"/readyz", "")
		return res.StatusCode == 200
	})
	for _, k := range []string{"OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "APIGUARD_REDIS_URL", "APIGUARD_SESSION_SECRET"} {
		t.Setenv(k, "")
	}

	_, good := c.tokenRequest(t, iss.url, leakClientID, leakClientSecret)
	if good == "" {
		t.Fatal("got no token from the issuer")
	}
	tampered := good[:len(good)-4] + "AAAA"
	tokens = append(tokens, good, tampered)
	bad := []string{"Bearer " + tampered, "Bearer " + good + "x", "Bearer not.a.token", "Basic " + base64.StdEncoding.EncodeToString([]byte(leakClientID+":"+leakClientSecret)), "DPoP " + good}

	var sessionBrowser *browser
	t.Run("serve", func(t *testing.T) {
		if res, _ := c.get(t, s.url+"/secure-data", "Bearer "+good); res.StatusCode != 200 {
			t.Errorf("good token: got %d, want 200", res.StatusCode)
		}
		for _, a := range bad {
			if res, _ := c.get(t, s.url+"/secure-data", a); res.StatusCode < 400 {
				t.Errorf("%.20s…: got %d, want a refusal", a, res.StatusCode)
			}
		}
		for _, p := range []string{"/", "/readyz", "/healthz", "/metrics", "/.well-known/oauth-protected-resource", "/nope", "/login?return_to=https://evil.example"} {
			c.get(t, s.url+p, "")
		}
		// Browser login: a wrong password, then the right one.
		b := newBrowser(t)
		res, page := c.browserGet(t, b, s.url+"/profile")
		res, page = c.submit(t, b, res.Request.URL, page, url.Values{"username": {leakUser}, "password": {leakWrongPassword}, "action": {"login"}})
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("wrong password: got %d, want 401", res.StatusCode)
		}
		res, _ = c.submit(t, b, res.Request.URL, page, url.Values{"username": {leakUser}, "password": {leakPassword}, "action": {"login"}})
		if res.StatusCode != 200 || res.Request.URL.Path != "/profile" {
			t.Fatalf("right password: got %d at %s", res.StatusCode, res.Request.URL)
		}
		if res, _ := c.browserGet(t, b, s.url+"/secure-data"); res.StatusCode != 200 {
			t.Errorf("/secure-data with the session: got %d", res.StatusCode)
		}
		sessionBrowser = b
	})

	t.Run("gateway", func(t *testing.T) {
		if res, _ := c.get(t, gwURL+"/api/x", "Bearer "+good); res.StatusCode != 200 {
			t.Errorf("good token: got %d, want 200", res.StatusCode)
		}
		for _, a := range bad {
			if res, _ := c.get(t, gwURL+"/api/x", a); res.StatusCode < 400 {
				t.Errorf("%.20s…: got %d, want a refusal", a, res.StatusCode)
			}
		}
		for _, p := range []string{"/public/x", "/metrics", "/readyz", "/nowhere", "/auth"} {
			c.get(t, gwURL+p, "Bearer "+tampered)
		}
	})

	// Another serve whose Redis password is wrong, and one started with the
	// embedded issuer and the operator's secrets (--dev).
	t.Run("serve with a wrong Redis password", func(t *testing.T) {
		env := map[string]string{"OKTA_ISSUER": iss.url, "OKTA_CLIENT_ID": leakClientID, "OKTA_CLIENT_SECRET": leakClientSecret,
			"APIGUARD_REDIS_URL": wrongRedisURL, "APIGUARD_SESSION_SECRET": leakSessionSecret, "APIGUARD_LOG_LEVEL": "debug",
			"APIGUARD_INTROSPECTION": "always"}
		s2 := startServe(t, env)
		c.add("serve (wrong Redis password) stdout", s2.stdout.String, false)
		c.add("serve (wrong Redis password) stderr", s2.stderr.String, false)
		if res, _ := c.browserGet(t, newBrowser(t), s2.url+"/login"); res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("/login: got %d, want 503", res.StatusCode)
		}
		c.get(t, s2.url+"/secure-data", "Bearer "+good)
		_ = s2.stop()
	})
	t.Run("serve --dev with the operator's secrets", func(t *testing.T) {
		env := map[string]string{"OKTA_CLIENT_ID": leakClientID, "OKTA_CLIENT_SECRET": leakClientSecret,
			"APIGUARD_DEV_USER": leakUser, "APIGUARD_DEV_PASSWORD": leakPassword, "APIGUARD_LOG_LEVEL": "debug",
			"APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": leakSessionSecret,
			"APIGUARD_DEV_STATE": filepath.Join(t.TempDir(), "serve-state.json")}
		s3 := startServe(t, env, "--dev")
		c.add("serve --dev stdout", s3.stdout.String, false)
		c.add("serve --dev stderr", s3.stderr.String, false)
		c.add("serve --dev state file", func() string { b, _ := os.ReadFile(env["APIGUARD_DEV_STATE"]); return string(b) }, false)
		status, tok := c.tokenRequest(t, s3.url+"/oauth2/default", leakClientID, leakClientSecret)
		if status != 200 {
			t.Fatalf("token from the embedded issuer: got %d", status)
		}
		tokens = append(tokens, tok)
		c.tokenRequest(t, s3.url+"/oauth2/default", leakClientID, leakWrongSecret)
		c.get(t, s3.url+"/secure-data", "Bearer "+tok)
		c.get(t, s3.url+"/secure-data", "Bearer "+tok[:len(tok)-4]+"AAAA")
		b := newBrowser(t)
		res, page := c.browserGet(t, b, s3.url+"/profile")
		res, page = c.submit(t, b, res.Request.URL, page, url.Values{"username": {leakUser}, "password": {leakWrongPassword}, "action": {"login"}})
		c.submit(t, b, res.Request.URL, page, url.Values{"username": {leakUser}, "password": {leakPassword}, "action": {"login"}})
		_ = s3.stop()
	})

	t.Run("bad settings", func(t *testing.T) {
		devEnv(t, nil)
		for _, tt := range []struct {
			env  map[string]string
			args []string
		}{
			{map[string]string{"OKTA_CLIENT_ID": leakClientID, "OKTA_CLIENT_SECRET": leakClientSecret, "APIGUARD_PUBLIC_URL": "https://api.example.com"}, []string{"serve"}},
			{map[string]string{"APIGUARD_REDIS_URL": "redis://:" + leakRedisPassword + "@127.0.0.1:notaport/0", "APIGUARD_SESSION_SECRET": leakSessionSecret}, []string{"serve", "--dev"}},
			{map[string]string{"APIGUARD_REDIS_URL": "http://:" + leakRedisPassword + "@127.0.0.1/0"}, []string{"serve", "--dev"}},
			{map[string]string{"APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": leakShortSecret}, []string{"serve", "--dev"}},
			{map[string]string{"APIGUARD_SESSION_SECRET": leakShortSecret}, []string{"serve"}},
			{map[string]string{"OKTA_ISSUER": iss.url, "OKTA_CLIENT_SECRET": leakClientSecret, "APIGUARD_INTROSPECTION": "always"}, []string{"serve"}},
			{map[string]string{"OKTA_ISSUER": iss.url, "APIGUARD_REDIS_URL": "redis://:" + leakRedisPassword + "@127.0.0.1:notaport/0",
				"APIGUARD_SESSION_SECRET": leakSessionSecret}, []string{"gateway", "--config", gwPath}},
			{map[string]string{"OKTA_ISSUER": iss.url, "APIGUARD_REDIS_URL": redisURL, "APIGUARD_SESSION_SECRET": leakShortSecret},
				[]string{"gateway", "--config", gwPath}},
			{map[string]string{"OKTA_ISSUER": iss.url, "OKTA_CLIENT_SECRET": leakClientSecret}, []string{"gateway", "--config", gwPath}},
			{map[string]string{"OKTA_ISSUER": "ftp://admin:" + leakClientSecret + "@example.com/oauth2/default"}, []string{"serve"}},
			{map[string]string{"OKTA_ISSUER": "https://admin:" + leakClientSecret + "@example.com/oauth2/default"}, []string{"serve"}},
			{map[string]string{"APIGUARD_PUBLIC_URL": "https://admin:" + leakClientSecret + "@api.example.com"}, []string{"serve", "--dev"}},
			{map[string]string{"OKTA_ISSUER": "https://admin:" + leakClientSecret + "@example.com/oauth2/default"}, []string{"gateway", "--config", gwPath}},
			{map[string]string{"OKTA_CLIENT_SECRET": leakClientSecret, "APIGUARD_DEV_PASSWORD": leakPassword}, []string{"issuer", "--config", gwPath + ".missing"}},
			{map[string]string{"OKTA_CLIENT_SECRET": leakClientSecret, "APIGUARD_DEV_PASSWORD": leakPassword}, []string{"issuer", "--config", gwPath}},
		} {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			args := append(tt.args, "--addr", "127.0.0.1:0")
			if code, _, _ := c.runCmd(t, false, args...); code == 0 {
				t.Errorf("%q with %v: got exit 0, want a refusal", tt.args, tt.env)
			}
			for k := range tt.env {
				t.Setenv(k, "")
			}
		}
	})

	t.Run("Redis down", func(t *testing.T) {
		redisServer.Stop()
		c.browserGet(t, newBrowser(t), s.url+"/login")
		if sessionBrowser != nil {
			c.browserGet(t, sessionBrowser, s.url+"/profile")
			c.browserGet(t, sessionBrowser, s.url+"/secure-data")
		}
		c.get(t, s.url+"/secure-data", "Bearer "+good)
		c.get(t, gwURL+"/api/x", "Bearer "+good)
	})

	t.Run("issuer down", func(t *testing.T) {
		iss.stop()
		c.get(t, s.url+"/secure-data", "Bearer "+good)
		c.get(t, s.url+"/readyz", "")
		c.get(t, gwURL+"/api/x", "Bearer "+good)
		if sessionBrowser != nil {
			c.browserGet(t, sessionBrowser, s.url+"/profile")
		}
		c.runCmd(t, true, "token", "--issuer", iss.url, "--client-id", leakClientID, "--client-secret", leakClientSecret)
	})

	if err := s.stop(); err != nil {
		t.Errorf("serve stop: %v", err)
	}
	c.check(t, map[string]string{
		"client secret":              leakClientSecret,
		"wrong client secret":        leakWrongSecret,
		"session secret":             leakSessionSecret,
		"short session secret":       leakShortSecret,
		"Redis password":             leakRedisPassword,
		"wrong Redis password":       leakWrongRedisPwd,
		"development password":       leakPassword,
		"wrong development password": leakWrongPassword,
		"client id:secret in base64": base64.StdEncoding.EncodeToString([]byte(leakClientID + ":" + leakClientSecret)),
	}, tokens)
}

// browserGet is browser.get, recorded.
func (c *corpus) browserGet(t *testing.T, b *browser, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.do(t, b.client, req)
}

// submit is browser.submit, recorded.
func (c *corpus) submit(t *testing.T, b *browser, pageURL *url.URL, page string, fields url.Values) (*http.Response, string) {
	t.Helper()
	res, body := b.submit(pageURL, page, fields)
	var head bytes.Buffer
	_ = res.Header.Write(&head)
	c.addText(fmt.Sprintf("form post → %d at %s", res.StatusCode, res.Request.URL.Path), res.Status+"\n"+head.String()+"\n"+body)
	return res, body
}

// TestRedisClientLogsThroughOurLogger: go-redis's own messages (here a
// failed dial) go to serve's and gateway's logger, in its format, not
// straight to the process's stderr.
func TestRedisClientLogsThroughOurLogger(t *testing.T) {
	port, err := freePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	newLogger("json", slog.LevelInfo, &logs)
	t.Cleanup(func() { newLogger("text", slog.LevelInfo, os.Stderr) })
	client, err := session.NewRedisClient("redis://:" + leakRedisPassword + "@127.0.0.1:" + strconv.Itoa(port) + "/0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Ping(context.Background()).Err(); err == nil {
		t.Fatal("got a PONG from a closed port")
	}
	var line struct {
		Level, Msg, Detail string
	}
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatalf("got a log line that is not JSON: %q", l)
		}
	}
	if line.Msg != "redis client" || line.Level != "INFO" || !strings.Contains(line.Detail, "dial") {
		t.Errorf("got last log line %+v, want the client's failed dial at INFO", line)
	}
	if strings.Contains(logs.String(), leakRedisPassword) {
		t.Error("got the Redis password in the log")
	}
}

// TestCheckHTTPURLHidesPasswords: a URL setting with credentials is
// refused, and no message repeats its password.
func TestCheckHTTPURLHidesPasswords(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://admin:" + leakClientSecret + "@example.com/oauth2/default", `"https://admin:xxxxx@example.com/oauth2/default": URL has a user name or password`},
		{"https://admin@example.com", `"https://admin@example.com": URL has a user name or password`},
		{"ftp://admin:" + leakClientSecret + "@example.com", `"ftp://admin:xxxxx@example.com" must start with https://`},
		{"https://admin:" + leakClientSecret + "@example.com/?q=1", `URL has a user name or password`},
		{"http://admin:" + leakClientSecret + "@[::1:80/", `"(unparseable URL)": not an absolute URL`},
		{"https://example.com/oauth2/default", ""},
	}
	for _, tt := range tests {
		t.Run(redactURL(tt.in), func(t *testing.T) {
			err := checkHTTPURL(tt.in)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %s", err, tt.want)
			case err != nil && strings.Contains(err.Error(), leakClientSecret):
				t.Errorf("got %v, which repeats the password", err)
			}
		})
	}
}
