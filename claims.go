package apiguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/apiguard/apiguard/internal/numericdate"
)

// Claims are the verified claims of a token. A Claims value returned by
// [Verifier.Verify] may be shared between requests (the verified-token cache
// hands out the same value for the same token): treat it as read-only.
//
// Each field is read from the claim of exactly the name given beside it:
// claim names are case-sensitive (RFC 7519 §4), so "Groups", "SCP" or
// "Exp" fill nothing. A token naming any member twice is refused as
// [ErrMalformed].
type Claims struct {
	Issuer string // iss
	// IssuerName is the [Config.Name] of the issuer that verified the
	// token (empty when it has none): with an [Issuers], which issuer it
	// was. It is set by the verifier, never read from the token.
	IssuerName string
	Subject    string    // sub
	Audience   []string  // aud, a string or an array in the token
	Expiry     time.Time // exp
	// NotBefore, IssuedAt and AuthTime are zero when the claim is absent.
	NotBefore time.Time // nbf
	IssuedAt  time.Time // iat
	AuthTime  time.Time // auth_time
	ID        string    // jti
	// Version is Okta's ver claim (or any provider's), as text.
	Version string
	// ClientID is the client the token was issued to: cid (Okta),
	// client_id (RFC 9068) or azp (OIDC), the first one present.
	ClientID string
	UserID   string // uid (Okta)
	// Scopes come from scp (an array, or a space-separated string) or from
	// scope (a space-separated string, RFC 9068).
	Scopes []string
	Groups []string // groups
	Nonce  string   // nonce (ID tokens)
	// Confirmed reports a cnf claim (RFC 7800): the token is bound to a
	// key or certificate and is not a bearer token. JKT is cnf.jkt, the
	// SHA-256 thumbprint of the DPoP key it is bound to (RFC 9449 §6).
	Confirmed bool
	// rawB64 says that raw is the payload in base64url, as it is in the
	// token (a slice of the verified-token cache's copy of it), rather
	// than the JSON itself: see payload.
	rawB64 bool
	// slot is the index, in the Issuers that made it, of the verifier
	// that checked the claims (0 for a Verifier of its own): an entry of
	// a verified-token cache that several verifiers share counts only for
	// its own (see Verifier.verifyJWT), and an Issuers finds that one
	// without a search. It sits in padding: Claims is no larger for it.
	slot uint32
	JKT  string

	// raw is the verified payload, as signed. A string, not a slice: the
	// struct then fits its allocator size class (352 bytes) with rawB64.
	raw string
}

// payload returns the verified payload's JSON. For claims in the
// verified-token cache it is decoded from the cached token on each call:
// keeping it decoded as well would cost every cached token the payload's
// size again (a 256-byte allocation for an Okta-shaped token), for the
// callers of MarshalJSON, Claim, Map and RequireClaim only.
func (c *Claims) payload() []byte {
	if !c.rawB64 {
		return []byte(c.raw)
	}
	b := make([]byte, b64.DecodedLen(len(c.raw)))
	n, err := b64.Decode(b, stringBytes(c.raw))
	if err != nil {
		return nil // it decoded when the token was verified
	}
	return b[:n]
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// InGroup reports whether the groups claim contains g.
func (c *Claims) InGroup(g string) bool { return slices.Contains(c.Groups, g) }

// Claim returns the raw value of any claim, decoded from JSON (strings,
// float64 numbers, bools, []any, map[string]any), and whether it is present.
func (c *Claims) Claim(name string) (any, bool) {
	var m map[string]any
	if err := json.Unmarshal(c.payload(), &m); err != nil {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

// Map returns all claims decoded from JSON.
func (c *Claims) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(c.payload(), &m) // raw was decoded once already: it is valid JSON
	return m
}

// MarshalJSON returns the token's verified payload as it was signed.
func (c *Claims) MarshalJSON() ([]byte, error) {
	if len(c.raw) == 0 {
		return []byte("{}"), nil
	}
	return c.payload(), nil
}

// wireClaims is the payload as decoded from JSON. The decoder refuses a
// number where a string belongs, and the custom types refuse values of the
// wrong JSON type, so a token with "exp":"tomorrow" is malformed.
//
// Claim names are case-sensitive (RFC 7519 §4): the payload is decoded with
// github.com/go-json-experiment/json, which matches member names exactly, so
// "Groups" or "EXP" is another claim that nothing here reads (encoding/json
// would fill Groups and Exp from them). It also refuses duplicate member
// names anywhere in the payload (RFC 7519 §4 lets a parser refuse them, and
// two "sub" members would let two parsers see two subjects) and strings
// that are not valid UTF-8 (RFC 7519 §7.2 asks for UTF-8).
type wireClaims struct {
	Iss      string            `json:"iss"`
	Sub      string            `json:"sub"`
	Aud      stringList        `json:"aud"`
	Exp      *numericdate.Date `json:"exp"`
	Nbf      *numericdate.Date `json:"nbf"`
	Iat      *numericdate.Date `json:"iat"`
	AuthTime *numericdate.Date `json:"auth_time"`
	Jti      string            `json:"jti"`
	Ver      textValue         `json:"ver"`
	Cid      string            `json:"cid"`
	ClientID string            `json:"client_id"`
	Azp      string            `json:"azp"`
	UID      string            `json:"uid"`
	Scp      scopeList         `json:"scp"`
	Scope    string            `json:"scope"`
	Groups   stringList        `json:"groups"`
	Nonce    string            `json:"nonce"`
	AtHash   string            `json:"at_hash"`
	CHash    string            `json:"c_hash"`
	Cnf      *confirmation     `json:"cnf"`
}

var errClaimType = errors.New("claim of the wrong type")

// textValue accepts a JSON string or number and keeps it as text.
type textValue string

func (t *textValue) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		v, err := decodeString(b)
		if err != nil {
			return err
		}
		*t = textValue(v)
	case string(b) == "null":
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*t = textValue(b)
	default:
		return errClaimType
	}
	return nil
}

