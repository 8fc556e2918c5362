package login

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzReturnTo checks that any return_to that safeReturnTo accepts stays
// on this site when a browser resolves it, before or after one more round
// of percent-decoding.
func FuzzReturnTo(f *testing.F) {
	for _, s := range []string{
		"/profile", "/a?b=c#d", "//evil.example", `/\evil.example`, "/%2F%2Fevil", "/%5Cevil", "/%09/x",
		"https://evil.example", "javascript:alert(1)", "/\t/evil", "/x\r\nLocation: //evil", "/%zz", "/é",
		"/.//evil.example", "/..//evil.example", "/%2e%2e//evil", "/ok/../..//evil",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/base/")
	f.Fuzz(func(t *testing.T, s string) {
		if !safeReturnTo(s) {
			return
		}
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\t\r\n ") {
			t.Fatalf("accepted %q", s)
		}
		for _, v := range []string{s, mustUnescape(t, s)} {
			u, err := base.Parse(v)
			if err != nil {
				t.Fatalf("accepted %q, which does not resolve: %v", v, err)
			}
			if u.Scheme != "https" || u.Host != "app.example" || u.User != nil {
				t.Fatalf("accepted %q, which resolves to %s", s, u)
			}
		}
	})
}

func mustUnescape(t *testing.T, s string) string {
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatalf("accepted %q, which does not unescape: %v", s, err)
	}
	return u
}

func TestLoops(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/login", true},
		{"/login?return_to=/x", true},
		{"/login/callback?state=x", true},
		{"/logout/callback", true},
		{"/loginx", false},
		{"/profile", false},
		{"/secure-data?x=/login", false},
	}
	for _, tt := range tests {
		if got := loops(tt.path); got != tt.want {
			t.Errorf("loops(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}
