package login

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzReturnTo checks safeReturnTo both ways. Anything it accepts stays
// on this site when a browser resolves it, before or after one more round
// of percent-decoding. Anything that fails an independent description of
// a safe path is refused: no leading "//" or "/\", no backslash, no
// control character or whitespace (Unicode's too), no invalid UTF-8 or bad
// escape, raw or once decoded. And a plain path built from the input's
// letters, digits and slashes is accepted, so the check cannot pass by
// refusing everything.
func FuzzReturnTo(f *testing.F) {
	for _, s := range []string{
		"/profile", "/a?b=c#d", "//evil.example", `/\evil.example`, "/%2F%2Fevil", "/%5Cevil", "/%09/x",
		"https://evil.example", "javascript:alert(1)", "/\t/evil", "/x\r\nLocation: //evil", "/%zz", "/é",
		"/.//evil.example", "/..//evil.example", "/%2e%2e//evil", "/ok/../..//evil",
		"/%20/evil.example", "/%0a/evil.example", "/%2f/evil.example", "/%5c/evil.example", "/%5C%5Cevil.example",
		"/a%00b", "/a\x7fb", "/a%7fb", "\t/x", " /x", "/x ", "/\u00a0x", "/%C2%A0x", "/\u2028x", "/%E2%80%A8x",
		"/\u200bx", "/\ufeffx", "/\xff", "/%ff", "/\ufffd", "/" + strings.Repeat("a", maxReturnTo),
		"/docs/v1.2/~user/a-b_c", "/a?next=//evil.example",
	} {
		f.Add(s)
	}
	base, _ := url.Parse("https://app.example/base/")
	f.Fuzz(func(t *testing.T, s string) {
		ok := safeReturnTo(s)
		if why := unsafeReturnTo(s); why != "" && ok {
			t.Fatalf("safeReturnTo(%q) = true, want false: %s", short(s), why)
		}
		if plain := plainPath(s); !safeReturnTo(plain) {
			t.Fatalf("safeReturnTo(%q) = false for the plain path made from %q, want true", short(plain), short(s))
		}
		if !ok {
			return
		}
		dec, err := url.PathUnescape(s)
		if err != nil {
			t.Fatalf("accepted %q, which does not unescape: %v", s, err)
		}
		for _, v := range []string{s, dec} {
			u, err := base.Parse(asBrowser(v))
			if err != nil {
				t.Fatalf("accepted %q, which does not resolve: %v", v, err)
			}
			if u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil {
				t.Fatalf("accepted %q, which a browser resolves to %s", s, u)
			}
		}
	})
}

// unsafeReturnTo says why s is not a safe return_to, or "" if it may be;
// it is written apart from safeReturnTo, to check it.
func unsafeReturnTo(s string) string {
	if s == "" || len(s) > maxReturnTo {
		return "empty or too long"
	}
	dec, err := url.PathUnescape(s)
	if err != nil {
		return "bad percent-escape"
	}
	for _, v := range []string{s, dec} {
		switch {
		case !strings.HasPrefix(v, "/"):
			return "not a path from the root"
		case strings.HasPrefix(v, "//"):
			return "scheme-relative"
		case strings.Contains(v, "\\"):
			return "backslash (a browser reads it as /)"
		case !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError):
			return "invalid UTF-8"
		case strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f || unicode.In(r, unicode.White_Space, unicode.Cc) }) >= 0:
			return "control character or whitespace"
		}
	}
	return ""
}

// short cuts s for a failure message.
func short(s string) string {
	if len(s) <= 100 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:80], len(s))
}

// plainPath builds from s a path of letters, digits and single slashes.
func plainPath(s string) string {
	var b strings.Builder
	b.WriteString("/p")
	for _, r := range s {
		switch {
		case r == '/' && !strings.HasSuffix(b.String(), "/"):
			b.WriteRune(r)
		case r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
		}
		if b.Len() >= maxReturnTo {
			break
		}
	}
	return b.String()
}

// asBrowser does to v what a browser's URL parser does before resolving
// it (WHATWG URL): strip leading and trailing C0 controls and spaces,
// drop tabs and newlines anywhere, and read a backslash as a slash.
func asBrowser(v string) string {
	v = strings.TrimFunc(v, func(r rune) bool { return r <= ' ' })
	v = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(v)
	return v
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
