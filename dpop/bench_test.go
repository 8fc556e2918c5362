package dpop_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/internal/sharedstate/sharedstatetest"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// acceptAll is a replay cache that never sees a replay, to measure the
// proof checks apart from the replay cache.
type acceptAll struct{}

func (acceptAll) Use(context.Context, string, time.Duration) (bool, error) { return true, nil }

// BenchmarkProof measures Middleware.Check of a request with a
// DPoP-bound token (cached) and a fresh proof: the proof checks alone, with
// the in-memory replay cache and with Redis; and, as the baseline, the same
// request with a bearer token.
func BenchmarkProof(b *testing.B) {
	iss := testissuer.New(b)
	ctx := context.Background()
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	const target = "https://api.example.com/orders"
	plain := iss.Sign(b, "es256", iss.Claims(time.Now()), nil)
	b.Run("bearer-baseline", func(b *testing.B) {
		m := &apiguard.Middleware{Verifier: v}
		r := httptest.NewRequest(http.MethodGet, target, nil)
		r.Header.Set("Authorization", "Bearer "+plain)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Check(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		key := dpoptest.NewKey(b, alg)
		token := iss.Sign(b, "es256", testissuer.With(iss.Claims(time.Now()), "cnf", map[string]string{"jkt": key.JKT()}), nil)
		// Proofs are made ahead, outside the timer: each can be used once.
		const batch = 2048
		proofs := make([]string, batch)
		fill := func() {
			for i := range proofs {
				proofs[i] = key.Proof(b, http.MethodGet, target, token)
			}
		}
		fill()
		for _, rc := range []struct {
			name  string
			cache func() dpop.ReplayCache
		}{
			{"checks", func() dpop.ReplayCache { return acceptAll{} }},
			{"memory", func() dpop.ReplayCache { return nil }},
			{"redis", func() dpop.ReplayCache { return sharedstatetest.New(b, redistest.New(b).URL(), sharedstate.Config{}) }},
		} {
			b.Run(alg+"/"+rc.name, func(b *testing.B) {
				d, err := dpop.New(dpop.Config{ReplayCache: rc.cache()})
				if err != nil {
					b.Fatal(err)
				}
				m := &apiguard.Middleware{Verifier: v, Binding: d}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if i > 0 && i%batch == 0 {
						b.StopTimer()
						fill()
						b.StartTimer()
					}
					r := httptest.NewRequest(http.MethodGet, target, nil)
					r.Header.Set("Authorization", "DPoP "+token)
					r.Header.Set("DPoP", proofs[i%batch])
					if _, err := m.Check(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
