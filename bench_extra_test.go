package apiguard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/dpoptest"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/session"
)

// The benchmarks here put the cost of introspection and DPoP beside
// BenchmarkVerify: an introspection cache hit (in memory and in a real
// redis-server), and a DPoP request's checks (token plus proof) against the
// same request with a bearer token.

// benchStore is a sharedstate.Store on a real redis-server.
func benchStore(b *testing.B) *sharedstate.Store {
	client, err := session.NewRedisClient(redistest.New(b).URL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	s, err := sharedstate.New(sharedstate.Config{Client: client})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkIntrospectionCacheHit measures Verify of an opaque token whose
// introspection result is cached, in memory and in Redis; and of a JWT in
// IntrospectAlways mode (local verification, cached, plus the cached
// introspection result).
func BenchmarkIntrospectionCacheHit(b *testing.B) {
	iss := testissuer.New(b)
	now := time.Now()
	jwtToken := iss.Sign(b, "es256", iss.Claims(now), nil)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "token_type": "Bearer", "scope": "read write", "client_id": "0oa-app",
			"sub": "user@example.com", "iss": iss.URL, "aud": DefaultAudience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
	}))
	b.Cleanup(endpoint.Close)
	ctx := context.Background()
	newV := func(mode IntrospectionMode, cache IntrospectionCache) *Verifier {
		v, err := New(Config{Issuer: iss.URL, Introspection: &IntrospectionConfig{
			ClientID: "rs", ClientSecret: "secret", Endpoint: endpoint.URL, Mode: mode, Cache: cache, MaxCacheTTL: time.Hour}})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		return v
	}
	run := func(v *Verifier, token string) func(*testing.B) {
		return func(b *testing.B) {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("opaque/memory", run(newV(IntrospectOpaque, nil), "opaque-token-0123456789"))
	b.Run("always-jwt/memory", run(newV(IntrospectAlways, nil), jwtToken))
	b.Run("opaque/redis", run(newV(IntrospectOpaque, benchStore(b)), "opaque-token-0123456789"))
}

// acceptAll is a replay cache that never sees a replay, to measure the
// proof checks apart from the replay cache.
type acceptAll struct{}

func (acceptAll) Use(context.Context, string, time.Duration) (bool, error) { return true, nil }

// BenchmarkDPoPProof measures Middleware.Check of a request with a
// DPoP-bound token (cached) and a fresh proof: the proof checks alone, with
// the in-memory replay cache and with Redis; and, as the baseline, the same
// request with a bearer token.
func BenchmarkDPoPProof(b *testing.B) {
	iss := testissuer.New(b)
	ctx := context.Background()
	v, err := New(Config{Issuer: iss.URL})
	if err != nil {
		b.Fatal(err)
	}
	if err := v.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	const target = "https://api.example.com/orders"
	plain := iss.Sign(b, "es256", iss.Claims(time.Now()), nil)
	b.Run("bearer-baseline", func(b *testing.B) {
		m := &Middleware{Verifier: v}
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
			cache func() ReplayCache
		}{
			{"checks", func() ReplayCache { return acceptAll{} }},
			{"memory", func() ReplayCache { return nil }},
			{"redis", func() ReplayCache { return benchStore(b) }},
		} {
			b.Run(alg+"/"+rc.name, func(b *testing.B) {
				d, err := NewDPoP(DPoPConfig{ReplayCache: rc.cache()})
				if err != nil {
					b.Fatal(err)
				}
				m := &Middleware{Verifier: v, DPoP: d}
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
