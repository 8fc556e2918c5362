package apiguard

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache remembers verified tokens until their exp, so a client that
// reuses its token (as clients do, for its whole life) pays for the
// signature check once.
//
// An entry is found by a 64-bit hash of the whole token (hash/maphash, with
// a random seed per cache, so nobody outside the process can compute it or
// aim tokens at one entry) and keeps the token: a hit requires the presented
// token to equal the verified one byte for byte. That is a stronger
// guarantee than a collision-resistant digest (two tokens of one hash share
// an entry, the later replacing the earlier: a miss, never a wrong hit), and
// it is what makes the cache cheap: the hash costs about a tenth of a
// SHA-256 of the token, which every lookup (every hit and every fresh
// token) used to pay. The price is memory: an entry keeps a copy of the
// token (about 770 bytes for an Okta-shaped RS256 token, at most
// MaxTokenSize) besides its claims, so cached tokens stay in the process's
// memory until they expire or are evicted, where before only their
// digests did. It is a copy of the token's own bytes: nothing around the
// token in the string it came in (the Authorization header) is kept.
//
// It is a sharded map of our own rather than a general cache library: a hit
// must not allocate, entries die at their own exp, and eviction can be
// simple because every entry expires within the token lifetime anyway.
type tokenCache struct {
	seed   maphash.Seed
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
	m  map[uint64]cacheEntry
}

type cacheEntry struct {
	token  string // a copy of the verified token, compared on every hit
	claims *Claims
	exp    int64 // unix nanoseconds: the token's exp, with no leeway
	key    *key  // the key that verified it; a removed key voids the entry
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), size: int64(max(1, size))}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]cacheEntry)
	}
	return c
}

// hash is the cache's hash of token, computed once per Verify: a miss looks
// the token up and then stores it under the same hash.
func (c *tokenCache) hash(token string) uint64 { return maphash.String(c.seed, token) }

// shard picks the shard from the hash's top bits; the map hashes the key
// again, so its own bucket choice does not depend on these bits.
func (c *tokenCache) shard(h uint64) *cacheShard { return &c.shards[h>>58%cacheShards] }

// get returns the claims of token, whose hash is h, if the very same token
// was verified before, has not reached its exp and its key is still in the
// issuer's set.
func (c *tokenCache) get(h uint64, token string, now time.Time) *Claims {
	s := c.shard(h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	if !ok || !sameToken(e.token, token) || now.UnixNano() >= e.exp || e.key.removed.Load() {
		return nil
	}
	return e.claims
}

// sameToken reports whether a and b are equal, in time that depends only on
// their length. Tokens are secrets; although an entry is only compared with
// a token of the same secret-seeded hash, a comparison that stopped at the
// first difference could tell how much of a cached token a guess got right.
// It compares eight bytes at a time, so it costs a few dozen nanoseconds
// for a typical token.
func sameToken(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := stringBytes(a), stringBytes(b)
	var d uint64
	i := 0
	for ; i+8 <= len(x); i += 8 {
		d |= binary.LittleEndian.Uint64(x[i:]) ^ binary.LittleEndian.Uint64(y[i:])
	}
	for ; i < len(x); i++ {
		d |= uint64(x[i] ^ y[i])
	}
	return d == 0
}

// put remembers token, whose hash is h, verified with k. Tokens at or past
// their exp (accepted within the leeway) are not stored: the entry could
// never be hit and would only push out one that could.
//
// When the insertion takes the cache past its size, the shard drops a few
// expired or voided entries among the first ones it visits, or else an
// arbitrary one (Go's map iteration starts at a random place, so this is
// random eviction at O(1)). Shards that find the cache not quite full at
// the same moment all insert, so the cache passes size by at most a few
// entries per shard.
func (c *tokenCache) put(h uint64, token string, claims *Claims, k *key, now time.Time) {
	exp := claims.Expiry.UnixNano()
	if exp <= now.UnixNano() {
		return
	}
	// The entry keeps a copy of the token, never token itself: token is
	// usually a slice of a larger string (the middleware's is a slice of the
	// Authorization header, which a client may pad with thousands of
	// spaces), and keeping the slice would keep all of that string alive
	// until the entry goes. The copy is one allocation of the token's size
	// per fresh token; hits do not copy.
	e := cacheEntry{token: strings.Clone(token), claims: claims, exp: exp, key: k}
	s := c.shard(h)
	s.mu.Lock()
	before := len(s.m)
	s.m[h] = e
	if len(s.m) > before && c.n.Add(1) > c.size {
		c.n.Add(-int64(s.evict(h, now.UnixNano())))
	}
	s.mu.Unlock()
}

// evict removes expired or voided entries among the first few it visits,
// or else one arbitrary entry other than keep (the one just inserted), and
// returns how many it removed; s.mu must be held.
func (s *cacheShard) evict(keep uint64, now int64) int {
	const sample = 8
	seen, dropped := 0, 0
	victim, found := uint64(0), false
	for h, e := range s.m {
		switch {
		case h == keep:
		case e.exp <= now || e.key.removed.Load():
			delete(s.m, h)
			dropped++
		default:
			victim, found = h, true
		}
		if seen++; seen == sample {
			break
		}
	}
	if dropped == 0 && found {
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
