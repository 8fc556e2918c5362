package gateway_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// differentialConfig protects the handlers every differential upstream
// serves: strong rules in front of weaker ones.
const differentialConfig = `
upstream: {{up}}
routes:
  - path: /admin/**
    scopes: [admin]
  - path: /reports/*/refund
    scopes: [refund]
  - path: /reports/**
    scopes: [read]
  - path: /orders/**
    methods: [DELETE]
    scopes: [delete]
  - path: /orders/**
    methods: [POST, PUT]
    scopes: [write]
  - path: /orders/**
    methods: [GET]
    scopes: [read]
  - path: /public/**
    public: true
  - path: /**
`

// handlerNeeds is what the rule protecting each upstream handler requires:
// the scopes, nil for a public handler, empty for any valid token.
var handlerNeeds = map[string][]string{
	"admin":         {"admin"},
	"refund":        {"refund"},
	"reports":       {"read"},
	"orders-delete": {"delete"},
	"orders-write":  {"write"},
	"orders-read":   {"read"},
	"public":        nil,
	"any":           {},
}

// diffToken is a token of some strength; tok "" sends none.
type diffToken struct {
	name   string
	tok    string
	scopes []string
}

// satisfies reports whether the token meets the rule protecting handler h.
func (tk diffToken) satisfies(h string) bool {
	needs := handlerNeeds[h]
	if needs == nil {
		return true
	}
	if tk.tok == "" {
		return false
	}
	for _, s := range needs {
		if !slices.Contains(tk.scopes, s) {
			return false
		}
	}
	return true
}

// TestDifferentialUpstreams sends spellings of requests to the protected
// handlers of real upstream frameworks (Go's ServeMux, express, Flask)
// through the gateway, with tokens of every strength, and checks that
// whenever an upstream ran a handler, the token met the rule that protects
// it. Set APIGUARD_SKIP_FRAMEWORKS=1 to run it without node/npm and
// /usr/bin/python3 with Flask (scripts/test.sh installs them).
func TestDifferentialUpstreams(t *testing.T) {
	skip := os.Getenv("APIGUARD_SKIP_FRAMEWORKS") == "1"
	ti := newTestIssuer(t)
	ups := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"go-servemux", startServeMux},
		{"express", startExpress},
		{"flask", startFlask},
	}
	tokens := []diffToken{{name: "none"}, {name: "weak", scopes: []string{}}}
	for _, s := range []string{"admin", "refund", "read", "write", "delete"} {
		tokens = append(tokens, diffToken{name: s, scopes: []string{s}})
	}
	for i := range tokens {
		if tokens[i].scopes != nil {
			tokens[i].tok = ti.token(t, map[string]any{"scp": tokens[i].scopes})
		}
	}
	variants := differentialVariants()
	if len(variants) < 500 {
		t.Fatalf("got %d variants, want at least 500", len(variants))
	}

	var total struct {
		sync.Mutex
		frameworks, sent, refused, ran, failures int
	}
	t.Cleanup(func() { // after the parallel subtests
		t.Logf("total: %d variants × %d frameworks × %d tokens = %d requests: %d refused, %d passed to a handler, %d invariant failures",
			len(variants), total.frameworks, len(tokens), total.sent, total.refused, total.ran, total.failures)
	})
	for _, up := range ups {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel() // the time goes into round trips, not CPU
			if skip && up.name != "go-servemux" {
				t.Skip("APIGUARD_SKIP_FRAMEWORKS=1")
			}
			upURL := up.start(t)
			rules, opts := parseConfig(t, strings.ReplaceAll(differentialConfig, "{{up}}", upURL))
			srv := httptest.NewServer(newGateway(t, ti.URL, rules, opts, io.Discard))
			t.Cleanup(srv.Close)

			type job struct {
				v  variant
				tk diffToken
			}
			jobs := make(chan job)
			var (
				mu                          sync.Mutex
				sent, refused, ran, nothing int
				badRequest                  int
				seen                        = map[string]bool{}
				failures                    []string
			)
			var wg sync.WaitGroup
			// Redirects are answers, not handlers: do not follow them.
			client := *srv.Client()
			client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range jobs {
						status, handler, err := j.v.send(&client, srv.URL, j.tk.tok)
						mu.Lock()
						sent++
						switch {
						case err != nil:
							failures = append(failures, fmt.Sprintf("%s with %s token: %v", j.v, j.tk.name, err))
						case handler != "":
							ran++
							seen[handler] = true
							if _, known := handlerNeeds[handler]; !known || !j.tk.satisfies(handler) {
								failures = append(failures, fmt.Sprintf("%s with %s token: upstream ran handler %q (status %d), whose rule the token does not meet", j.v, j.tk.name, handler, status))
							}
						case status == 400 || status == 401 || status == 403 || status == 404:
							refused++
							if status == 400 {
								badRequest++
							}
						default:
							nothing++ // the upstream redirected or refused the method
						}
						mu.Unlock()
					}
				}()
			}
			for _, v := range variants {
				for _, tk := range tokens {
					jobs <- job{v, tk}
				}
			}
			close(jobs)
			wg.Wait()

			t.Logf("%s: %d variants × %d tokens = %d requests: %d refused before any handler (%d of them 400), %d ran a handler, %d reached no handler (redirects, 405); %d invariant failures",
				up.name, len(variants), len(tokens), sent, refused, badRequest, ran, nothing, len(failures))
			total.Lock()
			total.frameworks++
			total.sent += sent
			total.refused += refused
			total.ran += ran
			total.failures += len(failures)
			total.Unlock()
			for i, f := range failures {
				if i == 30 {
					t.Errorf("… and %d more", len(failures)-i)
					break
				}
				t.Error(f)
			}
			// The gateway must not pass the test by refusing everything:
			// each handler is reached by some spelling with the right token.
			for h := range handlerNeeds {
				if !seen[h] {
					t.Errorf("no request ran handler %q: the differential check proves nothing for it", h)
				}
			}
		})
	}
}

