package gateway

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// resolveRules is a rule set with strong rules in front of weaker ones, as
// in issue 12.
var resolveRules = []Route{
	{Name: "admin", Path: "/admin/**", Scopes: []string{"admin"}},
	{Name: "refund", Path: "/reports/*/refund", Scopes: []string{"refund"}},
	{Name: "reports", Path: "/reports/**", Scopes: []string{"read"}},
	{Name: "orders-write", Path: "/orders/**", Methods: []string{"POST", "PUT", "DELETE"}, Scopes: []string{"write"}},
	{Name: "orders-read", Path: "/orders/**", Methods: []string{"GET"}, Scopes: []string{"read"}},
	{Name: "public", Path: "/public/**", Public: true},
	{Name: "any", Path: "/**"},
}

func mustCompile(t testing.TB, routes []Route) *ruleset {
	t.Helper()
	rs, err := compile(Rules{Routes: routes})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return rs
}

func ruleName(r *rule) string {
	if r == nil {
		return "<none>"
	}
	return r.name
}

// TestMethodCase: a method in another case used to match no method-restricted
// rule (methodBit("post") was 0) and fell through to a later, weaker one.
func TestMethodCase(t *testing.T) {
	rs := mustCompile(t, resolveRules)
	tests := []struct {
		method, path string
		wantRule     string
		wantMethod   string
		wantErr      error
	}{
		{"POST", "/orders/1", "orders-write", "POST", nil},
		{"post", "/orders/1", "orders-write", "POST", nil},
		{"Delete", "/orders/1", "orders-write", "DELETE", nil},
		{"pUt", "/orders/1", "orders-write", "PUT", nil},
		{"get", "/orders/1", "orders-read", "GET", nil},
		{"head", "/orders/1", "orders-read", "HEAD", nil}, // GET implies HEAD
		{"options", "/orders/1", "any", "OPTIONS", nil},
		{"PATCH", "/orders/1", "any", "PATCH", nil},
		{"PROPFIND", "/orders/1", "any", "PROPFIND", nil}, // extension: any-method routes only
		{"propfind", "/orders/1", "any", "propfind", nil},
		{"GET ", "/orders/1", "", "", errBadMethod},
		{"", "/orders/1", "", "", errBadMethod},
		{"PÖST", "/orders/1", "", "", errBadMethod},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r, m, err := rs.resolve(tt.method, tt.path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("resolve(%q, %q): got error %v, want %v", tt.method, tt.path, err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got := ruleName(r); got != tt.wantRule || m != tt.wantMethod {
				t.Errorf("resolve(%q, %q): got rule %s method %q, want rule %s method %q", tt.method, tt.path, got, m, tt.wantRule, tt.wantMethod)
			}
		})
	}
}

// TestPathReadings: spellings an upstream framework routes to a protected
// handler used to match a weaker rule (issue 12 finding 3). Each must now
// pick the strong rule or be refused as ambiguous.
func TestPathReadings(t *testing.T) {
	rs := mustCompile(t, resolveRules)
	tests := []struct {
		path     string
		wantRule string // "" with ambiguous
		ambig    bool
	}{
		{"/admin/users", "admin", false},
		{"/ADMIN/users", "", true},               // express, ASP.NET: case-insensitive
		{"/Admin/users", "", true},               // same
		{"/admin;jsessionid=1/users", "", true},  // Tomcat, Spring, Jetty strip ;params
		{"/ADMIN;x/users", "", true},             // both
		{"/reports/1/refund", "refund", false},   // as sent
		{"/reports/1/refund/", "", true},         // express: refund; Go ServeMux, Flask: reports
		{"/reports/1/refund;x", "", true},        // ;params
		{"/reports/1/REFUND", "", true},          // case
		{"/report\u017F/1/refund", "", true},     // ſ folds to s (.NET, Java)
		{"/reports/1/refund;x/", "", true},       // ;params and slash
		{"/reports/1;x/refund", "refund", false}, // * takes "1;x" and "1" alike
		{"/reports/1", "reports", false},         //
		{"/reports/1/", "reports", false},        //
		{"/orders/1", "orders-read", false},      //
		{"/public/a;b", "public", false},         // ; in a segment any reading keeps
		{"/;x/admin/users", "", true},            // Tomcat drops the whole ";x" segment
		{"/", "any", false},                      //
		{"/\u212Aey", "any", false},              // Kelvin sign: no literal here folds with it
		{"/public", "public", false},             //
		{"/PUBLIC/x", "", true},                  // was 404 before: no route as sent, public ignoring case
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, _, err := rs.resolve("GET", tt.path)
			if tt.ambig {
				if !errors.Is(err, errAmbiguousPath) {
					t.Fatalf("resolve(GET, %q): got rule %s, error %v, want errAmbiguousPath", tt.path, ruleName(r), err)
				}
				if !strings.HasPrefix(err.Error(), "path is ambiguous: ") {
					t.Errorf("got error text %q, want it to start with \"path is ambiguous: \"", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve(GET, %q): got error %v, want none", tt.path, err)
			}
			want := tt.wantRule
			if want == "" {
				want = "any"
			}
			if got := ruleName(r); got != want {
				t.Errorf("resolve(GET, %q): got rule %s, want %s", tt.path, got, want)
			}
		})
	}
}

