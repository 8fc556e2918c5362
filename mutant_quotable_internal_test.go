package apiguard

import (
	"strings"
	"testing"
)

// TestQuotableEdges: a WWW-Authenticate parameter keeps RFC 6750's quoted
// characters (space to ~ but " and \; " becomes ') and is cut to 200 bytes.
// (Kills middleware.go's b.Len() < maxLen → <=; see MUTATION.md.)
func TestQuotableEdges(t *testing.T) {
	long := strings.Repeat("x", 300)
	for in, want := range map[string]string{
		long:                      long[:200],
		long[:200]:                long[:200],
		long[:199] + `"y`:         long[:199] + "'",
		" !#[]~":                  " !#[]~",
		"a\x1fb\x7fc\\d\"e\u00e9": "abcd'e",
	} {
		if got := quotable(in); got != want {
			t.Errorf("quotable of %d bytes ending %q: got %d bytes ending %q, want %d ending %q",
				len(in), in[max(0, len(in)-8):], len(got), got[max(0, len(got)-8):], len(want), want[max(0, len(want)-8):])
		}
	}
}
