package apiguard

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
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
	shards   [cacheShards]cacheShard
	perShard int
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
	c := &tokenCache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

// get returns the claims of token if it was verified before, has not
// reached its exp and its key is still in the issuer's set.
func (c *tokenCache) get(token string, now time.Time) *Claims {
	sum := digest(token)
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
// bytes in place: []byte(token) would copy the token to the heap on every
// lookup (Sum256's argument escapes), and a hit must not allocate.
// Sum256 only reads its input, so viewing the immutable string as a
// []byte is safe.
func digest(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// put remembers a verified token. When the shard is full it first drops a
// few expired entries, and otherwise an arbitrary one (Go's map iteration
// starts at a random place, so this is random eviction at O(1)).
func (c *tokenCache) put(token string, claims *Claims, k *key, now time.Time) {
	sum := digest(token)
	e := cacheEntry{claims: claims, exp: claims.Expiry.UnixNano(), key: k}
	s := &c.shards[sum[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[sum]; !ok && len(s.m) >= c.perShard {
		s.evict(now.UnixNano())
	}
	s.m[sum] = e
}

// evict removes expired or voided entries among the first few it visits,
// or else one arbitrary entry.
func (s *cacheShard) evict(now int64) {
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
	}
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
