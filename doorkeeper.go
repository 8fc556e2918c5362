package apiguard

import (
	"math/bits"
	"sync/atomic"
)

// doorkeeper decides which verified tokens the cache takes: once the cache
// holds 1/16 of its size, a token is stored on its second sighting, not its
// first, as the doorkeeper of TinyLFU caches does (issue 16). Most clients
// reuse a token for its whole life, so a reused token costs one extra
// signature check in its life (its second request verifies it again, and
// stores it); a token seen only once (a flood of fresh tokens, a client
// minting one per request) is never copied into the cache, so it costs
// neither the insertion (and the eviction of a token that could be hit)
// nor heap that stays alive, for the collector to mark, until it expires.
// Under a flood of 200,000 distinct valid tokens, `apiguard serve` stays
// at about 42 MB of RSS instead of growing to 140-200 MB.
//
// It remembers the tokens it saw once as 32-bit fingerprints of their
// cache hashes in a fixed array of about two slots per cache entry, one
// slot per hash (direct-mapped): a token seen while its slot holds its
// fingerprint is admitted and the slot emptied; otherwise its fingerprint
// takes the slot, pushing out whatever was there (that token then needs
// one more sighting). So its memory is fixed (4 bytes a slot, at most
// doorkeeperMaxSlots, with no pointers for the collector to follow)
// however many distinct tokens arrive, and a flood of distinct tokens can
// only make reused tokens take another sighting to be admitted, never fill
// the cache.
//
// It only ever sees tokens that verified: it decides whether a verified
// token is stored, never whether a token is accepted, so it cannot let an
// unverified token through. Two distinct tokens of the same slot and
// fingerprint (one chance in 2^32) only admit a verified token one
// sighting early.
type doorkeeper struct {
	slots []atomic.Uint32
	shift uint // the slot is the hash's top bits: h >> shift
}

const (
	doorkeeperMinSlots = 1 << 10
	doorkeeperMaxSlots = 1 << 21 // 8 MiB
	// doorkeeperWarmup: below size/doorkeeperWarmup entries, the cache
	// stores tokens at their first sighting (see tokenCache.offer).
	doorkeeperWarmup = 16
)

// newDoorkeeper returns a doorkeeper with two slots or more per cache
// entry (a power of two, within doorkeeperMinSlots and doorkeeperMaxSlots):
// about 1 MiB for the default 100,000 entries.
func newDoorkeeper(size int64) *doorkeeper {
	n := int64(doorkeeperMinSlots)
	for n < 2*size && n < doorkeeperMaxSlots {
		n *= 2
	}
	return &doorkeeper{slots: make([]atomic.Uint32, n), shift: uint(64 - bits.TrailingZeros64(uint64(n)))}
}

// admit reports whether the verified token of cache hash h was seen (and
// verified) before, and remembers it when not.
func (d *doorkeeper) admit(h uint64) bool {
	s := &d.slots[h>>d.shift]
	fp := uint32(h) | 1 // never 0, the empty slot; the low bits, not the slot's
	if s.Load() == fp {
		// Emptied, so the slot can take the next newcomer at once; a
		// concurrent sighting of the same token may also be admitted (the
		// cache then replaces one entry by an equal one).
		s.CompareAndSwap(fp, 0)
		return true
	}
	s.Store(fp)
	return false
}
