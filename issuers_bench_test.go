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
// most an Issuers has to look through. One and three alternate within each
// run, so a busy machine slows both alike.
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
			for _, n := range []int{1, 3} {
				tv := build(n, mode == "fresh")
				if err := tv.Ready(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := tv.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
				b.Run(fmt.Sprintf("alg=%s/token=%s/issuers=%d", alg.name, mode, n), func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						if _, err := tv.Verify(ctx, token); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
