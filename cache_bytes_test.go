package apiguard

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// TestCacheByteBound floods a cache whose count bound would allow 1,000
// entries with tokens near MaxTokenSize: the estimated bytes of what it
// keeps must never pass its byte bound, and the count it reports must be
// what its shards hold. Without the byte bound it would keep about 1,000
// such tokens, several megabytes.
func TestCacheByteBound(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(1000)
	c.maxBytes = 200 << 10
	k := &key{kid: "k"}
	long := strings.Repeat("x", MaxTokenSize-100)
	for i := range 3000 {
		tok := long + strconv.Itoa(i)
		cl := &Claims{Expiry: now.Add(time.Hour), Subject: strings.Repeat("s", 2000), raw: long}
		c.put(c.hash(tok), tok, cl, k, now)
		if got := c.bytes.Load(); got > c.maxBytes {
			t.Fatalf("after %d tokens: %d bytes estimated, want at most %d", i+1, got, c.maxBytes)
		}
	}
	var sum int64
	n := 0
	for i := range c.shards {
		for _, e := range c.shards[i].m {
			sum += int64(e.bytes)
			n++
		}
	}
	if sum != c.bytes.Load() || int64(n) != c.n.Load() {
		t.Errorf("shards hold %d entries of %d bytes, counters say %d and %d", n, sum, c.n.Load(), c.bytes.Load())
	}
	if n == 0 || n > 20 {
		t.Errorf("got %d entries of about 18 KB each in 200 KB, want between 1 and 11", n)
	}

	// A token whose entry alone would pass the bound is not stored.
	small := newTokenCache(10)
	small.maxBytes = 1000
	tok := strings.Repeat("y", 800)
	small.put(small.hash(tok), tok, &Claims{Expiry: now.Add(time.Hour)}, k, now)
	if small.len() != 0 || small.bytes.Load() != 0 {
		t.Errorf("got %d entries, %d bytes after a token bigger than the bound, want none", small.len(), small.bytes.Load())
	}

	// Ordinary tokens fill the count bound, as before.
	c = newTokenCache(500)
	for i := range 2000 {
		tok := strings.Repeat("z", 480) + strconv.Itoa(i)
		c.put(c.hash(tok), tok, &Claims{Expiry: now.Add(time.Hour), raw: strings.Repeat("r", 250)}, k, now)
	}
	if got := c.len(); got < 500 || got > 500+cacheShards {
		t.Errorf("got %d ordinary entries in a cache of 500, want 500 (a few more under contention)", got)
	}
}

// TestCacheInternsSharedClaims checks that two cached tokens of one issuer
// share one copy of their common values and keep their own subject, and
// that a shared list cannot be appended to in place.
func TestCacheInternsSharedClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(10)
	k := &key{kid: "k"}
	mk := func(sub string) *Claims {
		return &Claims{
			Expiry:   now.Add(time.Hour),
			Issuer:   strings.Clone("https://example.okta.com/oauth2/default"),
			ClientID: strings.Clone("0oa1client"),
			Subject:  sub,
			Audience: []string{strings.Clone("api://default")},
			Scopes:   append(make([]string, 0, 8), strings.Clone("openid"), strings.Clone("read")),
		}
	}
	a, b := mk("alice"), mk("bob")
	c.put(c.hash("token-a"), "token-a", a, k, now)
	c.put(c.hash("token-b"), "token-b", b, k, now)
	if unsafe.StringData(a.Issuer) != unsafe.StringData(b.Issuer) || unsafe.StringData(a.ClientID) != unsafe.StringData(b.ClientID) {
		t.Error("the issuer and client id are not shared")
	}
	if unsafe.SliceData(a.Audience) != unsafe.SliceData(b.Audience) || unsafe.SliceData(a.Scopes) != unsafe.SliceData(b.Scopes) {
		t.Error("the audience and scopes are not shared")
	}
	if a.Subject != "alice" || b.Subject != "bob" || !b.HasScope("read") || b.Issuer != "https://example.okta.com/oauth2/default" {
		t.Errorf("interning changed the claims: %+v, %+v", a, b)
	}
	if cap(a.Scopes) != len(a.Scopes) {
		t.Errorf("a shared list has capacity %d beyond its %d elements: an append would write into it", cap(a.Scopes), len(a.Scopes))
	}
}

func TestCacheBytesNegative(t *testing.T) {
	_, err := New(Config{Issuer: "https://example.com", CacheBytes: -1})
	if err == nil || !strings.Contains(err.Error(), "CacheBytes") {
		t.Fatalf("got %v, want an error naming CacheBytes", err)
	}
}
