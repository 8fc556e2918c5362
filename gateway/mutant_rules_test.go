package gateway

import "testing"

// TestNeedsFoldEdges: a path needs the case-insensitive reading when it
// holds an ASCII upper-case letter (A and Z included) or any non-ASCII
// byte (0x80 included), and not for the characters beside those ranges.
func TestNeedsFoldEdges(t *testing.T) {
	for path, want := range map[string]bool{
		"/A": true, "/Z": true, "/\x80": true, "/\xff": true, "/é": true,
		"/@": false, "/[": false, "/\x7f": false, "/az09-._~": false,
	} {
		if got := needsFold(path); got != want {
			t.Errorf("needsFold(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestCanonicalMethodLongest: the standard methods of seven letters, the
// longest, and those with an "a", are recognised in any case like the
// others; a longer token is an extension method kept as sent.
func TestCanonicalMethodLongest(t *testing.T) {
	for in, want := range map[string]string{
		"options": "OPTIONS", "Options": "OPTIONS", "connect": "CONNECT", "patch": "PATCH", "trace": "TRACE",
		"head": "HEAD", "delete": "DELETE", "optionsx": "optionsx", "PROPFIND": "PROPFIND", "propfind": "propfind",
	} {
		if got, ok := canonicalMethod(in); !ok || got != want {
			t.Errorf("canonicalMethod(%q) = %q, %v; want %q, true", in, got, ok, want)
		}
	}
}
