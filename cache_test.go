package apiguard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// cacheTokens returns n distinct random strings of the length of an
// Okta-shaped RS256 token (about 750 bytes), for cache tests and benchmarks
// that need not pay for signing.
func cacheTokens(tb testing.TB, n int) []string {
	tb.Helper()
	tokens := make([]string, n)
	buf := make([]byte, 560)
	for i := range tokens {
		if _, err := rand.Read(buf); err != nil {
			tb.Fatal(err)
		}
		tokens[i] = base64.RawURLEncoding.EncodeToString(buf)
	}
	return tokens
}

// TestCacheHitNeedsSameToken checks that a hit requires the very token that
// was stored: a token that lands on the same entry (the same hash, forced
// here) but differs in any byte, or in length, misses.
func TestCacheHitNeedsSameToken(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k := &key{kid: "k"}
	claims := &Claims{Expiry: now.Add(time.Hour)}
	stored := strings.Repeat(cacheTokens(t, 1)[0], 2)[:749] // not a multiple of 8: the tail loop counts
	flip := func(i int) string {
		b := []byte(stored)
		b[i] ^= 1
		return string(b)
	}
	tests := []struct {
		name  string
		token string
		hit   bool
	}{
		{"same token", stored, true},
		{"same token, another string", strings.Clone(stored), true},
		{"first byte differs", flip(0), false},
		{"middle byte differs", flip(400), false},
		{"last word's byte differs", flip(743), false},
		{"last byte differs", flip(748), false},
		{"prefix", stored[:748], false},
		{"longer", stored + "A", false},
		{"empty", "", false},
	}
	c := newTokenCache(10)
	h := c.hash(stored)
	c.put(h, stored, claims, k, now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.get(h, tt.token, now) != nil
			if got != tt.hit {
				t.Errorf("got hit %v, want %v", got, tt.hit)
			}
		})
	}
}

// TestCacheEntryLifetime checks that an entry is returned until just before
// the token's exp and never at or after it, that one whose key left the key
// set is not returned, and that a token already at its exp (accepted within
// the leeway) is not stored at all.
func TestCacheEntryLifetime(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name    string
		exp     time.Time
		at      time.Time
		removed bool
		hit     bool
		stored  bool
	}{
		{"fresh", now.Add(time.Hour), now, false, true, true},
		{"just before exp", now.Add(time.Hour), now.Add(time.Hour - time.Nanosecond), false, true, true},
		{"at exp", now.Add(time.Hour), now.Add(time.Hour), false, false, true},
		{"after exp", now.Add(time.Hour), now.Add(2 * time.Hour), false, false, true},
		{"key removed", now.Add(time.Hour), now, true, false, true},
		{"stored at its exp", now, now, false, false, false},
		{"stored past its exp (in the leeway)", now.Add(-30 * time.Second), now, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache(10)
			k := &key{kid: "k"}
			tok := "token"
			c.put(c.hash(tok), tok, &Claims{Expiry: tt.exp}, k, now)
			k.removed.Store(tt.removed)
			if got := c.len() == 1; got != tt.stored {
				t.Errorf("got stored %v, want %v", got, tt.stored)
			}
			if got := c.get(c.hash(tok), tok, tt.at) != nil; got != tt.hit {
				t.Errorf("got hit %v, want %v", got, tt.hit)
			}
		})
	}
}

// TestCacheEvictsExpiredFirst checks that when the cache is full an
// insertion drops expired entries of its shard rather than live ones.
func TestCacheEvictsExpiredFirst(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k := &key{kid: "k"}
	c := newTokenCache(4)
	// Four tokens of one shard: two expire soon, two live long.
	var toks []string
	for i := 0; len(toks) < 5; i++ {
		tok := fmt.Sprintf("t-%d", i)
		if c.hash(tok)>>58%cacheShards == 0 {
			toks = append(toks, tok)
		}
	}
	for i, tok := range toks[:4] {
		exp := now.Add(time.Hour)
		if i < 2 {
			exp = now.Add(time.Minute)
		}
		c.put(c.hash(tok), tok, &Claims{Expiry: exp}, k, now)
	}
	later := now.Add(2 * time.Minute)
	c.put(c.hash(toks[4]), toks[4], &Claims{Expiry: now.Add(time.Hour)}, k, later)
	if got := c.len(); got != 3 {
		t.Errorf("got %d entries, want 3 (both expired ones dropped)", got)
	}
	for _, tok := range []string{toks[2], toks[3], toks[4]} {
		if c.get(c.hash(tok), tok, later) == nil {
			t.Errorf("got a miss for live token %q, want a hit", tok)
		}
	}
}

