package gateway

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"
)

// errBadPath is returned for request paths the gateway refuses to route.
var errBadPath = errors.New("request path is not in canonical form")

// routePath returns the path that rules are matched against, refusing
// anything an upstream might read differently from the gateway: dot
// segments (also Tomcat's "..;"), empty segments, backslashes, encoded
// slashes or backslashes, percent-encoded unreserved characters ("%61dmin"
// is "admin" to most upstreams and "%61dmin" to express, which routes on the
// raw path), a percent-encoding left after decoding (an upstream decoding
// twice would read another path), invalid UTF-8 and control characters.
// Rejecting instead of cleaning keeps the path that was matched identical
// to the path the upstream receives.
func routePath(u *url.URL) (string, error) {
	p := u.Path
	if p == "" || p[0] != '/' {
		return "", errBadPath
	}
	if u.RawPath != "" {
		// Only set when the escaped form differs from the default encoding,
		// e.g. for %2F or %61.
		if encodesUnsafe(u.RawPath) {
			return "", errBadPath
		}
	}
	if !utf8.ValidString(p) || hasControl(p) || strings.IndexByte(p, '\\') >= 0 || hasEscape(p) {
		return "", errBadPath
	}
	for pos := 1; pos <= len(p); {
		seg, next := nextSegment(p, pos)
		if seg == "" && next <= len(p) {
			return "", errBadPath // "//"
		}
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return "", errBadPath
		}
		pos = next
	}
	return p, nil
}

// encodesUnsafe reports whether the escaped path raw percent-encodes a "/"
// or "\" (one segment to the gateway, two to many upstreams) or an
// unreserved character (decoded before routing by some upstreams, not by
// others).
func encodesUnsafe(raw string) bool {
	for i := 0; i+2 < len(raw); i++ {
		if raw[i] != '%' {
			continue
		}
		c, ok := unhex2(raw[i+1], raw[i+2])
		if ok && (c == '/' || c == '\\' || unreserved(c)) {
			return true
		}
	}
	return false
}

// hasEscape reports whether the decoded path p still holds a
// percent-encoding ("%2561" decodes to "%61").
func hasEscape(p string) bool {
	for i := 0; i+2 < len(p); i++ {
		if p[i] == '%' {
			if _, ok := unhex2(p[i+1], p[i+2]); ok {
				return true
			}
		}
	}
	return false
}

// hasControl reports whether the valid UTF-8 string s holds a C0 or C1
// control character or DEL.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return true
		}
		// U+0080 to U+009F are encoded as 0xC2 0x80 to 0xC2 0x9F.
		if c == 0xc2 && i+1 < len(s) && s[i+1] <= 0x9f {
			return true
		}
	}
	return false
}

// unhex2 decodes two hex digits.
func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// containsFold reports whether s contains the ASCII lower-case substr in any case.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}
