package apiguard

import (
	"encoding/binary"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
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
	// maxBytes bounds the estimated heap of the entries (entrySize), over
	// all shards, as size bounds their number: a count alone let a flood
	// of long tokens (up to MaxTokenSize each, with payloads to match)
	// take many times the memory the same count of ordinary tokens takes.
	maxBytes int64
	bytes    atomic.Int64 // estimated heap of the entries, over all shards

	intern interner
	door   *doorkeeper // which verified tokens are stored (see offer); nil: all
}

const cacheShards = 64

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]cacheEntry
}

type cacheEntry struct {
	token  string // a copy of the verified token, compared on every hit
	claims *Claims
	exp    int64  // unix nanoseconds: the token's exp, with no leeway
	key    *key   // the key that verified it; a removed key voids the entry
	bytes  uint32 // entrySize when stored, subtracted when it goes
}

// cacheEntryBytes is the default byte bound per entry of the count bound
// (Config.CacheBytes defaults to CacheSize times it): an Okta-shaped RS256
// access token (about 750 bytes) costs about 1,500 bytes by entrySize (it
// takes about 1,270 on the heap), an EdDSA one about 1,250 (1,000), so the
// default count of ordinary tokens fits with room to spare, while tokens near MaxTokenSize fill the bound at a
// fraction of the count.
const cacheEntryBytes = 2560

// entryOverhead is what entrySize adds to the lengths of an entry's own
// bytes: the Claims struct (352 bytes with its size class), the map slot
// with the map's spare room (about 80), and the allocator's rounding of
// the token copy and the strings (about 100 over them). The payload is
// not kept apart from the token copy (see Claims.payload).
const entryOverhead = 530

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{seed: maphash.MakeSeed(), size: int64(max(1, size))}
	c.maxBytes = c.size * cacheEntryBytes
	c.door = newDoorkeeper(c.size)
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

// offer stores a verified token, as put does, on its second sighting (see
// doorkeeper); on its first it only remembers that it was seen. While the
// cache is nearly empty (under 1/16 of its size, and of its byte bound) it
// stores tokens at their first sighting: the few entries cost the
// collector little, push out nobody, and a process that has just started
// (or is quiet) then answers its clients' second requests from the cache.
func (c *tokenCache) offer(h uint64, token string, claims *Claims, k *key, now time.Time) {
	warm := c.n.Load() < c.size/doorkeeperWarmup && c.bytes.Load() < c.maxBytes/doorkeeperWarmup
	if c.door == nil || warm || c.door.admit(h) {
		c.put(h, token, claims, k, now)
	}
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
	c.intern.claims(claims)
	copied := strings.Clone(token)
	// The claims keep their payload as the cached copy's base64url part
	// rather than as the decoded JSON they were made with (see
	// Claims.payload): the copy has it already.
	if p64, ok := payloadPart(copied); ok {
		claims.raw, claims.rawB64 = p64, true
	}
	size := entrySize(token, claims)
	if size > c.maxBytes {
		return // it alone would pass the bound
	}
	e := cacheEntry{token: copied, claims: claims, exp: exp, key: k, bytes: uint32(size)}
	s := c.shard(h)
	s.mu.Lock()
	old, replaced := s.m[h]
	s.m[h] = e
	if replaced {
		c.bytes.Add(size - int64(old.bytes))
	} else {
		c.n.Add(1)
		c.bytes.Add(size)
	}
	if c.n.Load() > c.size || c.bytes.Load() > c.maxBytes {
		s.evict(c, h, now.UnixNano())
	}
	over := c.bytes.Load() > c.maxBytes
	s.mu.Unlock()
	if over {
		c.shrink(h, now.UnixNano())
	}
}

// payloadPart returns the payload part of a compact JWS (between its two
// dots), if token has that shape.
func payloadPart(token string) (string, bool) {
	_, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	p64, _, ok := strings.Cut(rest, ".")
	return p64, ok && p64 != ""
}

// entrySize estimates the heap an entry for token with claims takes: the
// token copy, the lengths of the claims' strings that are the entry's own
// (interned ones are shared, see interner) and entryOverhead. The estimate
// is about 15% above what cachemem measures for ordinary tokens;
// what matters for the bound is that it grows with everything a token's
// sender controls the size of.
func entrySize(token string, c *Claims) int64 {
	n := len(token) + len(c.Subject) + len(c.ID) + len(c.UserID) + len(c.Nonce) + len(c.JKT)
	if !c.rawB64 {
		n += len(c.raw) // else it is part of the token
	}
	// Interned values are counted too (a token's sender chooses them, and
	// an interned value is kept by the table besides): an over-estimate
	// of about 100 bytes for an ordinary token.
	n += len(c.Issuer) + len(c.ClientID) + len(c.Version)
	for _, l := range [...][]string{c.Audience, c.Scopes, c.Groups} {
		n += 16 * len(l)
		for _, v := range l {
			n += len(v)
		}
	}
	return int64(n + entryOverhead)
}

