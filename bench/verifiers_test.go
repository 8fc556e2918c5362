package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/bench/internal/fixture"
	"github.com/golang-jwt/jwt/v5"
)

// TestVerifiersAgree checks that every contender is configured with the
// checks it is compared on: each accepts the valid token and refuses a
// bad signature, another issuer, another audience, an expired token and
// another algorithm's key. A contender that skipped a check would be
// measured doing less work.
func TestVerifiersAgree(t *testing.T) {
	iss, err := fixture.New()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	now := time.Now()
	for _, alg := range fixture.Algorithms {
		sign := func(mutate func(jwt.MapClaims)) string {
			c := iss.Claims(now, 1)
			mutate(c)
			tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), c)
			tok.Header["kid"] = fixture.KID(alg)
			s, err := tok.SignedString(iss.Signer(alg))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		good := sign(func(jwt.MapClaims) {})
		dot := strings.LastIndexByte(good, '.')
		other := "ES256"
		if alg == "ES256" {
			other = "RS256"
		}
		otherAlg, err := iss.Token(other, now, 2)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			token string
			ok    bool
		}{
			{"valid", good, true},
			{"bad signature", good[:dot+1] + strings.Repeat("A", len(good)-dot-1), false},
			{"other issuer", sign(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), false},
			{"other audience", sign(func(c jwt.MapClaims) { c["aud"] = "api://other" }), false},
			{"expired", sign(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), false},
			{"algorithm not allowed", otherAlg, false},
		}
		for _, v := range verifiers(t, iss, alg) {
			for _, tt := range tests {
				t.Run(alg+"/"+v.name+"/"+tt.name, func(t *testing.T) {
					err := v.verify(context.Background(), tt.token)
					if got := err == nil; got != tt.ok {
						t.Errorf("got accepted=%v (err %v), want accepted=%v", got, err, tt.ok)
					}
				})
			}
		}
	}
}
