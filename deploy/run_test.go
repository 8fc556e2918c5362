package deploy

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testwait"
)

// apiguardBin is ../cmd/apiguard, built once by TestMain.
var apiguardBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "apiguard-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	apiguardBin = filepath.Join(dir, "apiguard")
	// Built in the root module (the parent directory), as a release is.
	build := exec.Command("go", "build", "-trimpath", "-o", apiguardBin, "./cmd/apiguard")
	build.Dir = ".."
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "deploy: building ../cmd/apiguard: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// apiguardHelp is the output of `apiguard CMD -h`.
func apiguardHelp(t *testing.T, cmd string) string {
	t.Helper()
	c := exec.Command(apiguardBin, cmd, "-h")
	c.Dir = t.TempDir() // no .env
	c.Env = baseEnv(c.Dir)
	out, _ := c.CombinedOutput() // -h may exit non-zero; the text is what counts
	if !strings.Contains(string(out), "usage: apiguard "+cmd) {
		t.Fatalf("apiguard %s -h printed no usage:\n%s", cmd, out)
	}
	return string(out)
}

// baseEnv is the environment every started apiguard gets before its own
// settings: none of the developer's OKTA_* or APIGUARD_* variables leak in.
func baseEnv(home string) []string {
	return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home}
}

// proc is a started apiguard.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  lockedBuffer // stdout and stderr
	done chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs `bin args...` with env (and baseEnv) in a fresh directory, and
// stops it when the test ends.
func start(t *testing.T, bin string, args []string, env map[string]string) *proc {
	t.Helper()
	dir := t.TempDir()
	return startIn(t, bin, args, append(baseEnv(dir), envList(env)...), dir, nil)
}

// envList is env as KEY=value lines, sorted.
func envList(env map[string]string) []string {
	var l []string
	for _, k := range slices.Sorted(maps.Keys(env)) {
		l = append(l, k+"="+env[k])
	}
	return l
}

// startIn runs `bin args...` with exactly env, in dir, as cred (nil: as
// this process), and stops it when the test ends.
func startIn(t *testing.T, bin string, args, env []string, dir string, cred *syscall.Credential) *proc {
	t.Helper()
	p := &proc{name: strings.Join(args, " "), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	if cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second): // graceful shutdown allows 10 s
			_ = p.cmd.Process.Kill()
			<-p.done
			t.Errorf("apiguard %s did not stop on SIGTERM", p.name)
		}
		if t.Failed() {
			t.Logf("output of apiguard %s:\n%s", p.name, p.out.String())
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logged waits for the JSON log line whose msg is msg and returns it.
func (p *proc) logged(t *testing.T, msg string) map[string]any {
	t.Helper()
	var line map[string]any
	testwait.For(t, fmt.Sprintf("apiguard %s to log %q", p.name, msg), func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.out.String()))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == msg {
				line = l
				return true
			}
		}
		if p.exited() {
			t.Fatalf("apiguard %s exited (%v) before logging %q:\n%s", p.name, p.cmd.ProcessState, msg, p.out.String())
		}
		return false
	})
	return line
}

// field is a string field of a log line.
func field(t *testing.T, line map[string]any, name string) string {
	t.Helper()
	s, ok := line[name].(string)
	if !ok || s == "" {
		t.Fatalf("log line %v has no %s", line, name)
	}
	return s
}

// probeClient asks as a kubelet does: one connection per request. A
// connection kept alive, or dialled and left unused in a pool, would hold up
// the server's graceful shutdown (net/http waits 5 s for a connection that
// has sent no request).
var probeClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// statusOf is the status of GET url, or 0 when it cannot be had.
func statusOf(url string, header http.Header) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	maps.Copy(req.Header, header)
	resp, err := probeClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus waits until GET url answers want.
func waitStatus(t *testing.T, url string, want int) {
	t.Helper()
	testwait.For(t, fmt.Sprintf("GET %s to answer %d", url, want), func() bool {
		return statusOf(url, nil) == want
	})
}

// devIssuer starts `apiguard serve` with its embedded development issuer on
// loopback, to stand in for Okta, and returns the issuer URL.
func devIssuer(t *testing.T) string {
	t.Helper()
	p := start(t, apiguardBin, []string{"serve"}, map[string]string{
		"APIGUARD_ADDR": "127.0.0.1:0", "APIGUARD_LOG_FORMAT": "json",
	})
	return field(t, p.logged(t, "listening"), "issuer")
}

var placeholderRE = regexp.MustCompile(`\{your[^}]*\}`)