// variant is one spelling of a request.
type variant struct {
	method string
	target string    // the raw request target, sent as is
	header [2]string // an extra header name and value, if any
}

func (v variant) String() string {
	s := v.method + " " + v.target
	if v.header[0] != "" {
		s += " [" + v.header[0] + ": " + v.header[1] + "]"
	}
	return s
}

// send sends v through the gateway at base and returns the status and the
// upstream handler that ran ("" for none).
func (v variant) send(client *http.Client, base, token string) (int, string, error) {
	req, err := http.NewRequest(v.method, base+"/", nil)
	if err != nil {
		return 0, "", err
	}
	if strings.HasPrefix(v.target, "//") {
		// An opaque "//x" would be sent in absolute form.
		req.URL.Path, req.URL.RawPath = v.target, v.target
	} else {
		req.URL.Opaque = v.target
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if v.header[0] != "" {
		req.Header.Set(v.header[0], v.header[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Handler"), nil
}

// differentialVariants spells requests to each protected handler the ways
// upstream frameworks may route alike: case of letters and methods, ";"
// parameters, trailing and doubled slashes, percent-encodings (also of
// letters, slashes and twice), dot segments, overlong UTF-8 and letters
// that fold to ASCII ones, plus method-override headers and parameters.
func differentialVariants() []variant {
	bases := []struct {
		method string
		path   string
	}{
		{"GET", "/admin/users"}, {"GET", "/admin"}, {"POST", "/admin/users"},
		{"GET", "/reports/7/refund"}, {"POST", "/reports/7/refund"}, {"GET", "/reports/7"}, {"GET", "/reports/7/refund/x"},
		{"GET", "/orders/1"}, {"POST", "/orders/1"}, {"PUT", "/orders/1"}, {"DELETE", "/orders/1"},
		{"PATCH", "/orders/1"}, {"HEAD", "/orders/1"},
		{"GET", "/public/x"}, {"GET", "/other/thing"},
	}
	var out []variant
	seen := map[variant]bool{}
	add := func(method, target string) {
		v := variant{method: method, target: target}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, b := range bases {
		segs := strings.Split(b.path[1:], "/")
		join := func(s []string) string { return "/" + strings.Join(s, "/") }
		with := func(i int, seg string) string {
			s := slices.Clone(segs)
			s[i] = seg
			return join(s)
		}
		forms := []string{b.path, b.path + "/", strings.ToUpper(b.path), "/" + b.path, b.path + "//",
			"/public/.." + b.path, "/public/%2e%2e" + b.path, "/public/..;" + b.path, "/public/%c0%ae%c0%ae" + b.path,
			"/x/.." + b.path, "/." + b.path, b.path + "/.", "/public%2F..%2F.." + b.path, "/public%252F..%252F.." + b.path,
			"/public/..%5C.." + b.path, "/public/%c0%af.." + b.path, b.path + "%00", b.path + "%0a"}
		for i, seg := range segs {
			forms = append(forms,
				with(i, strings.ToUpper(seg)),
				with(i, titleCase(seg)),
				with(i, toggleLast(seg)),
				with(i, seg+";x"),
				with(i, seg+";jsessionid=1"),
				with(i, strings.ToUpper(seg)+";x"),
				with(i, strings.ToUpper(seg))+"/",
				with(i, seg+";x")+"/",
				with(i, ";x/"+seg),
				with(i, "/"+seg),
				with(i, encodeFirst(seg, "%%%02x")),
				with(i, encodeFirst(seg, "%%%02X")),
				with(i, encodeAll(seg)),
				with(i, "%25"+fmt.Sprintf("%02x", seg[0])+seg[1:]),
				with(i, replaceFirst(seg, 's', "%C5%BF")),    // ſ, upper case S
				with(i, replaceFirst(seg, 'k', "%E2%84%AA")), // Kelvin sign, lower case k
				with(i, replaceFirst(seg, 'i', "%C4%B1")),    // dotless ı, upper case I
				with(i, replaceFirst(seg, 'i', "%C4%B0")),    // dotted İ, lower case i
				with(i, replaceFirst(seg, 'a', "%EF%BD%81")), // fullwidth a
				with(i, seg+"."),
				with(i, seg+"%20"),
			)
			if i+1 < len(segs) {
				s := slices.Clone(segs)
				forms = append(forms,
					join(s[:i+1])+"%2F"+strings.Join(s[i+1:], "/"),
					join(s[:i+1])+"%5C"+strings.Join(s[i+1:], "/"),
					join(s[:i+1])+"/x/../"+strings.Join(s[i+1:], "/"),
				)
			}
		}
		for _, f := range forms {
			add(b.method, f)
		}
		// Other spellings of the method, on a few paths.
		for _, m := range []string{strings.ToLower(b.method), titleCase(b.method)} {
			for _, f := range forms[:3] {
				add(m, f)
			}
		}
	}
	// Method overrides: a POST or GET checked as such, asking to be a DELETE.
	for _, m := range []string{"POST", "post", "GET"} {
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "x-http-method-override"} {
			v := variant{method: m, target: "/orders/1", header: [2]string{h, "DELETE"}}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
		for _, q := range []string{"?_method=DELETE", "?_METHOD=delete", "?%5Fmethod=DELETE", "?a=1&_method=DELETE"} {
			add(m, "/orders/1"+q)
		}
	}
	return out
}

func titleCase(s string) string {
	return strings.ToUpper(s[:1]) + strings.ToLower(s[1:])
}

// toggleLast flips the case of the last letter of s.
func toggleLast(s string) string {
	b := []byte(s)
	for i := len(b) - 1; i >= 0; i-- {
		if r := rune(b[i]); unicode.IsLetter(r) {
			if unicode.IsUpper(r) {
				b[i] = byte(unicode.ToLower(r))
			} else {
				b[i] = byte(unicode.ToUpper(r))
			}
			break
		}
	}
	return string(b)
}

// encodeFirst percent-encodes the first byte of s with format.
func encodeFirst(s, format string) string {
	return fmt.Sprintf(format, s[0]) + s[1:]
}

func encodeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func replaceFirst(s string, c byte, with string) string {
	if i := strings.IndexByte(s, c); i >= 0 {
		return s[:i] + with + s[i+1:]
	}
	return s + with
}

// startServeMux runs Go's ServeMux in process with the handlers.
func startServeMux(t *testing.T) string {
	mux := http.NewServeMux()
	h := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Handler", name)
			w.Header().Set("X-Handler-Method", r.Method)
			_, _ = io.WriteString(w, name+"\n")
		}
	}
	mux.Handle("/admin/", h("admin"))
	mux.Handle("/reports/{id}/refund", h("refund"))
	mux.Handle("/reports/", h("reports"))
	mux.Handle("DELETE /orders/", h("orders-delete"))
	mux.Handle("POST /orders/", h("orders-write"))
	mux.Handle("PUT /orders/", h("orders-write"))
	mux.Handle("GET /orders/", h("orders-read"))
	mux.Handle("/public/", h("public"))
	mux.Handle("/", h("any"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startExpress runs testdata/differential/app.js with node, its
// dependencies installed once per package-lock.json into the user cache.
func startExpress(t *testing.T) string {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is needed (scripts/test.sh installs it; APIGUARD_SKIP_FRAMEWORKS=1 skips): %v", err)
	}
	modules := npmModules(t)
	app, err := filepath.Abs(filepath.Join("testdata", "differential", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, app)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "NODE_ENV=production")
	return startFrameworkApp(t, cmd)
}

// startFlask runs testdata/differential/app.py with the Debian python3,
// which has python3-flask.
func startFlask(t *testing.T) string {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import flask").CombinedOutput(); err != nil {
		t.Fatalf("%s with flask is needed (scripts/test.sh installs python3-flask; APIGUARD_SKIP_FRAMEWORKS=1 skips): %v: %s", python, err, out)
	}
	return startFrameworkApp(t, exec.Command(python, filepath.Join("testdata", "differential", "app.py")))
}

// startFrameworkApp starts an app that prints "listening PORT" once it listens
// on 127.0.0.1 and exits when its stdin closes, and returns its URL.
func startFrameworkApp(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &diffLockedWriter{w: &stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("failed to start %s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	port := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case p := <-port:
		url := "http://127.0.0.1:" + p
		// Listening was printed after the bind; check it answers.
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := http.Get(url + "/public/ready")
			if err == nil {
				resp.Body.Close()
				return url
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer: %v; stderr: %s", cmd.Path, err, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	case <-done:
		t.Fatalf("%s exited before listening: %s", cmd.Path, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not print its port within 30s: %s", cmd.Path, stderr.String())
	}
	return ""
}

type diffLockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *diffLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// npmModules returns a node_modules directory holding the locked
// dependencies of testdata/differential, running `npm ci` into
// <user cache>/apiguard/differential-npm/<hash of the lock file> the first
// time only.
func npmModules(t *testing.T) string {
	t.Helper()
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("npm is needed (scripts/test.sh installs it; APIGUARD_SKIP_FRAMEWORKS=1 skips): %v", err)
	}
	src := filepath.Join("testdata", "differential")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := os.ReadFile(filepath.Join(src, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("no user cache dir: %v", err)
	}
	sum := sha256.Sum256(append(append([]byte{}, pkg...), lock...))
	dir := filepath.Join(cache, "apiguard", "differential-npm", hex.EncodeToString(sum[:8]))
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		return modules
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	// Install into a fresh directory and rename it into place, so that
	// concurrent runs never see a half-installed tree.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "ok")); statErr != nil {
			t.Fatalf("failed to move the npm install into place: %v", err)
		}
	}
	return modules
}