// TestFoldLiterals: an upper-case literal must make lower-case paths try the
// case-insensitive reading too.
func TestFoldLiterals(t *testing.T) {
	rs := mustCompile(t, []Route{{Name: "strong", Path: "/Admin/**", Scopes: []string{"a"}}, {Name: "weak", Path: "/**"}})
	if _, _, err := rs.resolve("GET", "/admin/x"); !errors.Is(err, errAmbiguousPath) {
		t.Errorf("resolve(GET, /admin/x) with literal Admin: got error %v, want errAmbiguousPath", err)
	}
	rs = mustCompile(t, []Route{{Name: "strong", Path: "/keys/**", Scopes: []string{"a"}}, {Name: "weak", Path: "/**"}})
	if _, _, err := rs.resolve("GET", "/\u212Aeys/x"); !errors.Is(err, errAmbiguousPath) {
		t.Errorf("resolve(GET, /\u212Aeys/x) (Kelvin sign): got error %v, want errAmbiguousPath", err)
	}
}

func TestRoutePathRefusals(t *testing.T) {
	tests := []struct {
		raw  string
		want bool // accepted
	}{
		{"/a/b", true},
		{"/a%2Fb", false}, // an encoded slash alone, no dot segment
		{"/a%2fb", false},
		{"/a%5Cb", false},
		{"/%61dmin/users", false}, // encoded unreserved letter
		{"/admin%2Dx", false},
		{"/a%2eb", false},
		{"/a%7Eb", false},
		{"/a%2561", false},  // double encoding
		{"/a%c0%ae", false}, // overlong ".": not UTF-8
		{"/a%ff", false},
		{"/a%0a", false},
		{"/a%7f", false},
		{"/a%c2%85", false}, // NEL, a C1 control
		{"/a%00", false},
		{"/a/../b", false},
		{"/a/..;/b", false},
		{"/a//b", false},
		{"/a%20b", true},
		{"/caf%C3%A9", true},
		{"/users/alice%40example.com", true},
		{"/a;b=c/d", true},
		{"/100%25", true}, // a literal % not followed by hex digits
		{"/a/", true},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.raw)
			if err != nil {
				t.Fatalf("ParseRequestURI(%q): %v", tt.raw, err)
			}
			_, err = routePath(u)
			if got := err == nil; got != tt.want {
				t.Errorf("routePath(%q): got error %v, want accepted %v", tt.raw, err, tt.want)
			}
			if err != nil && !errors.Is(err, errBadPath) {
				t.Errorf("routePath(%q): got error %v, want errBadPath", tt.raw, err)
			}
		})
	}
}

func TestLiteralCharacters(t *testing.T) {
	for _, src := range []string{"/a;b", "/a b", "/caf\u00e9", "/a@b", "/$metadata", "/a:b"} {
		t.Run(src, func(t *testing.T) {
			if _, err := compilePattern(src); !errors.Is(err, errBadGlob) {
				t.Errorf("compilePattern(%q): got error %v, want errBadGlob", src, err)
			}
		})
	}
	if _, err := compilePattern("/Orders-2_x.~y/**"); err != nil {
		t.Errorf("compilePattern with unreserved characters: got %v, want none", err)
	}
}

func TestMethodOverrideNeedsAnyMethod(t *testing.T) {
	_, err := compile(Rules{Routes: []Route{{Path: "/a", Methods: []string{"POST"}, MethodOverride: true}}})
	if err == nil || !strings.Contains(err.Error(), "method_override") {
		t.Errorf("method_override with methods: got error %v, want one naming method_override", err)
	}
	if _, err := compile(Rules{Routes: []Route{{Path: "/a", MethodOverride: true}}}); err != nil {
		t.Errorf("method_override without methods: got error %v, want none", err)
	}
}

