package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apiguard/apiguard"

	"github.com/apiguard/apiguard/bench/internal/fixture"
)

// BenchmarkVerify measures, in one run and for RS256, ES256 and EdDSA, the
// floor, apiguard with the cache off (cold), on a cache hit (cached) and on
// a cache miss (miss: what a fresh token costs with the cache on), and each
// peer, all verifying the same Okta-shaped token with the same checks. Keys
// are fetched before the timer starts.
func BenchmarkVerify(b *testing.B) {
	iss, err := fixture.New()
	if err != nil {
		b.Fatal(err)
	}
	defer iss.Close()
	ctx := context.Background()
	for _, alg := range fixture.Algorithms {
		token, err := iss.Token(alg, time.Now(), 0)
		if err != nil {
			b.Fatal(err)
		}
		vs := verifiers(b, iss, alg)
		miss, err := missVerifier(iss, alg)
		if err != nil {
			b.Fatal(err)
		}
		vs = slices.Insert(vs, 3, miss)
		for _, v := range vs {
			b.Run(alg+"/"+v.name, func(b *testing.B) {
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					if err := v.verify(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// missTokens is how many distinct tokens apiguard-miss cycles through, and
// missCache the size of its cache: with 16 insertions per entry between
// two uses of a token, a token survives in the randomly evicting cache with
// probability about e^-16, so every call is a miss that verifies, inserts
// and evicts.
const (
	missTokens = 1024
	missCache  = missTokens / 16
)

// missVerifier is apiguard with its cache on, verifying a token it has not
// got in its cache: it ignores the token it is given and cycles through
// missTokens tokens of its own.
func missVerifier(iss *fixture.Issuer, alg string) (verifier, error) {
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, CacheSize: missCache, Algorithms: []string{alg}})
	if err != nil {
		return verifier{}, err
	}
	if err := v.Ready(context.Background()); err != nil {
		return verifier{}, err
	}
	tokens := make([]string, missTokens)
	now := time.Now()
	for i := range tokens {
		if tokens[i], err = iss.Token(alg, now, 1000+i); err != nil {
			return verifier{}, fmt.Errorf("failed to mint: %w", err)
		}
	}
	next := 0
	return verifier{"apiguard-miss", func(ctx context.Context, _ string) error {
		t := tokens[next]
		next = (next + 1) % len(tokens)
		_, err := v.Verify(ctx, t)
		return err
	}}, nil
}
