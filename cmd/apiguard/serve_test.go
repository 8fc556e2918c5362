package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/syncbuf"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// syncBuffer collects output that goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

type server struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func() error // cancels the context and returns serve's error
}

// startServe runs `apiguard serve` in-process on a free port with env set,
// and waits until it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	for _, k := range []string{"OKTA_ISSUER", "OKTA_ISSUERS", "OKTA_AUDIENCE", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET", "ALLOWED_ORIGINS",
		"APIGUARD_ADDR", "APIGUARD_PUBLIC_URL", "APIGUARD_REDIS_URL", "APIGUARD_REQUIRED_SCOPES", "APIGUARD_SESSION_SECRET"} {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), s.stdout, s.stderr, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		s.url = "http://" + a
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v\n%s", err, s.stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not listen within 10s")
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-errc:
			case <-time.After(15 * time.Second):
				stopErr = errors.New("serve did not stop within 15s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func do(t *testing.T, method, url string, header map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func TestServeRoutes(t *testing.T) {
	iss := testissuer.New(t)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL, "APIGUARD_REQUIRED_SCOPES": "read"})
	now := time.Now()
	claims := iss.Claims(now)
	good := iss.Sign(t, "rs256", claims, nil)
	expired := iss.Sign(t, "es256", testissuer.With(claims, "exp", now.Add(-time.Hour).Unix()), nil)
	wrongAud := iss.Sign(t, "rs256", testissuer.With(claims, "aud", "0oa-test-client"), nil)
	noScope := iss.Sign(t, "rs256", testissuer.With(claims, "scp", []string{"write"}), nil)
	rm := `resource_metadata="` + s.url + `/.well-known/oauth-protected-resource"`

	t.Run("public", func(t *testing.T) {
		r := do(t, "GET", s.url+"/", nil)
		if r.status != 200 || r.body["message"] != "Public API endpoint" {
			t.Errorf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("secure-data valid", func(t *testing.T) {
		r := do(t, "GET", s.url+"/secure-data", map[string]string{"Authorization": "Bearer " + good})
		if r.status != 200 || r.body["message"] != "Secure data accessed!" {
			t.Fatalf("got %d %s", r.status, r.raw)
		}
		user, _ := r.body["user"].(map[string]any)
		if user["sub"] != "user@example.com" || user["cid"] != "0oa-test-client" || user["iss"] != iss.URL {
			t.Errorf("user = %v", user)
		}
	})
	refusals := []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no token", "", 401, `Bearer realm="apiguard", ` + rm},
		{"expired", "Bearer " + expired, 401, `error="invalid_token", error_description="token expired`},
		{"wrong audience (the tutorial's bug)", "Bearer " + wrongAud, 401, `error="invalid_token", error_description="wrong audience`},
		{"missing scope", "Bearer " + noScope, 403, `error="insufficient_scope", error_description="missing scope read", scope="read", ` + rm},
		{"garbage", "Bearer abc.def", 401, `error="invalid_token"`},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			h := map[string]string{}
			if c.auth != "" {
				h["Authorization"] = c.auth
			}
			r := do(t, "GET", s.url+"/secure-data", h)
			if r.status != c.status || !strings.Contains(r.header.Get("WWW-Authenticate"), c.challenge) {
				t.Errorf("got %d %q, want %d with %q", r.status, r.header.Get("WWW-Authenticate"), c.status, c.challenge)
			}
			if r.body["error"] == nil {
				t.Errorf("body %s has no error", r.raw)
			}
		})
	}
	t.Run("health and readiness", func(t *testing.T) {
		if r := do(t, "GET", s.url+"/healthz", nil); r.status != 200 {
			t.Errorf("healthz %d", r.status)
		}
		if r := do(t, "GET", s.url+"/readyz", nil); r.status != 200 || r.body["keys"] != float64(len(testissuer.Algorithms)) {
			t.Errorf("readyz %d %s", r.status, r.raw)
		}
	})
	t.Run("protected resource metadata", func(t *testing.T) {
		r := do(t, "GET", s.url+"/.well-known/oauth-protected-resource", nil)
		servers, _ := r.body["authorization_servers"].([]any)
		if r.status != 200 || r.body["resource"] != s.url || len(servers) != 1 || servers[0] != iss.URL {
			t.Errorf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("unknown route", func(t *testing.T) {
		if r := do(t, "GET", s.url+"/nope", nil); r.status != 404 || r.body["error"] != "not_found" {
			t.Errorf("got %d %s", r.status, r.raw)
		}
	})
	t.Run("metrics count refusals by reason", func(t *testing.T) {
		r := do(t, "GET", s.url+"/metrics", nil)
		for _, want := range []string{
			`apiguard_token_refusals_total{reason="expired"} 1`,
			`apiguard_token_refusals_total{reason="audience"} 1`,
			`apiguard_token_refusals_total{reason="forbidden"} 1`,
			`apiguard_token_refusals_total{reason="no_token"} 1`,
			`apiguard_token_refusals_total{reason="malformed"} 1`,
			`apiguard_http_requests_total{method="GET",route="GET /secure-data",status="200"} 1`,
			`apiguard_jwks_fetches_total{issuer="default",outcome="ok",trigger="age"} 1`,
			`apiguard_jwks_keys{issuer="default"} 10`,
			`apiguard_jwks_last_success_timestamp_seconds{issuer="default"} `,
		} {
			if !strings.Contains(r.raw, want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	logs := s.stderr.String()
	for _, tok := range []string{good, expired, wrongAud, noScope} {
		if strings.Contains(logs, tok) || strings.Contains(logs, tok[strings.LastIndexByte(tok, '.')+1:]) {
			t.Fatal("the log contains a token")
		}
	}
	if !strings.Contains(logs, `refused=expired`) || !strings.Contains(logs, `route="GET /secure-data"`) {
		t.Errorf("the access log lacks refusal reasons or routes:\n%s", logs)
	}
}

func TestServeIssuerDownIs503ThenRecovers(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDown(true)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL})
	tok := iss.Sign(t, "rs256", iss.Claims(time.Now()), nil)
	auth := map[string]string{"Authorization": "Bearer " + tok}
	r := do(t, "GET", s.url+"/secure-data", auth)
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Fatalf("issuer down: got %d Retry-After %q, want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if r := do(t, "GET", s.url+"/readyz", nil); r.status != 503 || r.body["status"] != "unavailable" || r.header.Get("Retry-After") == "" {
		t.Errorf("readyz with the issuer down: %d %s, want 503 unavailable with Retry-After", r.status, r.raw)
	} else if reason, _ := r.body["reason"].(string); !strings.HasPrefix(reason, "signing keys not loaded: ") || !strings.Contains(reason, iss.URL) {
		// The cause names the issuer's URL that failed, so an operator
		// sees which issuer is down without reading the log.
		t.Errorf("readyz with the issuer down: reason %q, want why the keys are not loaded, naming %s", reason, iss.URL)
	}
	iss.SetDown(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := do(t, "GET", s.url+"/secure-data", auth)
		if r.status == 200 {
			break
		}
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after recovery: got %d %s", r.status, r.raw)
		}
		time.Sleep(50 * time.Millisecond) // polling recovery with a deadline
	}
}

func TestServeCORS(t *testing.T) {
	iss := testissuer.New(t)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL, "ALLOWED_ORIGINS": "https://app.example.com"})
	pre := do(t, "OPTIONS", s.url+"/secure-data", map[string]string{
		"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization",
	})
	if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(strings.ToLower(pre.header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("preflight: %d %v", pre.status, pre.header)
	}
	other := do(t, "GET", s.url+"/", map[string]string{"Origin": "https://evil.example.com"})
	if other.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", other.header)
	}
	// CORS is off unless ALLOWED_ORIGINS is set.
	s2 := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL})
	if r := do(t, "GET", s2.url+"/", map[string]string{"Origin": "https://app.example.com"}); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS without ALLOWED_ORIGINS: %v", r.header)
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	iss := testissuer.New(t)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL})
	iss.SetDelay(700 * time.Millisecond) // the first verification waits for the keys
	tok := iss.Sign(t, "rs256", iss.Claims(time.Now()), nil)
	res := make(chan reply, 1)
	go func() { res <- do(t, "GET", s.url+"/secure-data", map[string]string{"Authorization": "Bearer " + tok}) }()
	// Wait until the request is in flight: the issuer has been asked.
	deadline := time.Now().Add(5 * time.Second)
	for iss.DiscoveryFetches() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the request never reached the issuer")
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if r := <-res; r.status != 200 {
		t.Errorf("the in-flight request got %d, want 200 (finished before shutdown)", r.status)
	}
	if _, err := http.Get(s.url + "/"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

func TestBadSettingsStopStartup(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		mention string
	}{
		{"malformed issuer", map[string]string{"OKTA_ISSUER": "not a url"}, nil, "OKTA_ISSUER (--issuer)"},
		{"tutorial placeholder", map[string]string{"OKTA_ISSUER": "https://your-okta-domain/oauth2/default"}, nil, "OKTA_ISSUER (--issuer)"},
		{"http issuer on a public host", map[string]string{"OKTA_ISSUER": "http://example.com/oauth2/default"}, nil, "OKTA_ISSUER (--issuer)"},
		{"bad address", nil, []string{"--addr", "nope"}, "--addr: "},
		{"bad origin", map[string]string{"ALLOWED_ORIGINS": "app.example.com"}, nil, "ALLOWED_ORIGINS (--allowed-origins)"},
		{"bad redis url", map[string]string{"APIGUARD_REDIS_URL": "http://x"}, nil, "APIGUARD_REDIS_URL (--redis-url)"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "--log-format: "},
		{"unknown flag", nil, []string{"--nope"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"OKTA_ISSUER", "APIGUARD_ADDR", "ALLOWED_ORIGINS", "APIGUARD_REDIS_URL"} {
				t.Setenv(k, "")
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...), strings.NewReader(""), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr %q", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), c.mention) {
				t.Errorf("stderr %q does not name %q", stderr.String(), c.mention)
			}
			if lines := strings.Count(strings.TrimSpace(lastLine(stderr.String())), "\n"); lines != 0 || strings.Contains(stderr.String(), "goroutine") {
				t.Errorf("stderr is not one clear line: %q", stderr.String())
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

func TestDotEnv(t *testing.T) {
	iss := testissuer.New(t)
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("OKTA_ISSUER="+iss.URL+"\nOKTA_AUDIENCE=api://from-dotenv\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OKTA_AUDIENCE", "") // set but empty: the environment wins only with a value
	os.Unsetenv("OKTA_AUDIENCE")
	os.Unsetenv("OKTA_ISSUER")
	t.Cleanup(func() { os.Unsetenv("OKTA_ISSUER"); os.Unsetenv("OKTA_AUDIENCE") })
	if err := loadDotEnv(".env"); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("OKTA_ISSUER"); got != iss.URL {
		t.Fatalf("OKTA_ISSUER = %q after loading .env", got)
	}
	// The environment wins over the file.
	t.Setenv("OKTA_AUDIENCE", "api://from-env")
	if err := loadDotEnv(".env"); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("OKTA_AUDIENCE"); got != "api://from-env" {
		t.Errorf("OKTA_AUDIENCE = %q, want the environment's value", got)
	}
	// And flags win over both.
	cfg, err := parseServeConfig([]string{"--audience", "api://from-flag"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.audience != "api://from-flag" || cfg.issuer != iss.URL {
		t.Errorf("audience %q issuer %q", cfg.audience, cfg.issuer)
	}
	// A broken .env stops start-up with a line naming it.
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("OKTA_ISSUER='unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, nil, io.Discard, &stderr); code != 2 || !strings.Contains(stderr.String(), ".env") {
		t.Errorf("broken .env: exit %d, stderr %q", code, stderr.String())
	}
}

// TestServeEmbeddedIssuerTutorialFlow runs the tutorial's steps 5.2 and 5.3
// with the two commands serve prints, in a real shell with curl.
func TestServeEmbeddedIssuerTutorialFlow(t *testing.T) {
	s := startServe(t, nil)
	banner := s.stdout.String()
	if !strings.Contains(banner, "DEVELOPMENT ISSUER") {
		t.Fatalf("no development banner:\n%s", banner)
	}
	var cmds []string
	for _, line := range strings.Split(banner, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "TOKEN=$(curl") || strings.HasPrefix(l, "curl -s") {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) != 2 {
		t.Fatalf("want 2 printed commands, got %q in\n%s", cmds, banner)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to run the printed commands")
	}
	out, err := exec.Command("bash", "-c", "set -e\n"+strings.Join(cmds, "\n")).CombinedOutput()
	if err != nil {
		t.Fatalf("printed commands failed: %v\n%s", err, out)
	}
	var got struct {
		Message string         `json:"message"`
		User    map[string]any `json:"user"`
	}
	if err := json.Unmarshal(out, &got); err != nil || got.Message != "Secure data accessed!" {
		t.Fatalf("printed commands gave %s", out)
	}
	if aud := got.User["aud"]; aud != "api://default" || !regexp.MustCompile(`^AT\.`).MatchString(got.User["jti"].(string)) {
		t.Errorf("claims are not Okta-shaped: %v", got.User)
	}
}

func TestDefaultPublicURL(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:5000": "http://127.0.0.1:5000",
		"0.0.0.0:5000":   "http://127.0.0.1:5000",
		"[::]:5000":      "http://127.0.0.1:5000",
		"[::1]:5000":     "http://[::1]:5000",
	}
	for in, want := range cases {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := defaultPublicURL(addr); got != want {
			t.Errorf("defaultPublicURL(%s) = %q, want %q", in, got, want)
		}
	}
}