func TestResolveDoesNotAllocate(t *testing.T) {
	rs := mustCompile(t, resolveRules)
	paths := []string{"/orders/1/items", "/reports/7/refund", "/nowhere/at/all/", "/public/x", "/Admin", "/a;b/c"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			_, _, _ = rs.resolve("get", p)
		}
	})
	// Only the ambiguous path, /Admin, builds an error.
	if allocs > 1 {
		t.Errorf("resolve allocates %v times per run, want at most 1 (the ambiguity error)", allocs)
	}
	allocs = testing.AllocsPerRun(100, func() {
		for _, p := range paths[:4] {
			_, _, _ = rs.resolve("get", p)
		}
	})
	if allocs != 0 {
		t.Errorf("resolve allocates %v times per run on unambiguous paths, want 0", allocs)
	}
}

// refRule is the reference's view of one route.
type refRule struct {
	methods []string // upper case; empty: any
	exact   *regexp.Regexp
	folded  *regexp.Regexp
}

// refCompile turns a glob into anchored regular expressions over a path,
// written from the documented semantics rather than from the matcher.
func refCompile(r Route) refRule {
	var exact, folded strings.Builder
	exact.WriteString("^")
	folded.WriteString("^")
	for _, part := range strings.Split(r.Path[1:], "/") {
		switch part {
		case "**":
			exact.WriteString("(?:/[^/]*)*")
			folded.WriteString("(?:/[^/]*)*")
		case "*":
			exact.WriteString("/[^/]+")
			folded.WriteString("/[^/]+")
		default:
			exact.WriteString("/" + regexp.QuoteMeta(part))
			folded.WriteString("/" + regexp.QuoteMeta(strings.ToLower(part)))
		}
	}
	exact.WriteString("$")
	folded.WriteString("$")
	rr := refRule{exact: regexp.MustCompile(exact.String()), folded: regexp.MustCompile(folded.String())}
	for _, m := range r.Methods {
		rr.methods = append(rr.methods, strings.ToUpper(m))
		if strings.EqualFold(m, "GET") {
			rr.methods = append(rr.methods, "HEAD")
		}
	}
	return rr
}

// refRead applies a reading to a path: toggle the trailing slash, then cut
// ";" parameters and drop segments that were nothing but parameters.
func refRead(path string, toggle, strip bool) string {
	if toggle && path != "/" {
		if strings.HasSuffix(path, "/") {
			path = strings.TrimSuffix(path, "/")
		} else {
			path += "/"
		}
	}
	if !strip {
		return path
	}
	var out []string
	for _, seg := range strings.Split(path[1:], "/") {
		if before, _, found := strings.Cut(seg, ";"); found {
			if before == "" {
				continue
			}
			seg = before
		}
		out = append(out, seg)
	}
	if len(out) == 0 {
		return ""
	}
	return "/" + strings.Join(out, "/")
}

// refFold lower-cases p for comparison with lower-cased literals: each
// character whose simple upper-case mapping, or else lower-case mapping, is
// an ASCII letter becomes that letter in lower case.
func refFold(p string) string {
	return strings.Map(func(r rune) rune {
		if u := unicode.ToUpper(r); u <= unicode.MaxASCII {
			return unicode.ToLower(u)
		}
		if l := unicode.ToLower(r); l <= unicode.MaxASCII {
			return l
		}
		return r
	}, p)
}

// refResolve is resolve's documented behaviour: the index of the rule, -1
// for none, or an error. A rule is picked in eight ways (case folded or not,
// ";" parameters cut or not, the trailing "/" ignored or not), and all eight
// must agree.
func refResolve(rules []refRule, method, path string) (int, error) {
	if method == "" || strings.IndexFunc(method, func(r rune) bool {
		return r > 127 || !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r))
	}) >= 0 {
		return 0, errBadMethod
	}
	if up := strings.ToUpper(method); slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}, up) {
		method = up
	}
	pick := func(fold, either, strip bool) int {
		paths := []string{refRead(path, false, strip)}
		if either {
			paths = append(paths, refRead(path, true, strip))
		}
		re := func(r refRule) *regexp.Regexp { return r.exact }
		if fold {
			for i := range paths {
				paths[i] = refFold(paths[i])
			}
			re = func(r refRule) *regexp.Regexp { return r.folded }
		}
		for i, r := range rules {
			if len(r.methods) > 0 && !slices.Contains(r.methods, method) {
				continue
			}
			for _, p := range paths {
				if re(r).MatchString(p) {
					return i
				}
			}
		}
		return -1
	}
	first := pick(false, false, false)
	for _, fold := range []bool{false, true} {
		for _, either := range []bool{false, true} {
			for _, strip := range []bool{false, true} {
				if pick(fold, either, strip) != first {
					return 0, errAmbiguousPath
				}
			}
		}
	}
	return first, nil
}

