// Package floor is the baseline apiguard's benchmarks compare against: the
// least work any verifier of a JWS access token must do, written plainly.
package floor

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"time"
)

// Verify is the floor: a plain hand-written verifier with no caching.
// It splits on dots, base64url-decodes the three parts, JSON-decodes the
// header and the claims (into a map, as such code does), hashes with
// SHA-256 (not for EdDSA, which hashes by itself), runs the standard
// library's signature check, and applies the checks every verifier here is
// configured with: alg, key by kid, iss, aud, exp.
//
// The root package's benchmarks and the bench module both measure it, so
// every ratio to the floor is to the same code.
func Verify(token string, keys map[string]crypto.PublicKey, alg, iss, aud string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not three parts")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return err
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	var h struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return err
	}
	if h.Alg != alg {
		return errors.New("alg")
	}
	pub, ok := keys[h.Kid]
	if !ok {
		return errors.New("kid")
	}
	var c map[string]any
	if err := json.Unmarshal(pb, &c); err != nil {
		return err
	}
	signed := token[:len(parts[0])+1+len(parts[1])]
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		sum := sha256.Sum256([]byte(signed))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			return err
		}
	case *ecdsa.PublicKey:
		sum := sha256.Sum256([]byte(signed))
		if len(sig) != 64 {
			return errors.New("signature size")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, sum[:], r, s) {
			return errors.New("signature")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, []byte(signed), sig) {
			return errors.New("signature")
		}
	default:
		return errors.New("key type")
	}
	if c["iss"] != iss {
		return errors.New("iss")
	}
	switch a := c["aud"].(type) {
	case string:
		if a != aud {
			return errors.New("aud")
		}
	case []any:
		found := false
		for _, v := range a {
			found = found || v == aud
		}
		if !found {
			return errors.New("aud")
		}
	default:
		return errors.New("aud")
	}
	exp, ok := c["exp"].(float64)
	if !ok || now.After(time.Unix(int64(exp), 0).Add(time.Minute)) {
		return errors.New("exp")
	}
	return nil
}
