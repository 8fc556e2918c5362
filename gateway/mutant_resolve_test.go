package gateway

import "testing"

// TestAmbiguityNamesItsReading: the 400 for an ambiguous path says which
// way of reading it picks another rule, and that is the simplest such way:
// resolve tries one change at a time (case, ";" parameters, trailing "/")
// before their combinations, so an operator reading the refusal learns the
// one difference that matters.
func TestAmbiguityNamesItsReading(t *testing.T) {
	rs := mustCompile(t, []Route{
		{Name: "strong", Path: "/admin/**", Scopes: []string{"a"}},
		{Name: "exact", Path: "/exact", Scopes: []string{"a"}},
		{Name: "weak", Path: "/**"},
	})
	for path, how := range map[string]string{
		"/ADMIN/x":   "ignoring case",
		"/admin;x/y": "without ; parameters",
		"/ADMIN;x/y": "ignoring case and without ; parameters",
		"/exact/":    "with or without a trailing /",
		"/EXACT/":    "ignoring case and with or without a trailing /",
		"/exact;x/":  "without ; parameters and with or without a trailing /",
	} {
		want := `path is ambiguous: as sent it matches route "weak", read ` + how + ` it matches route "strong"`
		if path == "/exact/" || path == "/EXACT/" || path == "/exact;x/" {
			want = `path is ambiguous: as sent it matches route "weak", read ` + how + ` it matches route "exact"`
		}
		_, _, err := rs.resolve("GET", path)
		if err == nil || err.Error() != want {
			t.Errorf("resolve(GET, %q): error %v, want %q", path, err, want)
		}
	}
}
