package gateway

import (
	"errors"
	"net/url"
	"path"
	"strings"
	"testing"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern string
		path    string
		want    bool
	}{
		{"/", "/", true},
		{"/", "/a", false},
		{"/a", "/a", true},
		{"/a", "/a/", false},
		{"/a", "/ab", false},
		{"/a/", "/a/", true},
		{"/a/", "/a", false},
		{"/*", "/a", true},
		{"/*", "/", false},
		{"/*", "/a/b", false},
		{"/a/*", "/a/b", true},
		{"/a/*", "/a/", false},
		{"/a/*", "/a", false},
		{"/a/*/c", "/a/b/c", true},
		{"/a/*/c", "/a/b/b/c", false},
		{"/**", "/", true},
		{"/**", "/a/b/c", true},
		{"/a/**", "/a", true},
		{"/a/**", "/a/", true},
		{"/a/**", "/a/b/c", true},
		{"/a/**", "/ab", false},
		{"/a/**", "/b/a", false},
		{"/**/c", "/c", true},
		{"/**/c", "/a/b/c", true},
		{"/**/c", "/a/b/c/d", false},
		{"/a/**/c/*", "/a/c/d", true},
		{"/a/**/c/*", "/a/x/c/y/c/d", true},
		{"/a/**/c/*", "/a/x/c/y/c", false},
		{"/a/**/b/**/c", "/a/b/c", true},
		{"/a/**/b/**/c", "/a/x/b/y/z/c", true},
		{"/a/**/b/**/c", "/a/x/c/b", false},
		{"/*/**", "/", false},
		{"/*/**", "/a", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+" "+tt.path, func(t *testing.T) {
			p, err := compilePattern(tt.pattern)
			if err != nil {
				t.Fatalf("compilePattern(%q): %v", tt.pattern, err)
			}
			if got := p.match(tt.path); got != tt.want {
				t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
			if got := refMatch(p.segs, strings.Split(tt.path[1:], "/")); got != tt.want {
				t.Errorf("reference match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
			}
		})
	}
}

func TestCompilePatternErrors(t *testing.T) {
	for _, src := range []string{"", "a/b", "/a//b", "/a*", "/a/b**", "/**/**", "/a/**/", "/a/../b", "/./a", "/a?b", "/a%2Fb", `/a\b`} {
		t.Run(src, func(t *testing.T) {
			if _, err := compilePattern(src); !errors.Is(err, errBadGlob) {
				t.Errorf("compilePattern(%q): got error %v, want errBadGlob", src, err)
			}
		})
	}
}

// refMatch is the obvious recursive definition the matcher must agree with.
func refMatch(pat []segment, path []string) bool {
	if len(pat) == 0 {
		return len(path) == 0
	}
	switch pat[0].kind {
	case segGlob:
		for i := 0; i <= len(path); i++ {
			if refMatch(pat[1:], path[i:]) {
				return true
			}
		}
		return false
	case segStar:
		return len(path) > 0 && path[0] != "" && refMatch(pat[1:], path[1:])
	default:
		return len(path) > 0 && path[0] == pat[0].lit && refMatch(pat[1:], path[1:])
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	rs, err := compile(Rules{Routes: []Route{
		{Path: "/public/**", Public: true},
		{Path: "/orders/*/items", Methods: []string{"GET"}},
		{Path: "/orders/**", Methods: []string{"GET"}},
		{Path: "/a/**/b/**/c"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	paths := []string{"/orders/1/items", "/a/x/b/y/z/c", "/nowhere/at/all", "/public/x"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range paths {
			rs.match("GET", p)
		}
	})
	if allocs != 0 {
		t.Errorf("match allocates %v times per run, want 0", allocs)
	}
}

// FuzzMatch checks the matcher against the recursive reference definition.
func FuzzMatch(f *testing.F) {
	f.Add("/a/**/c/*", "/a/x/c/y/c/d")
	f.Add("/**", "/")
	f.Add("/orders/*/items", "/orders/1/items")
	f.Fuzz(func(t *testing.T, pat, path string) {
		p, err := compilePattern(pat)
		if err != nil {
			return
		}
		if len(p.segs) > 12 || len(path) > 256 {
			return // keep the exponential reference cheap
		}
		if path == "" || path[0] != '/' {
			if p.match(path) {
				t.Fatalf("match(%q, %q) = true for a path without a leading /", pat, path)
			}
			return
		}
		got := p.match(path)
		if want := refMatch(p.segs, strings.Split(path[1:], "/")); got != want {
			t.Fatalf("match(%q, %q) = %v, reference says %v", pat, path, got, want)
		}
	})
}

// FuzzRoutePath checks that every path the gateway routes is already clean:
// what the rules saw is what an upstream that cleans paths will see.
func FuzzRoutePath(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/../b", "/a/./b", "/a//b", "/a/", "/", "/a/..;/b", "/%2e%2e/a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			return
		}
		p, err := routePath(u)
		if err != nil {
			return
		}
		clean := path.Clean(p)
		if p != clean && p != clean+"/" {
			t.Fatalf("routePath(%q) accepted %q, which cleans to %q", raw, p, clean)
		}
	})
}

// BenchmarkMatch is the rule lookup alone, for a first, a late and a missing
// match: `go test -bench Match ./gateway`.
func BenchmarkMatch(b *testing.B) {
	rs, err := compile(Rules{Routes: []Route{
		{Path: "/public/**", Public: true},
		{Path: "/orders/*/items", Methods: []string{"GET"}},
		{Path: "/orders/**", Methods: []string{"GET"}},
		{Path: "/orders/**", Methods: []string{"POST", "PUT", "DELETE"}},
		{Path: "/admin/**"},
		{Path: "/a/**/b/**/c"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"/public/x", "/a/x/b/y/z/c", "/nowhere/at/all"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rs.match("GET", p)
			}
		})
	}
}

// BenchmarkResolve is the whole rule lookup a request pays for, including
// the readings resolve compares, for common paths (which skip folding and
// stripping) and for paths that need them: `go test -bench Resolve ./gateway`.
func BenchmarkResolve(b *testing.B) {
	rs, err := compile(Rules{Routes: []Route{
		{Path: "/public/**", Public: true},
		{Path: "/orders/*/items", Methods: []string{"GET"}},
		{Path: "/orders/**", Methods: []string{"GET"}},
		{Path: "/orders/**", Methods: []string{"POST", "PUT", "DELETE"}},
		{Path: "/admin/**"},
		{Path: "/a/**/b/**/c"},
	}})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []string{"/public/x", "/a/x/b/y/z/c", "/nowhere/at/all", "/orders/1/Items", "/orders/1;v=2/items"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _, _ = rs.resolve("GET", p)
			}
		})
	}
}