// FuzzResolve checks resolve against refResolve over generated rule sets
// (one route a line: "[METHOD,METHOD ]/glob"), methods and paths.
func FuzzResolve(f *testing.F) {
	seeds := [][3]string{
		{"/admin/**\n/reports/*/refund\n/reports/**\n/**", "GET", "/ADMIN/users"},
		{"/admin/**\n/**", "get", "/admin;jsessionid=1/users"},
		{"/reports/*/refund\n/reports/**", "GET", "/reports/1/refund/"},
		{"POST,DELETE /orders/**\nGET /orders/**\n/**", "post", "/orders/1"},
		{"/Admin/**\n/**", "GET", "/admin"},
		{"/a/**/b/*\n/a/**", "PROPFIND", "/a/x/B/y;z/"},
		{"/s/**\n/**", "GET", "/\u017F/x"},
		{"/k\n/**", "GET", "/\u212A/"},
		{"/a/\n/a", "HEAD", "/a/;x"},
		{"/*/b\n/**", "GET", "/;x/b"},
		{"/\n/*", "GET", "/;"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, spec, method, path string) {
		var routes []Route
		for _, line := range strings.Split(spec, "\n") {
			r := Route{Path: line}
			if ms, p, ok := strings.Cut(line, " "); ok {
				r.Path, r.Methods = p, strings.Split(ms, ",")
			}
			routes = append(routes, r)
		}
		if len(routes) > 8 || len(path) > 128 {
			return
		}
		rs, err := compile(Rules{Routes: routes})
		if err != nil {
			return
		}
		if _, err := routePath(&url.URL{Path: path}); err != nil {
			return // resolve only sees paths routePath accepts
		}
		refs := make([]refRule, len(routes))
		for i, r := range routes {
			refs[i] = refCompile(r)
		}
		got, _, gotErr := rs.resolve(method, path)
		want, wantErr := refResolve(refs, method, path)
		if !errors.Is(gotErr, wantErr) || (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("resolve(%q, %q) over %q: got rule %s, error %v; reference says %d, error %v", method, path, spec, ruleName(got), gotErr, want, wantErr)
		}
		if gotErr != nil {
			return
		}
		gotIdx := -1
		for i := range rs.rules {
			if &rs.rules[i] == got {
				gotIdx = i
			}
		}
		if gotIdx != want {
			t.Fatalf("resolve(%q, %q) over %q: got rule %d, reference says %d", method, path, spec, gotIdx, want)
		}
	})
}

// TestExactRouteTrailingSlash: a route without a glob still serves its own
// spelling, and the other spelling, which lenient upstreams route to the
// same handler, is refused rather than left to no route or a later rule.
func TestExactRouteTrailingSlash(t *testing.T) {
	rs := mustCompile(t, []Route{{Name: "events", Path: "/events", Scopes: []string{"e"}}, {Name: "dir", Path: "/dir/", Scopes: []string{"d"}}})
	tests := []struct {
		path  string
		want  string
		ambig bool
	}{
		{"/events", "events", false},
		{"/events/", "", true},
		{"/dir/", "dir", false},
		{"/dir", "", true},
		{"/other", "<none>", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r, _, err := rs.resolve("GET", tt.path)
			if tt.ambig {
				if !errors.Is(err, errAmbiguousPath) {
					t.Errorf("resolve(GET, %q): got rule %s, error %v, want errAmbiguousPath", tt.path, ruleName(r), err)
				}
				return
			}
			if err != nil || ruleName(r) != tt.want {
				t.Errorf("resolve(GET, %q): got rule %s, error %v, want rule %s", tt.path, ruleName(r), err, tt.want)
			}
		})
	}
}
