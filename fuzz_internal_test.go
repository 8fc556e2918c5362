package apiguard

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"log/slog"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzParseJWKS feeds arbitrary bytes to parseJWKS, the parser of the
// issuer's key set: it must never panic; it fails exactly when it returns no
// key; and every key it returns is usable: a public key of a supported type
// (RSA of 2048 bits or more, ECDSA on P-256/384/521, Ed25519), with a
// unique kid, an allowed alg or none, fitting at least one allowed
// algorithm, and one that a signature check runs against without panicking.
func FuzzParseJWKS(f *testing.F) {
	for _, s := range []string{
		`{"keys":[]}`,
		`{"keys":null}`,
		`{"keys":[{}]}`,
		`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hs"}]}`,
		`{"keys":[{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-256","kid":"off-curve","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed","alg":"HS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"OKP","crv":"X25519","kid":"x","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`not json`,
		`[]`,
		`{"keys":{}}`,
		`{"keys":[1,"two",null,[],{"kty":null}]}`,
	} {
		f.Add([]byte(s))
	}
	log := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, skipped, err := parseJWKS(body, log)
		if skipped < 0 {
			t.Fatalf("got %d skipped", skipped)
		}
		if (err == nil) != (len(keys) > 0) {
			t.Fatalf("got %d keys and error %v: want keys exactly when there is no error", len(keys), err)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k.kid] {
				t.Fatalf("kid %q returned twice", k.kid)
			}
			seen[k.kid] = true
			if k.alg != "" && !knownAlgorithm(k.alg) {
				t.Fatalf("key %q: got alg %q, not an allowed algorithm", k.kid, k.alg)
			}
			switch pub := k.pub.(type) {
			case *rsa.PublicKey:
				if pub == nil || pub.N == nil || pub.N.BitLen() < 2048 {
					t.Fatalf("key %q: RSA key missing or under 2048 bits", k.kid)
				}
			case *ecdsa.PublicKey:
				if pub == nil || pub.Curve == nil {
					t.Fatalf("key %q: incomplete ECDSA key", k.kid)
				}
				if _, err := pub.Bytes(); err != nil {
					t.Fatalf("key %q: not a valid ECDSA public key: %v", k.kid, err)
				}
			case ed25519.PublicKey:
				if len(pub) != ed25519.PublicKeySize {
					t.Fatalf("key %q: Ed25519 key of %d bytes", k.kid, len(pub))
				}
			default:
				t.Fatalf("key %q: got key type %T, want RSA, ECDSA or Ed25519 public key", k.kid, k.pub)
			}
			fits := 0
			for _, alg := range DefaultAlgorithms {
				if !k.fits(alg) {
					continue
				}
				fits++
				// A wrong signature of the right size for the key must be
				// refused, not crash.
				sig := make([]byte, sigSize(k))
				if err := jwt.GetSigningMethod(alg).Verify("e30.e30", sig, k.pub); err == nil {
					t.Fatalf("key %q: %s verified an all-zero signature", k.kid, alg)
				}
			}
			if fits == 0 {
				t.Fatalf("key %q (%T, alg %q) fits no allowed algorithm", k.kid, k.pub, k.alg)
			}
		}
	})
}

// sigSize is the size of a signature by k's key.
func sigSize(k *key) int {
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return pub.Size()
	case *ecdsa.PublicKey:
		return 2 * ((pub.Curve.Params().BitSize + 7) / 8)
	}
	return ed25519.SignatureSize
}
