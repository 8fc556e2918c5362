package bench

import (
	"context"
	"testing"
	"time"

	"github.com/apiguard/apiguard/bench/internal/fixture"
)

// BenchmarkVerify measures, in one run and for RS256, ES256 and EdDSA, the
// floor, apiguard with the cache off (cold) and on a cache hit (cached),
// and each peer, all verifying the same Okta-shaped token with the same
// checks. Keys are fetched before the timer starts.
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
		for _, v := range verifiers(b, iss, alg) {
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