// decodeString decodes the JSON string literal b, at once when it is plain
// (see plainString).
func decodeString(b []byte) (string, error) {
	if v, ok := plainString(b); ok {
		return v, nil
	}
	var v string
	err := json.Unmarshal(b, &v)
	return v, err
}

// plainString returns the JSON string literal b as a Go string when it has
// no escapes and is valid UTF-8: then the decoder would return its bytes
// as they are, and a second json.Unmarshal (which scans and validates the
// literal again) is work for nothing. b comes from the decoder, which has
// checked the whole payload's syntax already. Otherwise ok is false and
// the caller decodes b as usual.
func plainString(b []byte) (v string, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	b = b[1 : len(b)-1]
	if bytes.IndexByte(b, '\\') >= 0 || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// plainStrings is plainString for a JSON array: it returns the elements of
// b when every one is a plain string literal, and ok false for anything
// else (an escape, invalid UTF-8, another type), which the caller then
// decodes as usual. Scopes, groups and audiences are such arrays.
func plainStrings(b []byte) (v []string, ok bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	b = trimJSONSpace(b[1 : len(b)-1])
	v = make([]string, 0, 4)
	for len(b) > 0 {
		if b[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(b[1:], '"') + 1 // with no escapes, the first quote ends the string
		if end == 0 {
			return nil, false
		}
		s, ok := plainString(b[:end+1])
		if !ok {
			return nil, false
		}
		v = append(v, s)
		b = trimJSONSpace(b[end+1:])
		if len(b) == 0 {
			break
		}
		if b[0] != ',' {
			return nil, false
		}
		if b = trimJSONSpace(b[1:]); len(b) == 0 {
			return nil, false
		}
	}
	return v, true
}

// trimJSONSpace trims JSON's whitespace (RFC 8259 §2) from both ends of b.
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// stringList accepts a JSON string (one element) or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		v, err := decodeString(b)
		if err != nil {
			return err
		}
		*l = stringList{v}
	case len(b) > 0 && b[0] == '[':
		if v, ok := plainStrings(b); ok {
			*l = v
			return nil
		}
		var v []string
		if err := json.Unmarshal(b, &v); err != nil {
			return errClaimType
		}
		*l = v
	case string(b) == "null":
	default:
		return errClaimType
	}
	return nil
}

// scopeList accepts an array of scopes or a space-separated string of them.
type scopeList []string

func (l *scopeList) UnmarshalJSON(b []byte) error {
	var v stringList
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	if len(b) > 0 && b[0] == '"' {
		v = strings.Fields(v[0])
	}
	*l = scopeList(v)
	return nil
}

// decodeClaims decodes a payload into Claims: claim names match exactly,
// and a payload with a name twice is malformed (see wireClaims).
func decodeClaims(payload []byte) (*Claims, *wireClaims, error) {
	var w wireClaims
	if err := jsonv2.Unmarshal(payload, &w); err != nil {
		return nil, nil, refuse(ErrMalformed, "claims are not a JSON object of the expected types with unique names")
	}
	c := &Claims{
		Issuer:    w.Iss,
		Subject:   w.Sub,
		Audience:  w.Aud,
		Expiry:    w.Exp.Time(),
		NotBefore: w.Nbf.Time(),
		IssuedAt:  w.Iat.Time(),
		AuthTime:  w.AuthTime.Time(),
		ID:        w.Jti,
		Version:   string(w.Ver),
		UserID:    w.UID,
		Groups:    w.Groups,
		Nonce:     w.Nonce,
		raw:       unsafe.String(unsafe.SliceData(payload), len(payload)), // payload is the caller's to give: see decodeClaims
	}
	if w.Cnf != nil {
		c.Confirmed, c.JKT = true, w.Cnf.JKT
	}
	switch {
	case w.Cid != "":
		c.ClientID = w.Cid
	case w.ClientID != "":
		c.ClientID = w.ClientID
	default:
		c.ClientID = w.Azp
	}
	if w.Scp != nil {
		c.Scopes = w.Scp
	} else if w.Scope != "" {
		c.Scopes = strings.Fields(w.Scope)
	}
	return c, &w, nil
}
