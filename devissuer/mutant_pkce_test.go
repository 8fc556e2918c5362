package devissuer

import (
	"strings"
	"testing"
)

// TestValidVerifierEdges holds RFC 7636 section 4.1's code_verifier
// syntax at its edges: 43 and 128 characters are accepted, 42 and 129 not;
// the first and last character of each letter and digit range and each of
// "-._~" are accepted, and the characters beside those ranges are not.
func TestValidVerifierEdges(t *testing.T) {
	pad := func(s string) string { return s + strings.Repeat("a", 43-len(s)) }
	for _, v := range []string{
		strings.Repeat("a", 43), strings.Repeat("a", 128),
		pad("A"), pad("Z"), pad("a"), pad("z"), pad("0"), pad("9"), pad("-._~"),
	} {
		if !validVerifier(v) {
			t.Errorf("validVerifier(%q) = false, want true", v)
		}
	}
	for _, v := range []string{
		"", strings.Repeat("a", 42), strings.Repeat("a", 129),
		pad("@"), pad("["), pad("`"), pad("{"), pad("/"), pad(":"), pad("+"), pad("="), pad(" "), pad("\x7f"),
	} {
		if validVerifier(v) {
			t.Errorf("validVerifier(%q) = true, want false", v)
		}
	}
}
