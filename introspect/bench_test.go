package introspect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/internal/sharedstate/sharedstatetest"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/introspect"
)

// The benchmarks here put the cost of introspection beside apiguard's
// BenchmarkVerify:
// an introspection cache hit (in memory and in a real redis-server). The
// cost of DPoP proofs is measured in package dpop (BenchmarkProof).

// BenchmarkIntrospectionCacheHit measures Verify of an opaque token whose
// introspection result is cached, in memory and in Redis; and of a JWT in
// Always mode (local verification, cached, plus the cached
// introspection result).
func BenchmarkIntrospectionCacheHit(b *testing.B) {
	iss := testissuer.New(b)
	now := time.Now()
	jwtToken := iss.Sign(b, "es256", iss.Claims(now), nil)
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"active": true, "token_type": "Bearer", "scope": "read write", "client_id": "0oa-app",
			"sub": "user@example.com", "iss": iss.URL, "aud": apiguard.DefaultAudience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		})
	}))
	b.Cleanup(endpoint.Close)
	ctx := context.Background()
	newV := func(mode introspect.Mode, cache introspect.Cache) *introspect.Verifier {
		av, err := apiguard.New(apiguard.Config{Issuer: iss.URL})
		if err != nil {
			b.Fatal(err)
		}
		v, err := introspect.New(av, introspect.Config{
			ClientID: "rs", ClientSecret: "secret", Endpoint: endpoint.URL, Mode: mode, Cache: cache, MaxCacheTTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		return v
	}
	run := func(v *introspect.Verifier, token string) func(*testing.B) {
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
	b.Run("opaque/memory", run(newV(introspect.Opaque, nil), "opaque-token-0123456789"))
	b.Run("always-jwt/memory", run(newV(introspect.Always, nil), jwtToken))
	b.Run("opaque/redis", run(newV(introspect.Opaque, sharedstatetest.New(b, redistest.New(b).URL(), sharedstate.Config{})), "opaque-token-0123456789"))
}
