package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/gateway"
	"go.yaml.in/yaml/v3"
)

// TestGatewayFileErrors: the file is decoded strictly, and every error says
// the line it is about.
func TestGatewayFileErrors(t *testing.T) {
	const head = "upstream: http://127.0.0.1:9000\nroutes:\n"
	tests := []struct {
		name string
		file string
		want []string // every one must appear in the error
	}{
		{"empty", "", []string{"empty"}},
		{"only comments", "# nothing yet\n", []string{"empty"}},
		{"not a mapping", "- path: /a\n", []string{"line 1", "mapping"}},
		{"unknown top-level key", "listn: :80\n" + head + "  - path: /a\n", []string{"line 1", "listn"}},
		{"unknown top-level key after the routes", head + "  - path: /a\nscopes: [x]\n", []string{"line 4", "scopes"}},
		{"unknown route key", head + "  - path: /a\n    scope: [x]\n", []string{"line 4", "scope"}},
		{"wrong type", head + "  - path: /a\n    public: maybe\n", []string{"line 4"}},
		{"duplicate route key", head + "  - path: /a\n    path: /b\n", []string{"line 4", "path"}},
		{"duplicate setting key", "issuer: https://a.example\nissuer: https://b.example\n" + head + "  - path: /a\n", []string{"line 2", "issuer"}},
		{"setting as a mapping", "issuer: {url: https://a.example}\n" + head + "  - path: /a\n", []string{"line 1", "issuer", "mapping"}},
		{"admin_listen as a list", "admin_listen: [a]\n" + head + "  - path: /a\n", []string{"line 1"}},
		{"client id with a space", "client_ids:\n  - a\n  - b c\n" + head + "  - path: /a\n", []string{"line 3", "client_ids", `"b c"`}},
		{"two documents", head + "  - path: /a\n---\nlisten: x\n", []string{"one YAML document"}},
		{"no routes", "upstream: http://127.0.0.1:9000\n", []string{"routes"}},
		{"bad glob", head + "  - path: /a\n  - path: /b*\n", []string{"line 4", "routes[1]", "bad glob"}},
		{"unknown method", head + "  - path: /a\n    methods: [GETT]\n", []string{"line 3", "unknown method", "GETT"}},
		{"public with scopes", head + "  - path: /a\n  - path: /b\n    public: true\n    scopes: [x]\n", []string{"line 4", "routes[1]", "public"}},
		{"bad upstream", "upstream: ftp://x\nroutes:\n  - path: /a\n", []string{"upstream", "ftp://x"}},
		{"bad route upstream", head + "  - path: /a\n    upstream: localhost:9000\n", []string{"line 3", "routes[0]", "upstream"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseGatewayFile([]byte(tt.file), gatewayFileKeys())
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

// TestGatewayFileKeys: every key the settings read from the file is a key
// of the file, and the rules come through whole.
func TestGatewayFileKeys(t *testing.T) {
	keys := gatewayFileKeys()
	for _, want := range []string{"listen", "issuer", "audience", "client_ids", "public_url", "introspection",
		"introspection_cache_ttl", "dpop", "dpop_nonce", "auth_proxy"} {
		if !strings.Contains(" "+strings.Join(keys, " ")+" ", " "+want+" ") {
			t.Errorf("got file keys %q, want %s among them", keys, want)
		}
	}
	file := "admin_listen: 127.0.0.1:8081\nupstream: http://up.internal\n"
	for _, k := range keys {
		file += k + ": x\n"
	}
	file += "routes:\n  - path: /a/**\n    methods: [GET]\n    scopes: [a]\n  - path: /a/**\n    methods: [post]\n    upstream: http://other.internal/v1\n    forward_token: true\n"
	f, err := parseGatewayFile([]byte(file), keys)
	if err != nil {
		t.Fatalf("parseGatewayFile: %v", err)
	}
	want := gateway.Rules{Upstream: "http://up.internal", Routes: []gateway.Route{
		{Path: "/a/**", Methods: []string{"GET"}, Scopes: []string{"a"}},
		{Path: "/a/**", Methods: []string{"post"}, Upstream: "http://other.internal/v1", ForwardToken: true},
	}}
	got, _ := yaml.Marshal(f.Rules)
	wantText, _ := yaml.Marshal(want)
	if string(got) != string(wantText) || f.AdminListen != "127.0.0.1:8081" {
		t.Errorf("got rules\n%s admin_listen %q, want\n%s admin_listen 127.0.0.1:8081", got, f.AdminListen, wantText)
	}
}

// TestGatewayFileSettingsErrors: a bad value of a setting in the file stops
// start-up naming the key, the file and its line.
func TestGatewayFileSettingsErrors(t *testing.T) {
	const rules = "routes:\n  - path: /**\n"
	tests := []struct {
		name string
		file string
		args []string
		want []string
	}{
		{"bad listen", "listen: nope\n" + rules, nil, []string{"listen in ", "gateway.yaml line 1"}},
		{"bad issuer", "issuer: example.com\n" + rules, nil, []string{"issuer in ", "gateway.yaml line 1"}},
		{"bad auth_proxy", "auth_proxy: haproxy\n" + rules, nil, []string{"auth_proxy in ", "gateway.yaml line 1", "nginx"}},
		{"bad introspection", "introspection: sometimes\n" + rules, nil, []string{"introspection in ", "gateway.yaml line 1"}},
		{"bad admin_listen", "admin_listen: nope\n" + rules, nil, []string{"admin_listen in ", "gateway.yaml line 1", "host:port"}},
		{"admin_listen is listen", "listen: 127.0.0.1:7001\nadmin_listen: 127.0.0.1:7001\n" + rules, nil, []string{"admin_listen in ", "gateway.yaml line 2"}},
		{"admin_listen is --addr", "admin_listen: 127.0.0.1:7002\n" + rules, []string{"--addr", "127.0.0.1:7002"}, []string{"admin_listen in ", "gateway.yaml line 1"}},
		{"bad route", "\n" + rules + "  - path: /x/*\n    public: true\n    groups: [g]\n", nil, []string{"--config", "gateway.yaml", "line 4", "routes[1] (/x/*)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gwClearEnv(t)
			t.Setenv("OKTA_ISSUER", "")
			if !strings.Contains(tt.file, "issuer:") {
				t.Setenv("OKTA_ISSUER", "https://example.okta.com/oauth2/default")
			}
			path := writeGatewayConfig(t, tt.file)
			_, err := parseGatewayConfig(append([]string{"--config", path}, tt.args...), &syncBuffer{})
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
	t.Run("admin_listen and --addr both port 0", func(t *testing.T) {
		gwClearEnv(t)
		t.Setenv("OKTA_ISSUER", "https://example.okta.com/oauth2/default")
		path := writeGatewayConfig(t, "admin_listen: 127.0.0.1:0\n"+rules)
		if _, err := parseGatewayConfig([]string{"--config", path, "--addr", "127.0.0.1:0"}, &syncBuffer{}); err != nil {
			t.Errorf("got %v, want no error (each gets a port of its own)", err)
		}
	})
}

// exampleFiles are the example gateway files: gateway/testdata, the
// command's testdata, and the gateway.yaml block of gateway/README.md.
func exampleFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, pattern := range []string{"../../gateway/testdata/*.yaml", "testdata/*.yaml"} {
		paths, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = string(data)
		}
	}
	readme, err := os.ReadFile("../../gateway/README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)\n## gateway.yaml\n\n```yaml\n(.*?)\n```\n").FindSubmatch(readme)
	if m == nil {
		t.Fatal("gateway/README.md has no gateway.yaml block under ## gateway.yaml")
	}
	files["gateway/README.md"] = string(m[1]) + "\n"
	if len(files) < 2 {
		t.Fatalf("got examples %q, want gateway/testdata/example.yaml and the README's", files)
	}
	return files
}

// TestGatewayExamples: every example file starts as written, with only its
// issuer (OKTA_ISSUER: a development issuer) and its ports (--addr, and
// admin_listen on port 0) changed, and its rules are in force: its first
// protected route refuses a request without a token.
func TestGatewayExamples(t *testing.T) {
	adminRE := regexp.MustCompile(`(?m)^(admin_listen: *[0-9.]+:)[0-9]+`)
	for name, content := range exampleFiles(t) {
		t.Run(name, func(t *testing.T) {
			f, err := parseGatewayFile([]byte(content), gatewayFileKeys())
			if err != nil {
				t.Fatalf("parseGatewayFile: %v", err)
			}
			protected := ""
			for _, r := range f.Routes {
				if !r.Public && len(r.Methods) == 0 || (!r.Public && strings.Contains(strings.ToUpper(strings.Join(r.Methods, " ")), "GET")) {
					protected = regexp.MustCompile(`\*\*?`).ReplaceAllString(r.Path, "x")
					break
				}
			}
			if protected == "" {
				t.Fatal("the example has no protected route taking GET")
			}
			gwClearEnv(t)
			t.Setenv("OKTA_ISSUER", gwDevIssuer(t))
			path := writeGatewayConfig(t, adminRE.ReplaceAllString(content, "${1}0"))
			g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
			admin := g.addr
			if f.AdminListen != "" {
				admin = g.admin
			}
			gwEventually(t, "readiness", func() bool {
				resp, _ := gwGet(t, "http://"+admin+"/readyz", "")
				return resp.StatusCode == 200
			})
			if resp, body := gwGet(t, "http://"+g.addr+protected, ""); resp.StatusCode != 401 {
				t.Errorf("GET %s without a token: got %d %s, want 401", protected, resp.StatusCode, body)
			}
		})
	}
}

const gwReloadV1 = "upstream: {{up}}\nroutes:\n  - path: /old/**\n    public: true\n"
const gwReloadV2 = "upstream: {{up}}\nroutes:\n  - path: /new/**\n    public: true\n"

// replaceFile replaces path the way editors do: write a temporary file,
// rename.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// reloadFixture runs `apiguard gateway` on a file holding v1 in front of an
// upstream; sub fills in the upstream's URL.
func reloadFixture(t *testing.T, head string) (g *runningGateway, path string, sub func(string) string) {
	t.Helper()
	gwClearEnv(t)
	issuerURL := gwDevIssuer(t)
	up := newGatewayUpstream(t)
	sub = func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "{{up}}", up), "{{issuer}}", issuerURL)
	}
	path = writeGatewayConfig(t, sub(head+gwReloadV1))
	g = startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	return g, path, sub
}

// newGatewayUpstream starts an upstream answering 200 to everything.
func newGatewayUpstream(t *testing.T) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(up.Close)
	return up.URL
}

func (g *runningGateway) status(t *testing.T, path string) int {
	t.Helper()
	resp, _ := gwGet(t, "http://"+g.addr+path, "")
	return resp.StatusCode
}

// TestGatewayReloadOnFileChange: a changed file replaces the rules; a bad
// one is reported with its line and the running rules stay; a file removed
// and written again is read; reloads are counted by result.
func TestGatewayReloadOnFileChange(t *testing.T) {
	g, path, sub := reloadFixture(t, "issuer: {{issuer}}\n")
	if got := g.status(t, "/new/x"); got != 404 {
		t.Fatalf("before reload: got %d for /new/x, want 404", got)
	}
	started := g.gauge(t, "apiguard_gateway_config_last_reload_success_timestamp_seconds")
	if ok := g.gauge(t, "apiguard_gateway_config_last_reload_successful"); ok != 1 || started < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("at start-up: last reload successful %v at %v, want 1 and about now", ok, started)
	}
	replaceFile(t, path, sub("issuer: {{issuer}}\n"+gwReloadV2))
	gwEventually(t, "the new rules", func() bool { return g.status(t, "/new/x") == 200 })
	if got := g.status(t, "/old/x"); got != 404 {
		t.Errorf("after reload: got %d for /old/x, want 404", got)
	}

	replaceFile(t, path, sub("issuer: {{issuer}}\n"+gwReloadV2)+"    scopes: [x]\n")
	gwEventually(t, "the bad file to be reported", func() bool {
		return strings.Contains(g.stderr.String(), "not reloaded")
	})
	logs := g.stderr.String()
	if !strings.Contains(logs, "public route must not name scopes") || !strings.Contains(logs, "line 4") {
		t.Errorf("got logs %q, want the problem and its line", logs)
	}
	if got := g.status(t, "/new/x"); got != 200 {
		t.Errorf("after a bad file: got %d for /new/x, want the running rules (200)", got)
	}
	if ok := g.gauge(t, "apiguard_gateway_config_last_reload_successful"); ok != 0 {
		t.Errorf("after a bad file: last reload successful %v, want 0", ok)
	}
	failedAt := g.gauge(t, "apiguard_gateway_config_last_reload_success_timestamp_seconds")

	// Removed and written again (as some deploy tools do).
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(sub("issuer: {{issuer}}\n"+gwReloadV1)), 0o600); err != nil {
		t.Fatal(err)
	}
	gwEventually(t, "the rewritten file", func() bool { return g.status(t, "/old/x") == 200 })
	if ok := g.gauge(t, "apiguard_gateway_config_last_reload_successful"); ok != 1 {
		t.Errorf("after the rewritten file: last reload successful %v, want 1", ok)
	}
	// The time (with its fraction of a second) moves with each successful
	// reload only: at the failure it was the first reload's.
	if at := g.gauge(t, "apiguard_gateway_config_last_reload_success_timestamp_seconds"); !(started < failedAt && failedAt < at) {
		t.Errorf("success times: start %v, at the failure %v, after the rewrite %v; want each later", started, failedAt, at)
	}

	reloads := map[string]float64{}
	for _, s := range scrape(t, "http://"+g.addr+"/metrics") {
		if s.name == "apiguard_gateway_config_reloads_total" {
			_, v, _ := strings.Cut(s.line, " ")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("got sample %q: %v", s.line, err)
			}
			reloads[s.labels["result"]] = n
		}
	}
	// The removal may be seen as a failed reload of a missing file.
	if reloads["success"] != 2 || reloads["failure"] < 1 {
		t.Errorf("got reloads %v, want 2 successes and at least 1 failure", reloads)
	}
}

