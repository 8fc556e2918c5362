package login

import (
	"net/url"
	"strings"
	"unicode"
)

// maxReturnTo bounds the length of return_to.
const maxReturnTo = 2048

// safeReturnTo reports whether s is a path on this site that is safe to
// redirect to: it starts with one "/" (not "//" or "/\"), holds no
// backslash, whitespace or control character, and still does after one more
// round of percent-decoding, and parses, decoded or not, as a path with no
// scheme or host.
func safeReturnTo(s string) bool {
	if s == "" || len(s) > maxReturnTo || !localPath(s) {
		return false
	}
	dec, err := url.PathUnescape(s)
	if err != nil || !localPath(dec) {
		return false
	}
	for _, v := range []string{s, dec} {
		u, err := url.Parse(v)
		if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
			return false
		}
	}
	return true
}

func localPath(s string) bool {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsRune(s, '\\') {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// loops reports whether p is one of the login routes, which make no sense
// as a place to return to after login.
func loops(p string) bool {
	path, _, _ := strings.Cut(p, "?")
	for _, r := range []string{"/login", "/logout"} {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}
