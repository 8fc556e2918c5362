package dpop

import (
	"context"
	"errors"
	"sync"
	"time"
)

// memoryCache is the in-process ReplayCache: a bounded map of proof ids
// whose entries expire.
type memoryCache struct {
	now  func() time.Time
	size int

	mu sync.Mutex
	m  map[string]time.Time // key → expiry
}

func newMemoryCache(size int, now func() time.Time) *memoryCache {
	return &memoryCache{now: now, size: max(1, size), m: map[string]time.Time{}}
}

// errReplayCacheFull: every entry of a full in-memory replay cache is still
// live; forgetting one would let its proof be replayed.
var errReplayCacheFull = errors.New("the in-memory replay cache is full")

// Use implements ReplayCache: it records key unless it is already there and
// unexpired. It never evicts a live entry: when the cache is full of them
// it returns an error (the proof is refused with 503).
func (c *memoryCache) Use(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if exp, ok := c.m[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(c.m) >= c.size {
		for k, exp := range c.m {
			if !now.Before(exp) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.size {
			return false, errReplayCacheFull
		}
	}
	c.m[key] = now.Add(ttl)
	return true, nil
}