// TestCacheConcurrent puts and gets from many goroutines (run it with
// -race): every goroutine must find its own latest token, and the cache
// must stay within its bound.
func TestCacheConcurrent(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	const size, workers, perWorker = 256, 8, 2000
	c := newTokenCache(size)
	k := &key{kid: "k"}
	claims := &Claims{Expiry: now.Add(time.Hour)}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				tok := fmt.Sprintf("w%d-t%d", w, i)
				h := c.hash(tok)
				c.put(h, tok, claims, k, now)
				if c.get(h, tok, now) == nil && c.len() < size/2 {
					errs <- fmt.Errorf("worker %d: got a miss for the token just stored in a cache of %d entries", w, c.len())
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, limit := c.len(), size+workers; got > limit {
		t.Errorf("got %d entries, want at most %d", got, limit)
	}
	if got, want := int(c.n.Load()), c.len(); got != want {
		t.Errorf("got a count of %d, want the %d entries held", got, want)
	}
}

// TestVerifyCacheHitNoAllocs checks through Verify that a cached token is
// answered without allocating, and that a token differing from it in one
// byte of its signature is not answered from the cache.
func TestVerifyCacheHitNoAllocs(t *testing.T) {
	iss := testissuer.New(t)
	ctx := context.Background()
	v, err := New(Config{Issuer: iss.URL})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Sign(t, "rs256", iss.Claims(time.Now()), nil)
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(100, func() {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}); got != 0 {
		t.Errorf("got %v allocs per cached Verify, want 0", got)
	}
	// Change the signature's second-last character (the last one's low bits
	// may be unused by base64url).
	swap := "A"
	if tok[len(tok)-2] == 'A' {
		swap = "B"
	}
	bad := tok[:len(tok)-2] + swap + tok[len(tok)-1:]
	if _, err := v.Verify(ctx, bad); err == nil {
		t.Errorf("got a tampered token accepted after its original was cached, want a refusal")
	}
}

// BenchmarkCacheMiss measures the cache's own work for a fresh token, the
// part of a miss that a verifier with the cache off does not do: the hash,
// the failed lookup and the insertion into a full cache (with its
// eviction). put leaves the hash out; hit is a lookup that finds the token;
// sha256 is the digest the cache used to key its entries by, for scale.
func BenchmarkCacheMiss(b *testing.B) {
	const tokens, size = 1024, 64
	toks := cacheTokens(b, tokens)
	now := time.Now()
	k := &key{kid: "k"}
	claims := &Claims{Expiry: now.Add(time.Hour)}
	b.Run("hash+get+put", func(b *testing.B) {
		c := newTokenCache(size)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tok := toks[i]
			h := c.hash(tok)
			if c.get(h, tok, now) == nil {
				c.put(h, tok, claims, k, now)
			}
			i = (i + 1) % tokens
		}
	})
	b.Run("put", func(b *testing.B) {
		c := newTokenCache(size)
		hs := make([]uint64, tokens)
		for i, tok := range toks {
			hs[i] = c.hash(tok)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			c.put(hs[i], toks[i], claims, k, now)
			i = (i + 1) % tokens
		}
	})
	b.Run("hit", func(b *testing.B) {
		c := newTokenCache(size)
		tok := toks[0]
		c.put(c.hash(tok), tok, claims, k, now)
		b.ReportAllocs()
		for b.Loop() {
			if c.get(c.hash(tok), tok, now) == nil {
				b.Fatal("miss")
			}
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		var x byte
		for b.Loop() {
			sum := sha256.Sum256(stringBytes(toks[i]))
			x ^= sum[0]
			i = (i + 1) % tokens
		}
		_ = x
	})
}
