// Package dpoptest makes DPoP proofs (RFC 9449) for tests: a client key, its
// JWK thumbprint, and proofs that are well formed or broken on purpose.
//
// # Use
//
//	k := dpoptest.NewKey(t, "ES256")
//	proof := k.Proof(t, "GET", "https://api.example.com/secure-data", accessToken)
//	// or, to break one claim or header:
//	h, c := k.Header(), k.Claims("GET", url, accessToken, time.Now())
//	c["htm"] = "POST"
//	proof = k.Sign(t, h, c)
package dpoptest

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/testkey"
)

// Key is a client's DPoP key pair.
type Key struct {
	Alg  string
	Priv crypto.Signer
	// Public is the public JWK, as it goes in a proof's jwk header.
	Public jose.JSONWebKey
}

// NewKey generates a key for alg: ES256, RS256, PS256, EdDSA, or any other
// algorithm [testkey.New] knows.
func NewKey(t testing.TB, alg string) *Key {
	t.Helper()
	priv, err := testkey.New(alg)
	if err != nil {
		t.Fatalf("dpoptest: %v", err)
	}
	return &Key{Alg: alg, Priv: priv, Public: jose.JSONWebKey{Key: priv.Public()}}
}

// JKT returns the key's SHA-256 JWK thumbprint (RFC 7638), base64url: the
// cnf.jkt of tokens bound to it.
func (k *Key) JKT() string {
	sum, err := k.Public.Thumbprint(crypto.SHA256)
	if err != nil {
		panic("dpoptest: thumbprint of a generated key: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(sum)
}

// Header returns a proof's protected header: typ dpop+jwt, alg, jwk.
func (k *Key) Header() map[string]any {
	return map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": k.Public}
}

// Claims returns a proof's claims for a request: a random jti, htm, htu,
// iat now, and ath when token is not empty.
func (k *Key) Claims(method, htu, token string, now time.Time) map[string]any {
	var id [16]byte
	_, _ = rand.Read(id[:])
	c := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(id[:]),
		"htm": method,
		"htu": htu,
		"iat": now.Unix(),
	}
	if token != "" {
		c["ath"] = ATH(token)
	}
	return c
}

// Proof returns a valid proof for a request with token ("" for a token
// request).
func (k *Key) Proof(t testing.TB, method, htu, token string) string {
	t.Helper()
	return k.Sign(t, k.Header(), k.Claims(method, htu, token, time.Now()))
}

// Sign signs claims with header as given, with the key and the algorithm in
// header["alg"] (k.Alg when absent), whatever else header says.
func (k *Key) Sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	alg, _ := header["alg"].(string)
	if alg == "" || jwt.GetSigningMethod(alg) == nil || alg == "none" {
		alg = k.Alg
	}
	var key any = k.Priv
	if alg[0] == 'H' {
		key = []byte("a symmetric key anyone could guess")
	}
	sig, err := jwt.GetSigningMethod(alg).Sign(input, key)
	if err != nil {
		t.Fatalf("dpoptest: failed to sign with %s: %v", alg, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ATH returns the ath claim for token: base64url(SHA-256(token)).
func ATH(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