// gauge returns the value of the unlabelled metric name on the gateway's
// /metrics, failing the test if there is none.
func (g *runningGateway) gauge(t *testing.T, name string) float64 {
	t.Helper()
	for _, s := range scrape(t, "http://"+g.addr+"/metrics") {
		if s.name == name {
			_, v, _ := strings.Cut(s.line, " ")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("got sample %q: %v", s.line, err)
			}
			return n
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// TestGatewayReloadSettings: a reload reads the settings as start-up does.
// A changed setting that needs a restart is logged, once its effective
// value changes; a file that would not start is refused, naming the key.
func TestGatewayReloadSettings(t *testing.T) {
	g, path, sub := reloadFixture(t, "issuer: {{issuer}}\n")
	replaceFile(t, path, sub("issuer: {{issuer}}\naudience: api://other\nbogus: 1\n"+gwReloadV2))
	gwEventually(t, "the unknown key to be reported", func() bool { return strings.Contains(g.stderr.String(), "bogus") })
	if got := g.status(t, "/old/x"); got != 200 {
		t.Errorf("after a failed reload: got %d for /old/x, want 200", got)
	}

	replaceFile(t, path, sub("issuer: {{issuer}}\nintrospection: opaque\n"+gwReloadV2))
	gwEventually(t, "the introspection problem to be reported", func() bool {
		return strings.Contains(g.stderr.String(), "introspection in "+path+" line 2")
	})
	if got := g.status(t, "/old/x"); got != 200 {
		t.Errorf("after a file that would not start: got %d for /old/x, want 200", got)
	}

	replaceFile(t, path, sub("issuer: https://other.example/oauth2/default\n"+gwReloadV2))
	gwEventually(t, "the new rules", func() bool { return g.status(t, "/new/x") == 200 })
	logs := g.stderr.String()
	if !strings.Contains(logs, "setting=issuer") {
		t.Errorf("got logs %q, want a restart warning for issuer", logs)
	}
	if strings.Contains(logs, "setting=audience") || strings.Contains(logs, "setting=listen") {
		t.Errorf("got logs %q, want no warning for settings that did not change in a successful reload", logs)
	}
}

// TestGatewayReloadEffectiveSettings: a file key that the environment
// overrides changes nothing, so no restart is asked for.
func TestGatewayReloadEffectiveSettings(t *testing.T) {
	gwClearEnv(t)
	issuerURL := gwDevIssuer(t)
	t.Setenv("OKTA_ISSUER", issuerURL)
	up := newGatewayUpstream(t)
	path := writeGatewayConfig(t, strings.ReplaceAll("issuer: https://file.example/oauth2/default\n"+gwReloadV1, "{{up}}", up))
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	replaceFile(t, path, strings.ReplaceAll("issuer: https://changed.example/oauth2/default\n"+gwReloadV2, "{{up}}", up))
	gwEventually(t, "the new rules", func() bool { return g.status(t, "/new/x") == 200 })
	if logs := g.stderr.String(); strings.Contains(logs, "setting=") {
		t.Errorf("got logs %q, want no restart warning: OKTA_ISSUER decides the issuer", logs)
	}
}

// TestGatewayWatchSignal: a value on hup reloads even when no file event
// does (the file changed before the watch began).
func TestGatewayWatchSignal(t *testing.T) {
	path := writeGatewayConfig(t, "v1")
	replaceFile(t, path, "v2")
	triggers := make(chan string, 8)
	hup := make(chan os.Signal, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done, err := watchGatewayFile(ctx, path, hup, func(trigger string) { triggers <- trigger }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("watchGatewayFile: %v", err)
	}
	t.Cleanup(func() { cancel(); <-done })
	hup <- syscall.SIGHUP
	select {
	case got := <-triggers:
		if got != "signal" {
			t.Errorf("got trigger %q, want signal", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reload within 30s of the signal")
	}
	replaceFile(t, path, "v3")
	select {
	case got := <-triggers:
		if got != "file change" {
			t.Errorf("got trigger %q, want file change", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reload within 30s of the change")
	}
}
