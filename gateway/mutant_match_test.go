package gateway

import "testing"

// TestLiteralCharacterEdges: a rule's literal segment may hold each end of
// the ASCII letter and digit ranges; their neighbours are refused.
func TestLiteralCharacterEdges(t *testing.T) {
	for _, ok := range []string{"/a", "/z", "/A", "/Z", "/0", "/9", "/-._~"} {
		if _, err := compilePattern(ok); err != nil {
			t.Errorf("compilePattern(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"/`", "/{", "/@", "/[", "/:", "/!", "/a b"} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("compilePattern(%q) succeeded, want an error", bad)
		}
	}
}

// TestFoldedLiteralEdges: read case-insensitively, a literal's upper-case
// letters, Z included, match either case; other characters do not fold.
func TestFoldedLiteralEdges(t *testing.T) {
	fold := reading{fold: true}
	for _, tt := range []struct {
		pat, path string
		want      bool
	}{
		{"/Zz", "/zz", true},
		{"/Zz", "/ZZ", true},
		{"/AZ", "/az", true},
		{"/zA", "/ZA", true},
		{"/Z", "/[", false},
		{"/Z", "/z0", false},
	} {
		p, err := compilePattern(tt.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.matchAs(tt.path, fold); got != tt.want {
			t.Errorf("%q read case-insensitively against %q: got %v, want %v", tt.pat, tt.path, got, tt.want)
		}
	}
}

// TestGlobBacktracksWholeSegments: when "**" takes one more path segment it
// takes a whole one: "/**/b" does not match "/ab" (the tail of a segment),
// and matches "/a/b".
func TestGlobBacktracksWholeSegments(t *testing.T) {
	for _, tt := range []struct {
		pat, path string
		want      bool
	}{
		{"/**/b", "/ab", false},
		{"/**/b", "/a/b", true},
		{"/**/b", "/xa/ab", false},
		{"/x/**/b/c", "/x/ab/c", false},
		{"/x/**/b/c", "/x/a/b/c", true},
	} {
		p, err := compilePattern(tt.pat)
		if err != nil {
			t.Fatal(err)
		}
		for _, rd := range []reading{{}, {fold: true}, {strip: true}} {
			if got := p.matchAs(tt.path, rd); got != tt.want {
				t.Errorf("%q against %q read as %+v: got %v, want %v", tt.pat, tt.path, rd, got, tt.want)
			}
		}
	}
}

// TestASCIILineFirstSupplementary: U+10000, the first character beyond the
// Basic Multilingual Plane, is escaped as a surrogate pair as JSON spells it.
func TestASCIILineFirstSupplementary(t *testing.T) {
	for in, want := range map[string]string{
		"\"\U00010000\"": `"\ud800\udc00"`,
		"\"\uffff\"":     `"\uffff"`,
	} {
		if got := asciiLine([]byte(in)); got != want {
			t.Errorf("asciiLine(%q) = %q, want %q", in, got, want)
		}
	}
}
