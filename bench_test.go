package apiguard

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/floor"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// The benchmarks here put Verify beside the floor: the least work any
// verifier must do for the same token with the same checks. Peers and the
// HTTP overhead are measured in the bench/ module (its own go.mod), and
// scripts/bench.sh turns both into BENCHMARKS.md.

// benchAlgs are the algorithms benchmarked, with the test issuer's kids.
var benchAlgs = []struct{ alg, kid string }{{"RS256", "rs256"}, {"ES256", "es256"}, {"EdDSA", "eddsa"}}

// BenchmarkVerify measures, for each algorithm and in one run, the floor,
// Verify with the cache off (every call checks the signature) and Verify
// with a cache hit. Keys are fetched before the timer starts.
func BenchmarkVerify(b *testing.B) {
	iss := testissuer.New(b)
	ctx := context.Background()
	newV := func(disable bool) *Verifier {
		v, err := New(Config{Issuer: iss.URL, DisableCache: disable})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		return v
	}
	cold, cached := newV(true), newV(false)
	for _, a := range benchAlgs {
		token := iss.Sign(b, a.kid, iss.Claims(time.Now()), nil)
		keys := map[string]crypto.PublicKey{a.kid: iss.Key(a.kid).Private.Public()}
		b.Run(a.alg+"/floor", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := floor.Verify(token, keys, a.alg, iss.URL, DefaultAudience, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(a.alg+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cold.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(a.alg+"/cached", func(b *testing.B) {
			if _, err := cached.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := cached.Verify(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFloorVerify checks that the floor does the checks it is compared on,
// so a floor that skipped work could not make Verify look slow.
func TestFloorVerify(t *testing.T) {
	iss := testissuer.New(t)
	now := time.Now()
	for _, a := range benchAlgs {
		keys := map[string]crypto.PublicKey{a.kid: iss.Key(a.kid).Private.Public()}
		good := iss.Sign(t, a.kid, iss.Claims(now), nil)
		tampered := good[:len(good)-4] + "AAAA"
		claims := func(kv ...any) string {
			c := iss.Claims(now)
			for i := 0; i < len(kv); i += 2 {
				c[kv[i].(string)] = kv[i+1]
			}
			return iss.Sign(t, a.kid, c, nil)
		}
		tests := []struct {
			name  string
			token string
			ok    bool
		}{
			{"valid", good, true},
			{"aud array", claims("aud", []string{"x", DefaultAudience}), true},
			{"bad signature", tampered, false},
			{"wrong issuer", claims("iss", "https://evil.example"), false},
			{"wrong audience", claims("aud", "api://other"), false},
			{"expired", claims("exp", now.Add(-time.Hour).Unix()), false},
			{"unknown kid", iss.Sign(t, a.kid, iss.Claims(now), map[string]any{"kid": "other"}), false},
		}
		for _, tt := range tests {
			t.Run(a.alg+"/"+tt.name, func(t *testing.T) {
				err := floor.Verify(tt.token, keys, a.alg, iss.URL, DefaultAudience, now)
				if got := err == nil; got != tt.ok {
					t.Errorf("floor.Verify: got ok=%v (err %v), want ok=%v", got, err, tt.ok)
				}
			})
		}
	}
}

// TestCacheHoldsSize checks that a cache of size n holds n tokens: the bound
// is global, so tokens that spread unevenly over the shards are not evicted
// early (with a bound per shard, 116 of 1,000 missed, each miss paying a
// full signature check). It also checks that the bound holds when more
// tokens arrive.
func TestCacheHoldsSize(t *testing.T) {
	now := time.Now()
	k := &key{kid: "k"}
	claims := &Claims{Expiry: now.Add(time.Hour)}
	for _, size := range []int{64, 1000, 20_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newTokenCache(size)
			for i := range size {
				tok := fmt.Sprintf("token-%d", i)
				c.put(c.hash(tok), tok, claims, k, now)
			}
			misses := 0
			for i := range size {
				if tok := fmt.Sprintf("token-%d", i); c.get(c.hash(tok), tok, now) == nil {
					misses++
				}
			}
			if misses != 0 {
				t.Errorf("got %d misses of %d tokens in a cache of %d, want 0", misses, size, size)
			}
			for i := range size {
				tok := fmt.Sprintf("more-%d", i)
				c.put(c.hash(tok), tok, claims, k, now)
			}
			if got, limit := c.len(), size+2*cacheShards; got < size || got > limit {
				t.Errorf("got %d entries after %d puts into a cache of %d, want %d to %d", got, 2*size, size, size, limit)
			}
		})
	}
}

// TestPlainStrings checks the decoding fast paths against encoding/json:
// where they answer, they must answer exactly what json.Unmarshal does, and
// they must answer for the plain literals real tokens carry.
func TestPlainStrings(t *testing.T) {
	tests := []struct {
		in   string
		fast bool // the fast path should take it
	}{
		{`"api://default"`, true},
		{`""`, true},
		{`"é😀"`, true},
		{`"a\"b"`, false},
		{`"\u00e9"`, false},
		{"\"\xff\"", false},
		{`[]`, true},
		{`[ ]`, true},
		{`["openid","profile","read"]`, true},
		{"[ \"a\" ,\n\t\"b\" ]", true},
		{`["a\\b"]`, false},
		{`["a",1]`, false},
		{`[null]`, false},
		{`["a"]x`, false},
		{`["a",]`, false},
		{"[\"\xff\"]", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var got any
			var ok bool
			var want any
			if tt.in[0] == '[' {
				got, ok = plainStrings([]byte(tt.in))
				var v []string
				if err := json.Unmarshal([]byte(tt.in), &v); err == nil {
					want = v
				}
			} else {
				got, ok = plainString([]byte(tt.in))
				var v string
				if err := json.Unmarshal([]byte(tt.in), &v); err == nil {
					want = v
				}
			}
			if ok != tt.fast {
				t.Fatalf("got fast path %v, want %v", ok, tt.fast)
			}
			if ok && fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("got %#v, want %#v (encoding/json)", got, want)
			}
		})
	}
}

// FuzzPlainStrings checks that on any valid JSON the fast paths either
// decline or agree with encoding/json.
func FuzzPlainStrings(f *testing.F) {
	for _, s := range []string{`"a"`, `["a","b"]`, `[ "x" , "y" ]`, `"a\"b"`, `["a",1]`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if got, ok := plainString(b); ok {
			var want string
			if err := json.Unmarshal(b, &want); err != nil || got != want {
				t.Errorf("plainString(%q) = %q, encoding/json gives %q, %v", b, got, want, err)
			}
		}
		if got, ok := plainStrings(b); ok {
			var want []string
			if err := json.Unmarshal(b, &want); err != nil || !slices.Equal(got, want) {
				t.Errorf("plainStrings(%q) = %q, encoding/json gives %q, %v", b, got, want, err)
			}
		}
	})
}

// BenchmarkVerifyMiss measures what a fresh token costs with the cache on:
// miss cycles through missTokens distinct tokens with a cache of
// missTokens/16 entries, so a token is evicted long before it comes round
// again and every call verifies, inserts and evicts. cold cycles through the
// same tokens with the cache off, so the difference between the two is the
// cache's own cost on a miss (both pay for tokens that are not in the CPU's
// caches).
func BenchmarkVerifyMiss(b *testing.B) {
	const missTokens = 1024
	iss := testissuer.New(b)
	ctx := context.Background()
	newV := func(disable bool) *Verifier {
		v, err := New(Config{Issuer: iss.URL, DisableCache: disable, CacheSize: missTokens / 16})
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Ready(ctx); err != nil {
			b.Fatal(err)
		}
		return v
	}
	now := time.Now()
	for _, a := range benchAlgs {
		tokens := make([]string, missTokens)
		for i := range tokens {
			c := iss.Claims(now)
			c["jti"] = fmt.Sprintf("AT.miss-%d", i)
			tokens[i] = iss.Sign(b, a.kid, c, nil)
		}
		for _, mode := range []struct {
			name    string
			disable bool
		}{{"cold", true}, {"miss", false}} {
			v := newV(mode.disable)
			b.Run(a.alg+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				next := 0
				for b.Loop() {
					if _, err := v.Verify(ctx, tokens[next]); err != nil {
						b.Fatal(err)
					}
					next = (next + 1) % len(tokens)
				}
			})
		}
	}
}
