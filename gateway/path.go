package gateway

import (
	"errors"
	"net/url"
	"strings"
)

// errBadPath is returned for request paths the gateway refuses to route.
var errBadPath = errors.New("request path is not in canonical form")

// routePath returns the path that rules are matched against, refusing
// anything an upstream might read differently from the gateway: dot
// segments (also Tomcat's "..;"), empty segments, backslashes, NUL, and
// encoded slashes or backslashes. Rejecting instead of cleaning keeps the
// path that was matched identical to the path the upstream receives.
func routePath(u *url.URL) (string, error) {
	p := u.Path
	if p == "" || p[0] != '/' {
		return "", errBadPath
	}
	if u.RawPath != "" {
		// Only set when the escaped form differs from the default encoding,
		// e.g. for %2F. An encoded "/" or "\" would be one segment to the
		// gateway and two to many upstreams.
		raw := u.RawPath
		if containsFold(raw, "%2f") || containsFold(raw, "%5c") {
			return "", errBadPath
		}
	}
	if strings.ContainsAny(p, "\\\x00") {
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

// containsFold reports whether s contains the ASCII lower-case substr in any case.
func containsFold(s, substr string) bool {
	for i := 0; i+len(substr) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(substr)], substr) {
			return true
		}
	}
	return false
}
