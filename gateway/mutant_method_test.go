package gateway

import "testing"

// TestMethodTokenCharacters: a method is any HTTP token (RFC 9110 section
// 5.6.2), so each of the token's punctuation characters, the first of the
// list ("!") included, makes an extension method, alone or inside a name;
// the delimiters, space, controls and non-ASCII bytes do not.
func TestMethodTokenCharacters(t *testing.T) {
	for _, c := range "!#$%&'*+-.^_`|~" {
		for _, m := range []string{string(c), "M" + string(c) + "M", string(c) + "M"} {
			if got, ok := canonicalMethod(m); !ok || got != m {
				t.Errorf("canonicalMethod(%q) = %q, %v; want %q, true", m, got, ok, m)
			}
		}
	}
	for _, c := range "\"(),/:;<=>?@[\\]{} \t\x00\x7f\x80" {
		m := "M" + string(c)
		if c == 0x80 {
			m = "M\x80"
		}
		if got, ok := canonicalMethod(m); ok {
			t.Errorf("canonicalMethod(%q) = %q, true; want refused", m, got)
		}
	}
}
