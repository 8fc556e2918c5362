package apiguard

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/golang-jwt/jwt/v5"
)

// caseEpoch is the clock of the tests here.
var caseEpoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// signMembers signs a token whose header and payload are JSON objects made
// of the given members, in order and as written (so names may repeat or
// differ only in case, which a Go map cannot express).
func signMembers(t *testing.T, iss *testissuer.Issuer, kid string, header, payload []string) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	signing := enc([]byte("{"+strings.Join(header, ",")+"}")) + "." + enc([]byte("{"+strings.Join(payload, ",")+"}"))
	k := iss.Key(kid)
	sig, err := jwt.GetSigningMethod(k.Alg).Sign(signing, k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc(sig)
}

// member is one JSON object member: name and value as JSON text.
func member(name, jsonValue string) string { return fmt.Sprintf("%q:%s", name, jsonValue) }

// baseMembers are the claims of a valid access token from iss, with
// scopes and groups, each named once in lower case.
func baseMembers(iss *testissuer.Issuer) []string {
	return []string{
		member("iss", fmt.Sprintf("%q", iss.URL)),
		member("aud", `"api://default"`),
		member("sub", `"user@example.com"`),
		member("iat", fmt.Sprint(caseEpoch.Unix())),
		member("exp", fmt.Sprint(caseEpoch.Add(time.Hour).Unix())),
		member("jti", `"AT.case"`),
		member("cid", `"0oa-app"`),
		member("scp", `["read"]`),
		member("groups", `["Everyone"]`),
	}
}

// without returns members minus those named in names.
func without(members []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(members), func(m string) bool {
		return slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(m, fmt.Sprintf("%q:", n)) })
	})
}

