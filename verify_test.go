package apiguard_test

import (
	"context"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	jose "github.com/go-jose/go-jose/v4"
)

var epoch = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newVerifier(t *testing.T, iss *testissuer.Issuer, clk *fakeclock.Clock, mutate ...func(*apiguard.Config)) *apiguard.Verifier {
	t.Helper()
	cfg := apiguard.Config{Issuer: iss.URL, Now: clk.Now}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := apiguard.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

func TestVerifyValid(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	base := iss.Claims(clk.Now())

	type tc struct {
		name   string
		token  string
		scopes []string
	}
	var cases []tc
	for _, alg := range testissuer.Algorithms {
		cases = append(cases, tc{"alg " + alg, iss.Sign(t, strings.ToLower(alg), base, nil), []string{"read", "write"}})
	}
	cases = append(cases,
		tc{"aud array", iss.Sign(t, "rs256", testissuer.With(base, "aud", []string{"other", "api://default"}), nil), []string{"read", "write"}},
		tc{"scope string", iss.Sign(t, "es256", testissuer.With(base, "scp", nil, "scope", "a b  c"), nil), []string{"a", "b", "c"}},
		tc{"scp string", iss.Sign(t, "es256", testissuer.With(base, "scp", "x y"), nil), []string{"x", "y"}},
		tc{"exp within leeway", iss.Sign(t, "rs256", testissuer.With(base, "exp", clk.Now().Add(-59*time.Second).Unix()), nil), []string{"read", "write"}},
		tc{"nbf within leeway", iss.Sign(t, "rs256", testissuer.With(base, "nbf", clk.Now().Add(59*time.Second).Unix()), nil), []string{"read", "write"}},
		tc{"fractional exp", iss.Sign(t, "rs256", testissuer.With(base, "exp", float64(clk.Now().Unix())+3600.5), nil), []string{"read", "write"}},
		tc{"typ JWT", iss.Sign(t, "rs256", base, map[string]any{"typ": "JWT"}), []string{"read", "write"}},
		tc{"jku ignored", iss.Sign(t, "rs256", base, map[string]any{"jku": "https://attacker.example/keys"}), []string{"read", "write"}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), c.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != "user@example.com" || got.ClientID != "0oa-test-client" || got.UserID != "00u-test-user" {
				t.Errorf("got sub %q cid %q uid %q", got.Subject, got.ClientID, got.UserID)
			}
			if strings.Join(got.Scopes, ",") != strings.Join(c.scopes, ",") {
				t.Errorf("got scopes %q, want %q", got.Scopes, c.scopes)
			}
			if got.Version != "1" {
				t.Errorf("got ver %q, want 1", got.Version)
			}
			for _, s := range c.scopes {
				if !got.HasScope(s) {
					t.Errorf("HasScope(%q) = false", s)
				}
			}
			if got.HasScope("admin") {
				t.Error("HasScope(admin) = true")
			}
			if v, ok := got.Claim("jti"); !ok || !strings.HasPrefix(v.(string), "AT.") {
				t.Errorf("Claim(jti) = %v, %v", v, ok)
			}
		})
	}
}