// evict removes expired or voided entries among the first few it visits,
// or else one arbitrary entry other than keep (the one just inserted),
// and takes them off c's counts; s.mu must be held. It reports whether it
// removed any.
func (s *cacheShard) evict(c *tokenCache, keep uint64, now int64) bool {
	const sample = 8
	seen, dropped := 0, 0
	victim, found := uint64(0), false
	drop := func(h uint64, e cacheEntry) {
		delete(s.m, h)
		c.n.Add(-1)
		c.bytes.Add(-int64(e.bytes))
		dropped++
	}
	for h, e := range s.m {
		switch {
		case h == keep:
		case e.exp <= now || e.key.removed.Load():
			drop(h, e)
		default:
			victim, found = h, true
		}
		if seen++; seen == sample {
			break
		}
	}
	if dropped == 0 && found {
		drop(victim, s.m[victim])
	}
	return dropped > 0
}

// shrink evicts from the shards in turn, starting with the one of keep,
// until the entries fit in maxBytes again or no shard has anything but
// keep left. One eviction per insertion keeps the count bound, but not the
// byte bound: a long token can take the place of several short ones. It
// holds one shard's lock at a time, so it cannot deadlock with another
// shrink or put.
func (c *tokenCache) shrink(keep uint64, now int64) {
	start := int(keep >> 58 % cacheShards)
	for i := 0; i < cacheShards && c.bytes.Load() > c.maxBytes; {
		s := &c.shards[(start+i)%cacheShards]
		s.mu.Lock()
		progress := s.evict(c, keep, now)
		s.mu.Unlock()
		if !progress {
			i++ // this shard has nothing left to give
		}
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

// interner makes the claims that many tokens of one issuer have in common
// (iss, aud, cid, ver, scopes, groups) share one copy among the cached
// Claims, instead of one copy each: for an Okta-shaped token that is a
// dozen small allocations, about 200 bytes, per entry. The subject, uid
// and jti are left alone: they differ from token to token (or from user to
// user), and interning them would only churn the table.
//
// The table is bounded: values longer than internMaxLen and lists longer
// than internMaxList are not interned, and when it holds internMaxValues
// it is emptied and starts again (the entries keep the values they share;
// only later tokens share with each other from then on). So a sender of
// many tokens with distinct values can cost it at most a bounded map, not
// memory that grows.
type interner struct {
	mu      sync.Mutex
	strings map[string]string
	lists   map[string][]string // by the list's elements, each preceded by its length
}

const (
	internMaxValues = 4096
	internMaxLen    = 256
	internMaxList   = 64
)

// claims replaces c's shareable values by interned equal ones. It writes a
// field only when the interned value is another copy, so Claims already
// interned (or with nothing to intern) are only read: a Claims put twice
// is not written while another goroutine may read it.
func (in *interner) claims(c *Claims) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.strings)+len(in.lists) >= internMaxValues || in.strings == nil {
		in.strings = make(map[string]string)
		in.lists = make(map[string][]string)
	}
	for _, f := range [...]*string{&c.Issuer, &c.ClientID, &c.Version} {
		if v := in.string(*f); unsafe.StringData(v) != unsafe.StringData(*f) {
			*f = v
		}
	}
	for _, f := range [...]*[]string{&c.Audience, &c.Scopes, &c.Groups} {
		if v := in.list(*f); unsafe.SliceData(v) != unsafe.SliceData(*f) || cap(v) != cap(*f) {
			*f = v
		}
	}
}

func (in *interner) string(v string) string {
	if v == "" || len(v) > internMaxLen {
		return v
	}
	if s, ok := in.strings[v]; ok {
		return s
	}
	in.strings[v] = v
	return v
}

// list returns the interned list equal to l. It has no room to grow
// (its capacity is its length), so a caller appending to a Claims' list
// gets a new array rather than writing into the shared one.
func (in *interner) list(l []string) []string {
	if len(l) == 0 || len(l) > internMaxList {
		return l
	}
	var kb [internMaxLen]byte
	k := kb[:0]
	for _, v := range l {
		if len(v) > internMaxLen {
			return l
		}
		k = binary.AppendUvarint(k, uint64(len(v)))
		k = append(k, v...)
	}
	if s, ok := in.lists[string(k)]; ok {
		return s
	}
	// A copy, not l itself: l belongs to the Claims being put, which must
	// only be read here, and the copy has no spare capacity.
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = in.string(v)
	}
	in.lists[string(k)] = s
	return s
}
