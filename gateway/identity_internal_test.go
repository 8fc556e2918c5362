package gateway

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// FuzzIdentityRoundTrip checks the property upstreams rely on for any
// names, valid UTF-8 or not: splitting a joined list header on its
// separator and percent-decoding each part gives back the names, and the
// header holds printable ASCII only.
func FuzzIdentityRoundTrip(f *testing.F) {
	for _, seed := range [][2]string{
		{"Sales, Admins", "Ops"}, {"100%", "%2C"}, {"a+b", "a b"}, {"\r\n", "\x00"}, {"\xff\xfe", "é"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		names := []string{a, b}
		for _, sep := range []byte{',', ' '} {
			h := joinIdentity(names, sep)
			var got []string
			for part := range strings.SplitSeq(h, string(sep)) {
				name, err := url.PathUnescape(part)
				if err != nil {
					t.Fatalf("part %q of %q: %v", part, h, err)
				}
				got = append(got, name)
			}
			if !slices.Equal(got, names) {
				t.Fatalf("joinIdentity(%q, %q) = %q, decoded %q", names, sep, h, got)
			}
			for i := 0; i < len(h); i++ {
				if h[i] <= ' ' && h[i] != sep || h[i] > '~' {
					t.Fatalf("joinIdentity(%q, %q) = %q holds byte %#x", names, sep, h, h[i])
				}
			}
		}
		if got, err := url.QueryUnescape(encodeIdentity(a)); err != nil || got != a {
			t.Fatalf("url.QueryUnescape(encodeIdentity(%q)) = %q, %v", a, got, err)
		}
	})
}