// TestVerifyHostile: every check of SECURITY.md ("Parsing", "Algorithms and
// keys", "Claims") refuses its token with its reason, and as an invalid
// token (401), never as keys unavailable.
func TestVerifyHostile(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	now := clk.Now()
	base := iss.Claims(now)
	good := iss.Sign(t, "rs256", base, nil)
	h, p, s := splitToken(good)
	rsaPub := iss.Key("rs256").Private.Public().(*rsa.PublicKey)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(rsaPub))})
	attacker := testissuer.NewRSAKey(t, 2048)
	attackerJWK := jose.JSONWebKey{Key: attacker.Public(), KeyID: "rs256", Algorithm: "RS256"}
	otherIssuer := testissuer.New(t)

	esGood := iss.Sign(t, "es256", base, nil)
	esH, esP, esS := splitToken(esGood)
	esSig := mustDecode(esS)
	n := elliptic.P256().Params().N

	hs := func(alg string, key []byte) string {
		return testissuer.SignWith(t, alg, key, "rs256", base, nil)
	}
	header := func(kv ...any) []byte {
		m := map[string]any{"alg": "RS256", "kid": "rs256"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return must(json.Marshal(m))
	}
	payload := must(json.Marshal(base))

	cases := []struct {
		name  string
		token string
		want  error
	}{
		// Parsing.
		{"empty", "", apiguard.ErrMalformed},
		{"one part", h, apiguard.ErrMalformed},
		{"two parts", h + "." + p, apiguard.ErrMalformed},
		{"empty signature", h + "." + p + ".", apiguard.ErrMalformed},
		{"four parts", good + "." + s, apiguard.ErrMalformed},
		{"five parts (JWE)", h + "." + p + "." + s + "." + s + "." + s, apiguard.ErrMalformed},
		{"padding", good + "==", apiguard.ErrMalformed},
		{"plus in signature", h + "." + p + "." + strings.NewReplacer("-", "+", "_", "/").Replace(s) + "+", apiguard.ErrMalformed},
		{"slash in payload", h + "." + p[:10] + "/" + p[10:] + "." + s, apiguard.ErrMalformed},
		{"newline", h + "." + p[:10] + "\n" + p[10:] + "." + s, apiguard.ErrMalformed},
		{"space", h + ". " + p + "." + s, apiguard.ErrMalformed},
		{"JSON serialization", `{"payload":"` + p + `","signatures":[]}`, apiguard.ErrMalformed},
		{"oversized", iss.Sign(t, "rs256", testissuer.With(base, "pad", strings.Repeat("x", apiguard.MaxTokenSize)), nil), apiguard.ErrMalformed},
		{"header not JSON", b64([]byte("nope")) + "." + p + "." + s, apiguard.ErrMalformed},
		{"header array", b64([]byte(`["RS256"]`)) + "." + p + "." + s, apiguard.ErrMalformed},
		{"header alg number", iss.SignRaw(t, "rs256", []byte(`{"alg":256,"kid":"rs256"}`), payload), apiguard.ErrMalformed},
		{"non-canonical base64", h + "." + p + "." + s[:len(s)-1] + flipLastBits(s[len(s)-1:]), apiguard.ErrMalformed},
		{"payload not JSON", iss.SignRaw(t, "rs256", header(), []byte("hello")), apiguard.ErrMalformed},
		{"payload array", iss.SignRaw(t, "rs256", header(), []byte(`[1,2]`)), apiguard.ErrMalformed},
		{"deep JSON", iss.SignRaw(t, "rs256", header(), []byte(`{"x":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000)+`,"iss":1}`)), apiguard.ErrMalformed},
		{"crit", iss.SignRaw(t, "rs256", header("crit", []string{"exp"}, "exp", 1), payload), apiguard.ErrMalformed},
		{"crit b64", iss.SignRaw(t, "rs256", header("crit", []string{"b64"}, "b64", false), payload), apiguard.ErrMalformed},
		{"zip", iss.SignRaw(t, "rs256", header("zip", "DEF"), payload), apiguard.ErrMalformed},
		{"enc header", iss.SignRaw(t, "rs256", header("enc", "A256GCM"), payload), apiguard.ErrMalformed},
		{"nested cty JWT", iss.SignRaw(t, "rs256", header("cty", "JWT"), payload), apiguard.ErrMalformed},

		// Algorithms and keys.
		{"alg none", b64(header("alg", "none")) + "." + p + "." + s, apiguard.ErrAlgorithm},
		{"alg None", b64(header("alg", "None")) + "." + p + "." + s, apiguard.ErrAlgorithm},
		{"alg NONE", b64(header("alg", "NONE")) + "." + p + "." + s, apiguard.ErrAlgorithm},
		{"alg missing", iss.SignRaw(t, "rs256", []byte(`{"kid":"rs256"}`), payload), apiguard.ErrAlgorithm},
		{"alg lower case", b64(header("alg", "rs256")) + "." + p + "." + s, apiguard.ErrAlgorithm},
		{"HS256 with the PEM", hs("HS256", pemBytes), apiguard.ErrAlgorithm},
		{"HS256 with the modulus", hs("HS256", rsaPub.N.Bytes()), apiguard.ErrAlgorithm},
		{"HS384 with the PEM", hs("HS384", pemBytes), apiguard.ErrAlgorithm},
		{"HS512 with the PEM", hs("HS512", pemBytes), apiguard.ErrAlgorithm},
		{"RS256 on an EC key", iss.SignRaw(t, "rs256", header("kid", "es256"), payload), apiguard.ErrAlgorithm},
		{"ES256 on a P-384 key", retarget(t, esGood, "es384"), apiguard.ErrAlgorithm},
		{"PS256 on a key whose JWK says RS256", testissuer.SignWith(t, "PS256", iss.Key("rs256").Private, "rs256", base, nil), apiguard.ErrAlgorithm},
		{"EdDSA on an RSA key", testissuer.SignWith(t, "EdDSA", iss.Key("eddsa").Private, "rs256", base, nil), apiguard.ErrAlgorithm},
		{"embedded jwk", testissuer.SignWith(t, "RS256", attacker, "", base, map[string]any{"jwk": attackerJWK}), apiguard.ErrUnknownKey},
		{"embedded jwk with known kid", testissuer.SignWith(t, "RS256", attacker, "rs256", base, map[string]any{"jwk": attackerJWK}), apiguard.ErrSignature},
		{"jku to another issuer", otherIssuer.Sign(t, "rs256", base, map[string]any{"jku": otherIssuer.URL + "/keys"}), apiguard.ErrSignature},
		{"x5u", testissuer.SignWith(t, "RS256", attacker, "rs256", base, map[string]any{"x5u": otherIssuer.URL + "/cert.pem"}), apiguard.ErrSignature},
		{"x5c", testissuer.SignWith(t, "RS256", attacker, "rs256", base, map[string]any{"x5c": []string{b64(rsaPub.N.Bytes())}}), apiguard.ErrSignature},
		{"kid path traversal", testissuer.SignWith(t, "RS256", attacker, "../../../../dev/null", base, nil), apiguard.ErrUnknownKey},
		{"no kid, several keys", iss.Sign(t, "rs256", base, map[string]any{"kid": nil}), apiguard.ErrUnknownKey},
		{"ECDSA DER signature", esH + "." + esP + "." + b64(testissuer.DERSignature(esSig)), apiguard.ErrSignature},
		{"ECDSA r=s=0", esH + "." + esP + "." + b64(make([]byte, 64)), apiguard.ErrSignature},
		{"ECDSA s=n", esH + "." + esP + "." + b64(append(esSig[:32:32], padTo(n.Bytes(), 32)...)), apiguard.ErrSignature},
		{"ECDSA short", esH + "." + esP + "." + b64(esSig[:63]), apiguard.ErrSignature},
		{"flipped signature bit", h + "." + p + "." + b64(flip(mustDecode(s))), apiguard.ErrSignature},
		{"spliced payload", h + "." + b64JSON(t, testissuer.With(base, "sub", "admin")) + "." + s, apiguard.ErrSignature},
		{"another issuer's key", otherIssuer.Sign(t, "rs256", base, nil), apiguard.ErrSignature},

		// Claims.
		{"wrong iss", iss.Sign(t, "rs256", testissuer.With(base, "iss", "https://evil.example"), nil), apiguard.ErrIssuer},
		{"iss trailing slash", iss.Sign(t, "rs256", testissuer.With(base, "iss", iss.URL+"/"), nil), apiguard.ErrIssuer},
		{"iss missing", iss.Sign(t, "rs256", testissuer.With(base, "iss", nil), nil), apiguard.ErrIssuer},
		{"iss case", iss.Sign(t, "rs256", testissuer.With(base, "iss", strings.ToUpper(iss.URL)), nil), apiguard.ErrIssuer},
		{"aud client id (the tutorial's bug)", iss.Sign(t, "rs256", testissuer.With(base, "aud", "0oa-test-client"), nil), apiguard.ErrAudience},
		{"aud array without ours", iss.Sign(t, "rs256", testissuer.With(base, "aud", []string{"a", "b"}), nil), apiguard.ErrAudience},
		{"aud missing", iss.Sign(t, "rs256", testissuer.With(base, "aud", nil), nil), apiguard.ErrAudience},
		{"aud prefix", iss.Sign(t, "rs256", testissuer.With(base, "aud", "api://default2"), nil), apiguard.ErrAudience},
		{"aud number", iss.Sign(t, "rs256", testissuer.With(base, "aud", 5), nil), apiguard.ErrMalformed},
		{"aud array of numbers", iss.Sign(t, "rs256", testissuer.With(base, "aud", []int{1}), nil), apiguard.ErrMalformed},
		{"exp missing", iss.Sign(t, "rs256", testissuer.With(base, "exp", nil), nil), apiguard.ErrExpired},
		{"exp past leeway", iss.Sign(t, "rs256", testissuer.With(base, "exp", now.Add(-61*time.Second).Unix()), nil), apiguard.ErrExpired},
		{"exp string", iss.Sign(t, "rs256", testissuer.With(base, "exp", "9999999999"), nil), apiguard.ErrMalformed},
		{"exp bool", iss.Sign(t, "rs256", testissuer.With(base, "exp", true), nil), apiguard.ErrMalformed},
		{"exp huge", iss.SignRaw(t, "rs256", header(), []byte(strings.Replace(string(payload), `"exp":`, `"exp":1e300,"x":`, 1))), apiguard.ErrMalformed},
		{"nbf future", iss.Sign(t, "rs256", testissuer.With(base, "nbf", now.Add(61*time.Second).Unix()), nil), apiguard.ErrNotYetValid},
		{"iat far future", iss.Sign(t, "rs256", testissuer.With(base, "iat", now.Add(24*time.Hour).Unix()), nil), apiguard.ErrIssuedInFuture},
		{"sub number", iss.Sign(t, "rs256", testissuer.With(base, "sub", 42), nil), apiguard.ErrMalformed},
		{"scp number", iss.Sign(t, "rs256", testissuer.With(base, "scp", 7), nil), apiguard.ErrMalformed},
		{"ID token with nonce", iss.Sign(t, "rs256", testissuer.With(base, "nonce", "n-1"), nil), apiguard.ErrType},
		{"ID token with at_hash", iss.Sign(t, "rs256", testissuer.With(base, "at_hash", "abc"), nil), apiguard.ErrType},
		{"exp and aud both wrong", iss.Sign(t, "rs256", testissuer.With(base, "aud", "x", "exp", now.Add(-time.Hour).Unix()), nil), apiguard.ErrInvalidToken},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := v.Verify(context.Background(), c.token)
			if err == nil {
				t.Fatalf("Verify accepted a hostile token: claims %+v", got)
			}
			if !errors.Is(err, apiguard.ErrInvalidToken) {
				t.Errorf("got %v, want an ErrInvalidToken", err)
			}
			if !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
			if errors.Is(err, apiguard.ErrKeysUnavailable) {
				t.Errorf("got %v, a keys-unavailable error for a bad token", err)
			}
		})
	}
	// The control: the same verifier accepts the untouched tokens.
	for _, tok := range []string{good, esGood} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("control token refused: %v", err)
		}
	}
}

func TestVerifyConfigChecks(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	base := iss.Claims(clk.Now())
	cases := []struct {
		name   string
		mutate func(*apiguard.Config)
		token  string
		want   error
	}{
		{"client not allowed", func(c *apiguard.Config) { c.ClientIDs = []string{"0oa-other"} }, iss.Sign(t, "rs256", base, nil), apiguard.ErrClient},
		{"client_id claim not allowed", func(c *apiguard.Config) { c.ClientIDs = []string{"0oa-test-client"} }, iss.Sign(t, "rs256", testissuer.With(base, "cid", nil, "client_id", "x"), nil), apiguard.ErrClient},
		{"typ required, absent", func(c *apiguard.Config) { c.RequireType = "at+jwt" }, iss.Sign(t, "rs256", base, nil), apiguard.ErrType},
		{"typ required, JWT", func(c *apiguard.Config) { c.RequireType = "at+jwt" }, iss.Sign(t, "rs256", base, map[string]any{"typ": "JWT"}), apiguard.ErrType},
		{"alg outside a narrowed allowlist", func(c *apiguard.Config) { c.Algorithms = []string{"ES256"} }, iss.Sign(t, "rs256", base, nil), apiguard.ErrAlgorithm},
		{"custom audience", func(c *apiguard.Config) { c.Audience = "https://api.example" }, iss.Sign(t, "rs256", base, nil), apiguard.ErrAudience},
		{"ID token for another client", func(c *apiguard.Config) { c.IDToken = true; c.Audience = "client-a" }, iss.Sign(t, "rs256", testissuer.With(base, "aud", []string{"client-a", "client-b"}, "azp", "client-b"), nil), apiguard.ErrAudience},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, iss, clk, c.mutate)
			if _, err := v.Verify(context.Background(), c.token); !errors.Is(err, c.want) || !errors.Is(err, apiguard.ErrInvalidToken) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
	accepted := []struct {
		name   string
		mutate func(*apiguard.Config)
		token  string
	}{
		{"client allowed via cid", func(c *apiguard.Config) { c.ClientIDs = []string{"0oa-test-client"} }, iss.Sign(t, "rs256", base, nil)},
		{"client allowed via azp", func(c *apiguard.Config) { c.ClientIDs = []string{"z"} }, iss.Sign(t, "rs256", testissuer.With(base, "cid", nil, "azp", "z"), nil)},
		{"typ at+jwt", func(c *apiguard.Config) { c.RequireType = "at+jwt" }, iss.Sign(t, "rs256", base, map[string]any{"typ": "at+jwt"})},
		{"typ application/at+JWT", func(c *apiguard.Config) { c.RequireType = "at+jwt" }, iss.Sign(t, "rs256", base, map[string]any{"typ": "application/at+JWT"})},
		{"ID token profile", func(c *apiguard.Config) { c.IDToken = true; c.Audience = "client-a" }, iss.Sign(t, "rs256", testissuer.With(base, "aud", "client-a", "nonce", "n", "at_hash", "x"), nil)},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			v := newVerifier(t, iss, clk, c.mutate)
			if _, err := v.Verify(context.Background(), c.token); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  apiguard.Config
	}{
		{"no issuer", apiguard.Config{}},
		{"http non-loopback", apiguard.Config{Issuer: "http://example.com/oauth2/default"}},
		{"not a URL", apiguard.Config{Issuer: "example.com"}},
		{"ftp", apiguard.Config{Issuer: "ftp://example.com"}},
		{"query", apiguard.Config{Issuer: "https://example.com/?a=b"}},
		{"alg none", apiguard.Config{Issuer: "https://example.com", Algorithms: []string{"none"}}},
		{"alg HS256", apiguard.Config{Issuer: "https://example.com", Algorithms: []string{"HS256"}}},
		{"negative leeway", apiguard.Config{Issuer: "https://example.com", Leeway: -time.Second}},
		{"ID token without client id", apiguard.Config{Issuer: "https://example.com", IDToken: true}},
		{"http JWKS", apiguard.Config{Issuer: "https://example.com", JWKSURL: "http://example.com/keys"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := apiguard.New(c.cfg); err == nil {
				t.Error("New accepted a bad config")
			}
		})
	}
	for _, ok := range []apiguard.Config{
		{Issuer: "https://example.okta.com/oauth2/default"},
		{Issuer: "http://127.0.0.1:5000/oauth2/default"},
		{Issuer: "http://localhost:5000"},
		{Issuer: "http://[::1]:5000"},
		{Issuer: "http://dev.internal", InsecureAllowHTTP: true},
	} {
		if _, err := apiguard.New(ok); err != nil {
			t.Errorf("New(%q): %v", ok.Issuer, err)
		}
	}
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.Split(tok, ".")
	return parts[0], parts[1], parts[2]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func mustDecode(s string) []byte { return must(base64.RawURLEncoding.DecodeString(s)) }

func flip(b []byte) []byte {
	out := append([]byte(nil), b...)
	out[len(out)/2] ^= 1
	return out
}

// flipLastBits turns the last base64 character into one that encodes the
// same bytes with non-zero trailing bits (non-canonical encoding).
func flipLastBits(c string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.Index(alphabet, c)
	return string(alphabet[i|1])
}

func padTo(b []byte, n int) []byte {
	return append(make([]byte, n-len(b)), b...)
}

// retarget rewrites a token's kid (the signature no longer matters: the
// alg/key check comes first).
func retarget(t *testing.T, tok, kid string) string {
	h, p, s := splitToken(tok)
	var m map[string]any
	if err := json.Unmarshal(mustDecode(h), &m); err != nil {
		t.Fatal(err)
	}
	m["kid"] = kid
	return b64JSON(t, m) + "." + p + "." + s
}