// TestClaimNamesCaseSensitive signs tokens carrying claims whose names
// differ from the registered ones only in case, and duplicate names. Claim
// names are case-sensitive (RFC 7519 §4): "Groups" is not groups, so a
// token holding only "Groups":["Admins"] is not in Admins, and one holding
// only "Exp" has no exp. encoding/json matches names ignoring case, and
// with it every "read as" case below would be read as the lower-case claim.
func TestClaimNamesCaseSensitive(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(caseEpoch)
	v, err := New(Config{Issuer: iss.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	base := baseMembers(iss)
	later := fmt.Sprint(caseEpoch.Add(24 * time.Hour).Unix())
	tests := []struct {
		name    string
		payload []string
		want    error         // nil: accepted
		check   func(*Claims) // on an accepted token
	}{
		{"Exp only: no exp", append(without(base, "exp"), member("Exp", later)), ErrExpired, nil},
		{"EXP only: no exp", append(without(base, "exp"), member("EXP", later)), ErrExpired, nil},
		{"ISS only: no iss", append(without(base, "iss"), member("ISS", fmt.Sprintf("%q", iss.URL))), ErrIssuer, nil},
		{"Aud only: no aud", append(without(base, "aud"), member("Aud", `"api://default"`)), ErrAudience, nil},
		{"Nbf in the future is not nbf", append(base, member("Nbf", later)), nil, nil},
		{"Iat in the future is not iat", append(base, member("Iat", later)), nil, nil},
		{"Nonce does not make an ID token", append(base, member("Nonce", `"n-0S6"`), member("AT_HASH", `"x"`)), nil, nil},
		{"iss right, ISS other after it", append(base, member("ISS", `"https://evil.example.com"`)), nil,
			func(c *Claims) {
				if c.Issuer != iss.URL {
					t.Errorf("got Issuer %q, want %q", c.Issuer, iss.URL)
				}
			}},
		{"ISS other before iss", append([]string{member("ISS", `"https://evil.example.com"`)}, base...), nil,
			func(c *Claims) {
				if c.Issuer != iss.URL {
					t.Errorf("got Issuer %q, want %q", c.Issuer, iss.URL)
				}
			}},
		{"exp right, Exp expired", append(base, member("Exp", fmt.Sprint(caseEpoch.Add(-time.Hour).Unix()))), nil, nil},
		{"Sub is not sub", append(without(base, "sub"), member("Sub", `"admin"`)), nil,
			func(c *Claims) {
				if c.Subject != "" {
					t.Errorf("got Subject %q, want none", c.Subject)
				}
			}},
		{"Groups is not groups", append(without(base, "groups"), member("Groups", `["Admins"]`)), nil,
			func(c *Claims) {
				if c.Groups != nil || c.InGroup("Admins") {
					t.Errorf("got Groups %q, want none", c.Groups)
				}
			}},
		{"groups and GROUPS", append(base, member("GROUPS", `["Admins"]`)), nil,
			func(c *Claims) {
				if !slices.Equal(c.Groups, []string{"Everyone"}) {
					t.Errorf("got Groups %q, want [Everyone]", c.Groups)
				}
			}},
		{"SCP and Scope are not scp and scope", append(without(base, "scp"), member("SCP", `["admin"]`), member("Scope", `"admin"`)), nil,
			func(c *Claims) {
				if c.Scopes != nil {
					t.Errorf("got Scopes %q, want none", c.Scopes)
				}
			}},
		{"Cid, Client_ID and AZP are not client ids", append(without(base, "cid"), member("Cid", `"0oa-evil"`), member("Client_ID", `"0oa-evil"`), member("AZP", `"0oa-evil"`)), nil,
			func(c *Claims) {
				if c.ClientID != "" {
					t.Errorf("got ClientID %q, want none", c.ClientID)
				}
			}},
		{"UID and JTI", append(without(base, "jti"), member("UID", `"00u-evil"`), member("JTI", `"AT.evil"`)), nil,
			func(c *Claims) {
				if c.UserID != "" || c.ID != "" {
					t.Errorf("got UserID %q ID %q, want none", c.UserID, c.ID)
				}
			}},
		{"CNF is not cnf", append(base, member("CNF", `{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`)), nil,
			func(c *Claims) {
				if c.Confirmed || c.JKT != "" {
					t.Errorf("got Confirmed %t JKT %q, want a bearer token", c.Confirmed, c.JKT)
				}
			}},
		{"cnf with JKT is bound, to no jkt", append(base, member("cnf", `{"JKT":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`)), nil,
			func(c *Claims) {
				if !c.Confirmed || c.JKT != "" {
					t.Errorf("got Confirmed %t JKT %q, want confirmed with no jkt", c.Confirmed, c.JKT)
				}
			}},

		{"sub twice", append(base, member("sub", `"admin"`)), ErrMalformed, nil},
		{"iss twice, same value", append(base, member("iss", fmt.Sprintf("%q", iss.URL))), ErrMalformed, nil},
		{"groups twice", append(base, member("groups", `["Admins"]`)), ErrMalformed, nil},
		{"exp twice", append(base, member("exp", later)), ErrMalformed, nil},
		{"an unknown claim twice", append(base, member("x", "1"), member("x", "2")), ErrMalformed, nil},
		{"a name twice in a nested object", append(base, member("ext", `{"role":"user","role":"admin"}`)), ErrMalformed, nil},
		{"jkt twice in cnf", append(base, member("cnf", `{"jkt":"a","jkt":"b"}`)), ErrMalformed, nil},
		{"the same name, escaped", append(base, `"s\u0075b":"admin"`), ErrMalformed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := signMembers(t, iss, "rs256", []string{`"alg":"RS256"`, `"kid":"rs256"`}, tc.payload)
			c, err := v.Verify(context.Background(), token)
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("got claims %v, error %v; want %v", c, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			if tc.check != nil {
				tc.check(c)
			}
		})
	}
}

// TestPoliciesIgnoreOtherCase checks that a claim named in another case
// satisfies no policy: the token of finding 6 carries only
// "Groups":["Admins"] and "SCP":["admin"].
func TestPoliciesIgnoreOtherCase(t *testing.T) {
	iss := testissuer.New(t)
	v, err := New(Config{Issuer: iss.URL, Now: fakeclock.New(caseEpoch).Now})
	if err != nil {
		t.Fatal(err)
	}
	payload := append(without(baseMembers(iss), "groups", "scp"), member("Groups", `["Admins"]`), member("SCP", `["admin"]`))
	c, err := v.Verify(context.Background(), signMembers(t, iss, "rs256", []string{`"alg":"RS256"`, `"kid":"rs256"`}, payload))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		policy Policy
		allow  bool
	}{
		{"RequireGroups(Admins)", RequireGroups("Admins"), false},
		{"RequireScopes(admin)", RequireScopes("admin"), false},
		{"RequireClaim(groups)", RequireClaim("groups"), false},
		{"RequireClaim(Groups, Admins)", RequireClaim("Groups", "Admins"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy(c)
			if allowed := err == nil; allowed != tc.allow {
				t.Fatalf("got %v, want allowed %t", err, tc.allow)
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Errorf("got %v, want ErrForbidden", err)
			}
		})
	}
}

// TestHeaderNamesCaseSensitive does for the JOSE header what
// TestClaimNamesCaseSensitive does for the claims: "ALG", "Kid", "TYP" and
// "Crit" are not alg, kid, typ and crit (RFC 7515 §4), and a parameter
// named twice makes the token malformed.
func TestHeaderNamesCaseSensitive(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(caseEpoch)
	plain, err := New(Config{Issuer: iss.URL, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	typed, err := New(Config{Issuer: iss.URL, Now: clk.Now, RequireType: "at+jwt"})
	if err != nil {
		t.Fatal(err)
	}
	alg, kid := `"alg":"RS256"`, `"kid":"rs256"`
	tests := []struct {
		name   string
		v      *Verifier
		header []string
		want   error // nil: accepted
	}{
		{"ALG none beside alg", plain, []string{alg, kid, `"ALG":"none"`}, nil},
		{"Alg only: no alg", plain, []string{`"Alg":"RS256"`, kid}, ErrAlgorithm},
		{"KID other beside kid", plain, []string{alg, kid, `"KID":"es256"`}, nil},
		{"Kid only: no kid", plain, []string{alg, `"Kid":"rs256"`}, ErrUnknownKey},
		{"TYP at+jwt is not typ", typed, []string{alg, kid, `"TYP":"at+jwt"`}, ErrType},
		{"typ at+jwt", typed, []string{alg, kid, `"typ":"at+jwt"`}, nil},
		{"Crit is not crit", plain, []string{alg, kid, `"Crit":["exp"]`}, nil},
		{"crit", plain, []string{alg, kid, `"crit":["exp"]`}, ErrMalformed},
		{"Zip is not zip", plain, []string{alg, kid, `"Zip":"DEF"`}, nil},
		{"alg twice", plain, []string{alg, kid, `"alg":"ES256"`}, ErrMalformed},
		{"kid twice", plain, []string{alg, kid, kid}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := signMembers(t, iss, "rs256", tc.header, baseMembers(iss))
			_, err := tc.v.Verify(context.Background(), token)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("got %v, want the token accepted", err)
			case tc.want != nil && (!errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidToken)):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// TestClaimsRefuseInvalidUTF8: a payload string that is not UTF-8 (RFC
// 7519 §7.2) is malformed. encoding/json replaced the bytes with U+FFFD, so
// two different byte strings could read as the same group.
func TestClaimsRefuseInvalidUTF8(t *testing.T) {
	iss := testissuer.New(t)
	v, err := New(Config{Issuer: iss.URL, Now: fakeclock.New(caseEpoch).Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, member string }{
		{"in groups", member("groups", "[\"Adm\xffins\"]")},
		{"in an unknown claim", member("x", "\"\xc3\"")},
		{"in a name", "\"na\xffme\":1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			payload := append(without(baseMembers(iss), "groups"), tc.member)
			c, err := v.Verify(context.Background(), signMembers(t, iss, "rs256", []string{`"alg":"RS256"`, `"kid":"rs256"`}, payload))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("got claims %v, error %v; want ErrMalformed", c, err)
			}
		})
	}
}

// benchPayload is an Okta-shaped access token payload with groups, as
// Verify decodes it on every fresh token.
var benchPayload = []byte(`{"ver":1,"jti":"AT.bench-1234567890","iss":"https://example.okta.com/oauth2/default",` +
	`"aud":"api://default","iat":1767225600,"exp":1767229200,"cid":"0oa-test-client","uid":"00u-test-user",` +
	`"scp":["openid","profile","read","write"],"groups":["Everyone","Sales","Admins"],"sub":"user@example.com"}`)

// BenchmarkDecodeClaims measures decoding a payload into Claims, the JSON
// part of a fresh token's cost.
func BenchmarkDecodeClaims(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := decodeClaims(benchPayload); err != nil {
			b.Fatal(err)
		}
	}
}
