package session

import "testing"

// TestCookieNameEdges: a cookie name is an RFC 6265 token, so DEL (0x7f)
// and a space are refused like any control character, while '~' (0x7e)
// and '!' (0x21), their neighbours, are fine. (Kills the lived mutant
// r > 0x7f of validCookieName; see MUTATION.md.)
func TestCookieNameEdges(t *testing.T) {
	for _, name := range []string{"a\x7fb", "a b", "a\x1fb", "a\x80b", "é"} {
		if _, err := New(Config{Store: NewMemoryStore(MemoryConfig{}), CookieName: name}); err == nil {
			t.Errorf("cookie name %q: got nil error, want one", name)
		}
	}
	for _, name := range []string{"a~b", "a!b", "~", "!"} {
		if _, err := New(Config{Store: NewMemoryStore(MemoryConfig{}), CookieName: name}); err != nil {
			t.Errorf("cookie name %q: %v, want it accepted", name, err)
		}
	}
}
