package testkey_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/testkey"
)

// TestNew checks that the key for each algorithm signs what the algorithm
// verifies, with the key's own public half.
func TestNew(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k, err := testkey.New(alg)
			if err != nil {
				t.Fatal(err)
			}
			m := jwt.GetSigningMethod(alg)
			sig, err := m.Sign("header.payload", k)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if err := m.Verify("header.payload", sig, k.Public()); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
	for _, alg := range []string{"HS256", "none", "ES256K", "rs256", ""} {
		if k, err := testkey.New(alg); err == nil {
			t.Errorf("New(%q): got a %T, want an error", alg, k)
		}
	}
}
