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

// TestASCIILine: the JSON refusal copied into a header by /auth (auth_proxy
// nginx) keeps printable ASCII and escapes everything else, DEL included,
// so no control byte reaches a header. (Kills the lived mutant c <= 0x7f of
// asciiLine; see MUTATION.md.)
func TestASCIILine(t *testing.T) {
	tests := []struct{ in, want string }{
		{`  {"error":"invalid_token"} `, `{"error":"invalid_token"}`},
		{" ~!", "~!"},
		{"a\x7fb", `a\u007fb`},
		{"a\x1fb", `a\u001fb`},
		{"a\tb\nc", `a\u0009b\u000ac`},
		{"é", `\u00e9`},
		{"\U0001F600", `\ud83d\ude00`},
	}
	for _, tt := range tests {
		if got := asciiLine([]byte(tt.in)); got != tt.want {
			t.Errorf("asciiLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
