package apiguard

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache remembers verified tokens until their exp, so a client that
// reuses its token (as clients do, for its whole life) pays for the
// signature check once. Entries are keyed by the SHA-256 of the whole token:
// a hit means the very same bytes were verified before.
//
// It is a sharded map of our own rather than a general cache library: a hit
// must not allocate, entries die at their own exp, and eviction can be
// simple because every entry expires within the token lifetime anyway.
type tokenCache struct {
	shards [cacheShards]cacheShard
	// size bounds the entries over all shards. The bound is global, not per
	// shard: tokens do not spread evenly over the shards, and a per-shard
	// bound of size/cacheShards evicted from the fuller shards long before
	// the cache held size tokens (filled to its size, a cache of 1,000
	// then missed 116 of its tokens, and one of 20,000 missed 460).
	size int64
	n    atomic.Int64 // entries, over all shards
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	claims *Claims
	exp    int64 // unix nanoseconds: the token's exp, with no leeway
	key    *key  // the key that verified it; a removed key voids the entry
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{size: int64(max(1, size))}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

// get returns the claims of the token whose digest is sum if it was
// verified before, has not reached its exp and its key is still in the
// issuer's set.
func (c *tokenCache) get(sum [sha256.Size]byte, now time.Time) *Claims {
	s := &c.shards[sum[0]%cacheShards]
	s.mu.RLock()
	e, ok := s.m[sum]
	s.mu.RUnlock()
	if !ok || now.UnixNano() >= e.exp || e.key.removed.Load() {
		return nil
	}
	return e.claims
}

// digest is the SHA-256 of token, the cache key. It hashes the string's
// bytes in place (stringBytes): []byte(token) would copy the token to the
// heap on every lookup (Sum256's argument escapes), and a hit must not
// allocate.
func digest(token string) [sha256.Size]byte { return sha256.Sum256(stringBytes(token)) }

// put remembers a verified token by its digest. When the cache is full it first drops a
// few expired entries of the token's shard, and otherwise an arbitrary one
// (Go's map iteration starts at a random place, so this is random eviction
// at O(1)). A full cache whose token's shard is empty takes the entry
// anyway, as do shards that find it not quite full at the same moment, so
// the cache passes size by at most a few entries per shard.
func (c *tokenCache) put(sum [sha256.Size]byte, claims *Claims, k *key, now time.Time) {
	e := cacheEntry{claims: claims, exp: claims.Expiry.UnixNano(), key: k}
	s := &c.shards[sum[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[sum]; !ok {
		if c.n.Load() >= c.size {
			c.n.Add(-int64(s.evict(now.UnixNano())))
		}
		c.n.Add(1)
	}
	s.m[sum] = e
}

// evict removes expired or voided entries among the first few it visits,
// or else one arbitrary entry, and returns how many it removed; s.mu must
// be held.
func (s *cacheShard) evict(now int64) int {
	const sample = 8
	seen, dropped := 0, 0
	var victim [sha256.Size]byte
	for k, e := range s.m {
		if e.exp <= now || e.key.removed.Load() {
			delete(s.m, k)
			dropped++
		} else {
			victim = k
		}
		if seen++; seen == sample {
			break
		}
	}
	if dropped == 0 && seen > 0 {
		delete(s.m, victim)
		dropped++
	}
	return dropped
}

// len returns the number of entries (for tests and metrics).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
