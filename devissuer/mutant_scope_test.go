package devissuer

import "testing"

// TestValidScopeTokenEdges holds RFC 6749 section 3.3's scope-token at its
// edges: "!" (0x21) and "~" (0x7e) are allowed, their neighbours space and
// DEL are not, nor are '"', '\' and the empty token.
func TestValidScopeTokenEdges(t *testing.T) {
	for s, want := range map[string]bool{
		"!": true, "~": true, "api:read": true, "#$[]^`{|}": true,
		"": false, " ": false, "a b": false, "\x7f": false, "a\x80": false, `"`: false, `a\b`: false,
	} {
		if got := validScopeToken(s); got != want {
			t.Errorf("validScopeToken(%q) = %v, want %v", s, got, want)
		}
	}
}
