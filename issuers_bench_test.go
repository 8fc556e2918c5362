package apiguard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// BenchmarkIssuersVerify puts Verify of an Issuers with three issuers
// beside a lone Verifier, for a cached token and a fresh one (cache off:
// every call checks the signature). The token is the last issuer's, the
// most an Issuers has to look through.
//
// issuers=1 and issuers=3 give each one's cost and allocations. The goal
// (three within 5 % of one) is finer than what a shared machine drifts
// between two runs a second apart, so interleaved measures the ratio
// itself: blocks of about 0.1 ms of one and of three alternate (in the
// order 1 3, 3 1, 1 3, …, so that neither always runs on the caches the
// other warmed), and "ratio" is the time of all of three's blocks over all
// of one's. A pause of the machine then lands on either side alike.
func BenchmarkIssuersVerify(b *testing.B) {
	issuers := []*testissuer.Issuer{testissuer.New(b), testissuer.New(b), testissuer.New(b)}
	ctx := context.Background()
	last := issuers[2]
	build := func(n int, disable bool) TokenVerifier {
		if n == 1 {
			v, err := New(Config{Name: "c", Issuer: last.URL, DisableCache: disable})
			if err != nil {
				b.Fatal(err)
			}
			return v
		}
		var list []Issuer
		for i, is := range issuers {
			list = append(list, Issuer{Config: Config{Name: fmt.Sprint("i", i), Issuer: is.URL, DisableCache: disable}})
		}
		m, err := NewIssuers(list...)
		if err != nil {
			b.Fatal(err)
		}
		return m
	}
	for _, alg := range []struct{ name, kid string }{{"RS256", "rs256"}, {"ES256", "es256"}} {
		token := last.Sign(b, alg.kid, last.Claims(time.Now()), nil)
		for _, mode := range []string{"cached", "fresh"} {
			one, three := build(1, mode == "fresh"), build(3, mode == "fresh")
			for _, tv := range []TokenVerifier{one, three} {
				if err := tv.Ready(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := tv.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
			name := fmt.Sprintf("alg=%s/token=%s/", alg.name, mode)
			for _, c := range []struct {
				n  int
				tv TokenVerifier
			}{{1, one}, {3, three}} {
				tv := c.tv
				b.Run(fmt.Sprintf("%sissuers=%d", name, c.n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := tv.Verify(ctx, token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			block := 512 // about 0.1 ms of cached Verify calls
			if mode == "fresh" {
				block = 2
			}
			b.Run(name+"interleaved", func(b *testing.B) {
				benchInterleaved(b, block, func(tv TokenVerifier) {
					if _, err := tv.Verify(ctx, token); err != nil {
						b.Fatal(err)
					}
				}, one, three)
			})
		}
	}
}

// benchInterleaved times blocks of calls of verify on one and on three,
// alternating (see BenchmarkIssuersVerify), one pair of blocks per
// iteration, and reports each one's ns per call and their ratio.
func benchInterleaved(b *testing.B, block int, verify func(TokenVerifier), one, three TokenVerifier) {
	run := func(tv TokenVerifier) time.Duration {
		start := time.Now()
		for range block {
			verify(tv)
		}
		return time.Since(start)
	}
	var t1, t3 time.Duration
	odd := false
	for b.Loop() {
		if odd {
			t3 += run(three)
			t1 += run(one)
		} else {
			t1 += run(one)
			t3 += run(three)
		}
		odd = !odd
	}
	calls := float64(b.N * block)
	b.ReportMetric(0, "ns/op") // an iteration is two blocks: not a useful figure
	b.ReportMetric(float64(t1)/calls, "ns/verify-1")
	b.ReportMetric(float64(t3)/calls, "ns/verify-3")
	b.ReportMetric(float64(t3)/float64(t1), "ratio")
}
