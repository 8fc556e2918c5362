package gateway

import "testing"

// TestIsToken checks the RFC 9110 token test that /auth applies to the
// method its proxy describes, at each edge of its character ranges: the
// first and last letter and digit are in, their ASCII neighbours are out.
// (Kills the lived boundary mutants of isToken; see MUTATION.md.)
func TestIsToken(t *testing.T) {
	for _, s := range []string{"GET", "PATCH", "M-SEARCH", "A", "Z", "a", "z", "0", "9", "AZaz09", "!#$%&'*+-.^_`|~"} {
		if !isToken(s) {
			t.Errorf("isToken(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", "@", "[", "{", "/", ":", "GET ", "G\tET", "GE\x00T", "(GET)", "\"GET\"", "GÉT", "G,ET"} {
		if isToken(s) {
			t.Errorf("isToken(%q) = true, want false", s)
		}
	}
}
