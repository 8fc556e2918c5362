package apiguard_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/golang-jwt/jwt/v5"
)

// The fuzz targets need the same keys, issuer and clock in every process
// (the fuzzing engine runs the target in worker processes that each build
// their own verifier), so valid seed tokens stay valid wherever they run:
// the keys are fixed here, the issuer name is fixed (the keys are served by
// internal/testissuer and reached through Config.JWKSURL), and so is the clock.

const (
	fuzzIssuer = "https://issuer.fuzz.example/oauth2/default"
	// fuzzSeedsEnv, set to 1, rewrites the valid-* seed files of FuzzVerify
	// (after a change of keys or claims) instead of checking them.
	fuzzSeedsEnv = "APIGUARD_UPDATE_FUZZ_SEEDS"
)

// fuzzRSAKeyPEM is a test-only RSA key, used for RS* and PS*.
const fuzzRSAKeyPEM = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCx/lQ0+H8gJsjz
AwqQfDIYSsDo7R5OE6rDpBSV+BEWOr//6/Jzm+fvAR2pfYoVQ57I+m9evBnWU/C+
cxD5cTUyjfDp7anhakoQ1vzUFICI7HdGhhkolH8W/QPKTb247pJsDIL5ADHQJ6NX
lLPeUGGUz3Q2Jt+kcxy1pr5CngP/r4mNYhwFpWovlTPTX477L0iGLbMJAHKUcZgo
BJG5T3WxRULaiMyK349sRrAsHk/HPoVJA0ByCIYWQfLzfs3suqV9bjgAH3Kcnn96
YHYBM+DEdgS1BtqJqLX7jUP/FM/HDaW0meNtUvXBgjXxVmjiz+v5GaWa0w1vRK9g
9vOB/1l/AgMBAAECggEAT6T67vzmfW99aWfJ+V7pV39TlKZNcihQt9wargRjOOwu
74gXY+22OXbpW+blu6AXU9zjqqNGeGX1CnMYfFVQtX9X9oS3CDt0Sta4KPnHjf0p
XfAxH7xapeGvKX3hz/dIo3pxvJN+tqKV72GFnoufLmQpnvWECuTLSukCp3JnXafi
LPWaY3Xjig1CXWvuTMaXnHsG/tK0u5dkh6TYc0Q9lEaclBeTYpEYsBFiJu8YgWOw
ipMw+taJ81MqGPWpELidgsqm00ST0woV4bP0y9yxZsmtkMSpHUH0mPgN0plxUZ53
sfggYs+Q7O0dRl+Fk7vskfSwRgEqZE+KJeSJ50aDmQKBgQDbX14tB9jsYkcYH4n7
Um+PLZGx1gQsOmxP4vxkrajz8iLhgAxXTnwYCxgf+4I8n0QMl6Xzcj7A1qaAGfqk
fng7Kei2p9FxNFIWxrMp/Fts6jgHlVZGW9wFehVfEfKOwOF35AqsbEbr8kgHh+PR
1Mtfb6iwpAsb4E547HVjT1lT7QKBgQDPtkwm2j+yrbj93fGr6/XRo/ELuEYfqKX+
+W3TCnCO7I20hAMi6/u6e9nE7G2aPq7LOLr3V7NzS3PWitiI4OSB4mHq2nqxOl0B
Q857rR2vmEDU4mwhPmKvczlzv4KCS8JhXmkmaMzxJMUPqVVu4NHIZdkH77k7AaUn
KCQWPHCNmwKBgApMtvo8RRYMIzRhvrO7EhvR0uZbmwSMlatGh/0eHjGd679UqL+s
oqzqUG6n+1xnSeWhdRwx//pD2btn/NmeSnzUoeV5iZ7cCwKgv6a3/37knE7W1x8k
jvb+3WQCTrYfHjbn0Qx5ZPcNAA7CdZLTf9zyPCRW/2KGrIiG6ZgJELOdAoGBAIPx
CsKLVHcNvzsT5tYMlyPJ/e4x6elmWbtzef3a3dEMFp+aU9u1BzxYO+bJQH4AX0wc
Bzfi78zHGxgnLpEUOlL/GK/0hIdbyYRqLBmHyBmon1YbVhBv7oQAr3gFKMPXl+v9
6tFJNRXhA4SFTg2WpeukNo7CCmmfC+epqfKuBdkNAoGAD1sAUw9Tx+TaxZK1q+c9
2L103X4oLjaDgf0PgxRFvt03FdQoQRKAbS4sD2z8LwcjJmow3SlwG7GKoInVWOsP
MweHjAsnIff/RVd5uYR9SlNdvTRNOAf8KzPzuov/HOhIxileyjDd1FZI26sffY/J
Y4W8zyIjbjQf32DtaCzcDL0=
-----END PRIVATE KEY-----
`

func fuzzNow() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }

// fuzzKeys returns the fixed signing keys, one per algorithm, with kid
// "fuzz-" + the lower-case algorithm.
func fuzzKeys(tb testing.TB) []*testissuer.Key {
	tb.Helper()
	block, _ := pem.Decode([]byte(fuzzRSAKeyPEM))
	if block == nil {
		tb.Fatal("failed to decode the fuzz RSA key")
	}
	rsaKey, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		tb.Fatalf("failed to parse the fuzz RSA key: %v", err)
	}
	ec := func(c elliptic.Curve, label string) crypto.Signer {
		size := (c.Params().BitSize + 7) / 8
		d := sha512.Sum512([]byte(label))
		raw := make([]byte, size)
		copy(raw[size-min(size, len(d)):], d[:])
		raw[0] &= 0x01 // below the order of every curve here (P-521's scalar is 66 bytes)
		k, err := ecdsa.ParseRawPrivateKey(c, raw)
		if err != nil {
			tb.Fatalf("failed to derive the fuzz %s key: %v", label, err)
		}
		return k
	}
	seed := sha512.Sum512([]byte("apiguard fuzz ed25519"))
	var keys []*testissuer.Key
	for _, alg := range testissuer.Algorithms {
		var signer crypto.Signer
		switch alg {
		case "ES256":
			signer = ec(elliptic.P256(), "apiguard fuzz P-256")
		case "ES384":
			signer = ec(elliptic.P384(), "apiguard fuzz P-384")
		case "ES512":
			signer = ec(elliptic.P521(), "apiguard fuzz P-521")
		case "EdDSA":
			signer = ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
		default:
			signer = rsaKey.(crypto.Signer)
		}
		keys = append(keys, &testissuer.Key{ID: "fuzz-" + strings.ToLower(alg), Alg: alg, JWKAlg: alg, Use: "sig", Private: signer})
	}
	return keys
}

// fuzzVerifier starts a test issuer publishing exactly the fuzz keys and
// returns a verifier with those keys loaded and a fixed clock. With the
// clock fixed, the kid-miss cooldown never passes, so fuzzing does not
// fetch keys again.
func fuzzVerifier(tb testing.TB) (*apiguard.Verifier, *testissuer.Issuer) {
	tb.Helper()
	iss := testissuer.New(tb)
	var kids []string
	for _, k := range fuzzKeys(tb) {
		iss.AddKey(k, false)
		kids = append(kids, k.ID)
	}
	iss.Publish(kids...)
	v, err := apiguard.New(apiguard.Config{Issuer: fuzzIssuer, JWKSURL: iss.URL + "/keys", Now: fuzzNow})
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.Ready(ctx); err != nil {
		tb.Fatalf("Ready: %v", err)
	}
	if got, want := v.KeyCount(), len(kids); got != want {
		tb.Fatalf("got %d keys loaded, want %d", got, want)
	}
	return v, iss
}

func fuzzClaims() jwt.MapClaims {
	now := fuzzNow()
	return jwt.MapClaims{
		"ver": 1,
		"jti": "AT.fuzz",
		"iss": fuzzIssuer,
		"aud": "api://default",
		"iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"cid": "0oa-fuzz-client",
		"uid": "00u-fuzz-user",
		"scp": []string{"read", "write"},
		"sub": "fuzz@example.com",
	}
}

// corpusString reads a go test fuzz corpus file holding one string.
func corpusString(data []byte) (string, error) {
	text, ok := bytes.CutPrefix(data, []byte("go test fuzz v1\n"))
	if !ok {
		return "", errors.New("not a go test fuzz v1 file")
	}
	line := strings.TrimSpace(string(text))
	inner, ok := strings.CutPrefix(line, "string(")
	if !ok || !strings.HasSuffix(inner, ")") {
		return "", errors.New("not a single string value")
	}
	return strconv.Unquote(strings.TrimSuffix(inner, ")"))
}

func corpusFile(s string) []byte {
	return []byte("go test fuzz v1\nstring(" + strconv.Quote(s) + ")\n")
}

const fuzzVerifyDir = "testdata/fuzz/FuzzVerify"

// validSeeds reads the valid tokens of FuzzVerify's seed corpus: the files
// named valid-*. They are the only strings the verifier may accept.
func validSeeds(tb testing.TB) map[string]string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(fuzzVerifyDir, "valid-*"))
	if err != nil {
		tb.Fatal(err)
	}
	seeds := make(map[string]string, len(files))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		tok, err := corpusString(data)
		if err != nil {
			tb.Fatalf("failed to read seed %s: %v", name, err)
		}
		seeds[tok] = filepath.Base(name)
	}
	return seeds
}

// TestFuzzVerifySeeds checks that every valid-* seed of FuzzVerify is still
// accepted, one per algorithm, so FuzzVerify explores from valid tokens.
// With APIGUARD_UPDATE_FUZZ_SEEDS=1 it writes them anew.
func TestFuzzVerifySeeds(t *testing.T) {
	if os.Getenv(fuzzSeedsEnv) == "1" {
		for _, k := range fuzzKeys(t) {
			tok := testissuer.SignWith(t, k.Alg, k.Private, k.ID, fuzzClaims(), map[string]any{"typ": "JWT"})
			name := filepath.Join(fuzzVerifyDir, "valid-"+strings.ToLower(k.Alg))
			if err := os.WriteFile(name, corpusFile(tok), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	v, _ := fuzzVerifier(t)
	seeds := validSeeds(t)
	if got, want := len(seeds), len(testissuer.Algorithms); got != want {
		t.Fatalf("got %d valid seeds, want one per algorithm (%d); run with %s=1", got, want, fuzzSeedsEnv)
	}
	algs := map[string]bool{}
	for tok, name := range seeds {
		t.Run(name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v (the keys or claims changed? run with %s=1)", err, fuzzSeedsEnv)
			}
			if c.Subject != "fuzz@example.com" {
				t.Errorf("got sub %q, want fuzz@example.com", c.Subject)
			}
		})
		h, _, _ := strings.Cut(tok, ".")
		hdr, _ := base64.RawURLEncoding.DecodeString(h)
		for _, alg := range testissuer.Algorithms {
			if strings.Contains(string(hdr), `"alg":"`+alg+`"`) {
				algs[alg] = true
			}
		}
	}
	if len(algs) != len(testissuer.Algorithms) {
		t.Errorf("got seeds for %d algorithms, want %d", len(algs), len(testissuer.Algorithms))
	}
}

// fuzzMutations returns hostile variants of a valid token, as extra seeds.
func fuzzMutations(tok string) []string {
	h, rest, _ := strings.Cut(tok, ".")
	p, s, _ := strings.Cut(rest, ".")
	enc := base64.RawURLEncoding.EncodeToString
	return []string{
		"", ".", "..", "...", h, h + "." + p, h + "." + p + ".", "." + p + "." + s,
		tok + ".", tok + "." + s + "." + s, // JWE-like five parts
		h + "." + p + "." + s[:len(s)/2],
		h + "=." + p + "." + s,
		strings.ReplaceAll(tok, "-", "+"),
		" " + tok, tok + "\n",
		enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + p + ".",
		enc([]byte(`{"alg":"none"}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"HS256","kid":"fuzz-rs256"}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"RS256","kid":"fuzz-es256"}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"RS256","kid":"fuzz-rs256","crit":["exp"]}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"RS256","kid":"fuzz-rs256","zip":"DEF"}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"RS256","kid":"fuzz-rs256","jku":"https://evil.example/k"}`)) + "." + p + "." + s,
		enc([]byte(`{"alg":"RS256"}`)) + "." + p + "." + s,
		enc([]byte(`[]`)) + "." + p + "." + s,
		h + "." + enc([]byte(`{"iss":"`+fuzzIssuer+`","aud":"api://default","exp":"tomorrow"}`)) + "." + s,
		h + "." + enc([]byte(`{"iss":"`+fuzzIssuer+`","aud":["x","api://default"],"exp":1e400}`)) + "." + s,
		h + "." + enc([]byte(strings.Repeat("[", 5000))) + "." + s,
		strings.Repeat("a.", 4000),
	}
}

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, every
// refusal must be an invalid-token error (the keys are loaded) or the fetch
// limit of unknown kids, and nothing but a valid seed token, exactly, may be
// accepted.
func FuzzVerify(f *testing.F) {
	v, _ := fuzzVerifier(f)
	seeds := validSeeds(f)
	for tok := range seeds {
		for _, m := range fuzzMutations(tok) {
			f.Add(m)
		}
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err == nil {
			if _, ok := seeds[token]; !ok {
				t.Fatalf("accepted a token that is not a valid seed: %q", token)
			}
			if c.Issuer != fuzzIssuer || c.Subject != "fuzz@example.com" {
				t.Fatalf("accepted with got iss %q sub %q", c.Issuer, c.Subject)
			}
			return
		}
		// The one refusal that is not about the token: once unknown kids
		// have spent the fetches they may cause (the fuzzer makes up many,
		// and fuzzNow stands still, so the cooldown never ends), a further
		// unknown kid is answered "keys unavailable" (503), by design.
		if !errors.Is(err, apiguard.ErrInvalidToken) && !errors.Is(err, apiguard.ErrFetchLimit) {
			t.Fatalf("got error %v (reason %s), want one wrapping ErrInvalidToken or ErrFetchLimit", err, apiguard.Reason(err))
		}
		if len(token) >= 32 && strings.Contains(err.Error(), token) {
			t.Fatalf("the error echoes the token: %v", err)
		}
	})
}

// FuzzBearerToken feeds arbitrary Authorization headers (one, two or none)
// and query strings to BearerToken: it must never panic; a token it returns
// comes from the only Authorization header, whose scheme is Bearer in any
// case, and contains no space; every refusal maps to 400 or 401.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []struct {
		a, b  string
		n     uint8
		query string
	}{
		{"Bearer abc.def.ghi", "", 1, ""},
		{"bearer abc.def.ghi", "", 1, ""},
		{"BEARER   abc.def.ghi  ", "", 1, ""},
		{"Bearer", "", 1, ""},
		{"Bearer ", "", 1, ""},
		{"Bearer a b", "", 1, ""},
		{"Bearer\tabc", "", 1, ""},
		{"Basic dXNlcjpwYXNz", "", 1, ""},
		{"Bearer abc", "Bearer def", 2, ""},
		{"", "", 0, "access_token=abc"},
		{"Bearer abc", "", 1, "access_token=abc"},
		{"Bearer abc", "", 1, "x=1&access_token"},
		{"Bearerabc", "", 1, ""},
		{"DPoP abc", "", 1, ""},
		{" Bearer abc", "", 1, ""},
	} {
		f.Add(s.a, s.b, s.n, s.query)
	}
	f.Fuzz(func(t *testing.T, a, b string, n uint8, query string) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: query}, Header: http.Header{}}
		switch n % 3 {
		case 1:
			r.Header["Authorization"] = []string{a}
		case 2:
			r.Header["Authorization"] = []string{a, b}
		}
		token, err := apiguard.BearerToken(r)
		if err != nil {
			if token != "" {
				t.Fatalf("got token %q with error %v", token, err)
			}
			rec := httptest.NewRecorder()
			(&apiguard.Middleware{}).WriteError(rec, err)
			if rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized {
				t.Fatalf("got status %d for %v, want 400 or 401", rec.Code, err)
			}
			return
		}
		if n%3 != 1 {
			t.Fatalf("got token %q from %d Authorization headers, want a refusal", token, n%3)
		}
		if r.URL.Query().Has("access_token") {
			t.Fatalf("got token %q with access_token in the query %q, want a refusal", token, query)
		}
		if token == "" || strings.Contains(token, " ") {
			t.Fatalf("got token %q from header %q: empty or has a space", token, a)
		}
		scheme, rest, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			t.Fatalf("got token %q from header %q: scheme %q is not Bearer", token, a, scheme)
		}
		if !strings.Contains(rest, token) {
			t.Fatalf("got token %q, not part of the header %q", token, a)
		}
	})
}