// podEnv is the container's environment as the pod would have it, with the
// placeholders of config.yaml and secret.example.yaml filled in for a run on
// loopback: the issuer is iss, logs are JSON (the tests read them), and the
// listen address is replaced by listen when the command reads one from the
// environment.
func podEnv(t *testing.T, m *manifests, cmd, iss string) map[string]string {
	t.Helper()
	_, c := m.deployment(t, cmd)
	env, err := m.resolveEnv(c)
	if err != nil {
		t.Fatal(err)
	}
	fill := map[string]string{
		"OKTA_ISSUER":             iss,
		"OKTA_CLIENT_ID":          "0oa-deploy-test",
		"OKTA_CLIENT_SECRET":      rand.Text(),
		"APIGUARD_SESSION_SECRET": rand.Text() + rand.Text(),
		"APIGUARD_PUBLIC_URL":     "https://api.example.test",
	}
	for k, v := range env {
		if placeholderRE.MatchString(v) {
			f, ok := fill[k]
			if !ok {
				t.Fatalf("%s=%s: a placeholder this test has no value for", k, v)
			}
			env[k] = f
		}
	}
	env["OKTA_ISSUER"] = iss
	if got := env["APIGUARD_LOG_FORMAT"]; got != "json" {
		t.Errorf("APIGUARD_LOG_FORMAT %q: want json in a cluster (and the test reads the logs)", got)
	}
	env["APIGUARD_LOG_FORMAT"] = "json"
	return env
}

// TestServeProbes starts `apiguard serve` with the serve Deployment's
// environment (on loopback, port 0, against a development issuer) and asks
// the routes its probes name.
func TestServeProbes(t *testing.T) {
	m := loadManifests(t)
	_, c := m.deployment(t, "serve")
	iss := devIssuer(t)
	env := podEnv(t, m, "serve", iss)
	if env["APIGUARD_ADDR"] == "" {
		t.Fatal("the serve container does not set APIGUARD_ADDR")
	}
	env["APIGUARD_ADDR"] = "127.0.0.1:0"
	p := start(t, apiguardBin, c.Args, env)
	addr := field(t, p.logged(t, "listening"), "addr")
	for _, probe := range []string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path, "/metrics"} {
		waitStatus(t, "http://"+addr+probe, http.StatusOK)
	}
	if got := statusOf("http://"+addr+"/secure-data", nil); got != http.StatusUnauthorized {
		t.Errorf("GET /secure-data without a token: %d, want 401", got)
	}
}

// TestGatewayAcceptsRules starts `apiguard gateway` with the gateway
// Deployment's environment and the rules ConfigMap laid out as the kubelet
// lays out a ConfigMap volume (the key a symlink through ..data to a
// timestamped directory), asks the routes its probes name on the admin port,
// then updates the "ConfigMap" as the kubelet does (a new directory, ..data
// swapped by rename) and waits for the gateway to apply the new rules.
func TestGatewayAcceptsRules(t *testing.T) {
	m := loadManifests(t)
	_, c := m.deployment(t, "gateway")
	rules := m.gatewayRules(t)
	iss := devIssuer(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(upstream.Close)

	// On loopback, port 0 (spelt two ways: the gateway refuses an
	// admin_listen equal to listen), and the upstream here: the rest of the
	// file as it is in the ConfigMap.
	text := rules.text
	for key, v := range map[string]string{"listen": "127.0.0.1:0", "admin_listen": "localhost:0", "upstream": upstream.URL} {
		re := regexp.MustCompile(`(?m)^` + key + `: .*$`)
		if !re.MatchString(text) {
			t.Fatalf("the rules have no top-level %s line", key)
		}
		text = re.ReplaceAllLiteralString(text, key+": "+v)
	}
	dir := t.TempDir()
	configMapVolume(t, dir, filepath.Base(rules.path), text, "..2026_01_01_00_00_00.000000001")

	env := podEnv(t, m, "gateway", iss)
	env["APIGUARD_GATEWAY_CONFIG"] = filepath.Join(dir, filepath.Base(rules.path))
	p := start(t, apiguardBin, c.Args, env)
	l := p.logged(t, "gateway listening")
	addr, admin := field(t, l, "addr"), field(t, l, "admin_addr")
	for _, probe := range []string{c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path, "/metrics"} {
		waitStatus(t, "http://"+admin+probe, http.StatusOK)
	}

	// A path only the any-token route takes: 401 without a token. Made
	// public by an update, the request reaches the upstream (418).
	const probePath = "/deploy-test-reload/x"
	if got := statusOf("http://"+addr+probePath, nil); got != http.StatusUnauthorized {
		t.Fatalf("GET %s without a token: %d, want 401 from the ConfigMap's rules", probePath, got)
	}
	updated := strings.Replace(text, "routes:\n", "routes:\n  - path: /deploy-test-reload/**\n    public: true\n", 1)
	if updated == text {
		t.Fatal("the rules have no top-level routes: line")
	}
	configMapVolume(t, dir, filepath.Base(rules.path), updated, "..2026_01_01_00_01_00.000000002")
	testwait.For(t, "the gateway to apply the updated ConfigMap", func() bool {
		return statusOf("http://"+addr+probePath, nil) == http.StatusTeapot
	})
}

// configMapVolume writes key=text into dir the way the kubelet's atomic
// writer does: the data in a new timestamped directory, ..data pointed at it
// by renaming a temporary symlink over it, and key a symlink to ..data/key.
// An older timestamped directory is removed afterwards, as the kubelet does.
func configMapVolume(t *testing.T, dir, key, text, stamp string) {
	t.Helper()
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	if err := os.Mkdir(filepath.Join(dir, stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, stamp, key), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, key)); os.IsNotExist(err) {
		if err := os.Symlink(filepath.Join("..data", key), filepath.Join(dir, key)); err != nil {
			t.Fatal(err)
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}
