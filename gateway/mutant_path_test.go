package gateway

import (
	"net/url"
	"testing"
)

// TestRoutePathEdges holds routePath's character edges: every hex digit's
// range ends in a percent-encoding of "/", "\" or an unreserved character
// (refused, also as the path's last three bytes), sub-delimiters encoded in
// a path that keeps its own encoding (accepted: "!%21" is not Go's encoding
// of "!!", so url.Parse keeps it as RawPath and each escape is decoded), control characters at
// the edges of C0, DEL and C1 (refused) beside the printable characters
// next to them (kept), a percent-encoding left after decoding (also after
// a character that is not a hex digit, or right after the first "/"), and
// an empty segment, also just before a trailing "/".
func TestRoutePathEdges(t *testing.T) {
	for _, tt := range []struct {
		raw string
		ok  bool
	}{
		{"/a%2F", false}, {"/a%2f", false}, {"/a%5C", false}, {"/a%5c", false},
		{"/a%30", false}, {"/a%39", false}, {"/a%41", false}, {"/a%5A", false}, {"/a%5a", false},
		{"/a%7E", false}, {"/a%2D", false},
		{"/a%20b", true}, {"/a%21", true}, {"/a!%21", true}, {"/a!%24%28%29%2A%3B", true}, {"/a%7B", true}, {"/a%2F/b", false}, {"/%2F", false},
		{"/a%1F", false}, {"/a%7F", false}, {"/a%C2%80", false}, {"/a%C2%9F", false}, {"/a%C2%A0", true},
		{"/a%00", false}, {"/a%2561", false}, {"/z%2561", false}, {"/%2561", false}, {"/a%25", true}, {"/a%252", true}, {"/a%25zz", true},
		{"/a;b", true}, {"/a/;x/..;/b", false}, {"/a//b", false}, {"/a/", true}, {"/a//", false}, {"/a/b//", false},
	} {
		u, err := url.Parse(tt.raw)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", tt.raw, err)
		}
		_, err = routePath(u)
		if (err == nil) != tt.ok {
			t.Errorf("routePath(%q): error %v, want ok %v", tt.raw, err, tt.ok)
		}
	}
}

// TestMethodParamAnywhere: a _method parameter is found in any case, also
// as the query's last characters, without a value, and percent-encoded so
// that "method" does not appear as such (also from the query's first byte).
func TestMethodParamAnywhere(t *testing.T) {
	for q, want := range map[string]bool{
		"_method": true, "a=1&_METHOD": true, "a=1;_method[]=PUT": true, "_method=GET": true, "%5Fmethod=GET": true,
		"%5F%6Dethod=PUT": true, "a=1&%5F%6D%65thod": true,
		"a=method": false, "method": false, "a=1": false, "": false,
	} {
		if got := hasMethodParam(q); got != want {
			t.Errorf("hasMethodParam(%q) = %v, want %v", q, got, want)
		}
	}
}
