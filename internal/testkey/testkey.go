// Package testkey generates the signing keys that tests and benchmarks sign
// tokens and DPoP proofs with, from a JWS algorithm name, so that the test
// issuer (internal/testissuer), the DPoP test client (internal/dpoptest)
// and the benchmarks' issuer (bench/internal/fixture) make them one way. It
// takes no testing.TB, so that the benchmark commands can use it too.
package testkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// RSABits is the size of the RSA keys New makes: the smallest that
// verifiers accept, and the one most issuers (Okta among them) use.
const RSABits = 2048

// New generates a private key for alg: an RSA key of [RSABits] for RS256,
// RS384, RS512, PS256, PS384 and PS512, an ECDSA key on P-256, P-384 or
// P-521 for ES256, ES384 and ES512, and an Ed25519 key for EdDSA. Any other
// name is an error.
func New(alg string) (crypto.Signer, error) {
	var k crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, err = rsa.GenerateKey(rand.Reader, RSABits)
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("testkey: no key for algorithm %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("testkey: failed to generate a key for %s: %w", alg, err)
	}
	return k, nil
}
