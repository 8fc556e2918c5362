package gateway

import (
	"net/http"
	"strings"

	"github.com/apiguard/apiguard"
)

// Identity headers the gateway sends upstream (and answers /auth with).
// Any inbound header with the X-Auth- prefix is removed first.
//
// # Encoding
//
// Each value, and each element of a list, is percent-encoded: every byte
// other than the letters A–Z and a–z, the digits 0–9 and the characters
// - . _ ~ : / @ is written as %XX, two upper-case hex digits of the byte
// (non-ASCII characters as their UTF-8 bytes). Commas, spaces, '%', '+',
// quotes, backslashes, control characters and non-ASCII text are thus
// never sent as they are, so:
//
//   - X-Auth-Scopes is split on single spaces and X-Auth-Groups on commas,
//     and each element is then percent-decoded (Go: url.PathUnescape,
//     JavaScript: decodeURIComponent, Python: urllib.parse.unquote). Both
//     steps together yield exactly the names in the token: a group named
//     "Sales, Admins" is sent as "Sales%2C%20Admins", never as the two
//     groups "Sales" and "Admins".
//   - X-Auth-Subject, X-Auth-Client-Id and X-Auth-Issuer are
//     percent-decoded whole.
//
// Names made only of the characters above (user@example.com, api:read,
// 00u1a2b3c) are sent unchanged, and decoding them is a no-op. Decoders
// that also turn '+' into a space (url.QueryUnescape) decode the same,
// since '+' is always encoded.
const (
	HeaderSubject  = "X-Auth-Subject"   // the token's sub, encoded
	HeaderClientID = "X-Auth-Client-Id" // cid / client_id / azp, encoded
	HeaderScopes   = "X-Auth-Scopes"    // granted scopes, each encoded, space-separated
	HeaderGroups   = "X-Auth-Groups"    // groups, each encoded, comma-separated
	// HeaderIssuer is the iss of the verified token, encoded: subjects are
	// unique per issuer only, so an upstream behind a gateway of several
	// issuers keys its users by issuer and subject together.
	HeaderIssuer = "X-Auth-Issuer"
)

// setIdentity adds the identity headers for claims (none when nil), each
// value encoded as the doc comment of the header names says.
func setIdentity(h http.Header, c *apiguard.Claims) {
	if c != nil {
		setIdentityHeaders(h, c, false)
	}
}

// setIdentityHeaders sets the identity headers of c (nil for none) in h,
// all their values in one allocation rather than a slice per header
// (issue 16). For an /auth answer (auth) every identity header is set,
// empty when unknown unless h already has it, and Cache-Control: no-store
// with them. Each value's slice has no room to append, so a later Add
// copies it instead of writing into its neighbour.
func setIdentityHeaders(h http.Header, c *apiguard.Claims, auth bool) {
	vals := new([len(identityHeaders) + 1]string)
	var known [len(identityHeaders)]bool
	if c != nil {
		vals[0], known[0] = encodeIdentity(c.Issuer), c.Issuer != ""
		vals[1], known[1] = encodeIdentity(c.Subject), c.Subject != ""
		vals[2], known[2] = encodeIdentity(c.ClientID), c.ClientID != ""
		vals[3], known[3] = joinIdentity(c.Scopes, ' '), len(c.Scopes) > 0
		vals[4], known[4] = joinIdentity(c.Groups, ','), len(c.Groups) > 0
	}
	for i, k := range identityHeaders {
		if known[i] {
			h[k] = vals[i : i+1 : i+1]
		} else if _, ok := h[k]; auth && !ok {
			h[k] = vals[i : i+1 : i+1]
		}
	}
	if auth {
		vals[len(identityHeaders)] = "no-store"
		h["Cache-Control"] = vals[len(identityHeaders):]
	}
}

// joinIdentity encodes each element of names and joins them with sep, which
// encodeIdentity never leaves as it is.
func joinIdentity(names []string, sep byte) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return encodeIdentity(names[0])
	}
	n := len(names) - 1
	for _, s := range names {
		n += len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range names {
		if i > 0 {
			b.WriteByte(sep)
		}
		writeIdentity(&b, s)
	}
	return b.String()
}

// encodeIdentity percent-encodes every byte of s that is not literal (see
// literalIdentity); s itself when there is none.
func encodeIdentity(s string) string {
	if !needsEncoding(s) {
		return s
	}
	var b strings.Builder
	writeIdentity(&b, s)
	return b.String()
}

func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if !literalIdentity(s[i]) {
			return true
		}
	}
	return false
}

// writeIdentity writes s to b with every byte that is not literal as %XX.
func writeIdentity(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	if !needsEncoding(s) {
		b.WriteString(s)
		return
	}
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		if c := s[i]; literalIdentity(c) {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xF])
		}
	}
}

// literalIdentity reports whether c is sent as it is in an identity header:
// RFC 3986's unreserved characters and ':', '/' and '@', which appear in
// e-mail subjects and URL scopes. No separator, '%', '+' or byte outside
// printable ASCII is.
func literalIdentity(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', ':', '/', '@':
		return true
	}
	return false
}
