package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultMaxEntries is MemoryStore's default bound on stored sessions.
const DefaultMaxEntries = 10000

// MemoryConfig configures a MemoryStore. The zero value is usable.
type MemoryConfig struct {
	// MaxEntries bounds the number of sessions kept. When a new session
	// would exceed it, expired sessions are dropped first, then the one
	// closest to expiry. Default DefaultMaxEntries.
	MaxEntries int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// MemoryStore is a Store in process memory for a single instance: bounded,
// expiring entries, safe for concurrent use. Sessions are lost at restart.
type MemoryStore struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]memoryEntry
}

type memoryEntry struct {
	data    []byte
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryConfig) *MemoryStore {
	s := &MemoryStore{max: cfg.MaxEntries, now: cfg.Now, entries: make(map[string]memoryEntry)}
	if s.max <= 0 {
		s.max = DefaultMaxEntries
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, id string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[id]
	if !ok {
		return nil, ErrNotFound
	}
	if !s.now().Before(e.expires) {
		delete(s.entries, id)
		return nil, ErrNotFound
	}
	return append([]byte(nil), e.data...), nil
}

// Save implements Store.
func (s *MemoryStore) Save(_ context.Context, id string, data []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("failed to save session: ttl %v is not positive", ttl)
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[id]; !ok && len(s.entries) >= s.max {
		s.evict(now)
	}
	s.entries[id] = memoryEntry{data: append([]byte(nil), data...), expires: now.Add(ttl)}
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, id)
	return nil
}

// Len returns the number of stored sessions, expired ones included until
// they are dropped.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// evict makes room for one entry; s.mu is held.
func (s *MemoryStore) evict(now time.Time) {
	var (
		oldest   string
		earliest time.Time
	)
	for id, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, id)
			continue
		}
		if oldest == "" || e.expires.Before(earliest) {
			oldest, earliest = id, e.expires
		}
	}
	if len(s.entries) >= s.max && oldest != "" {
		delete(s.entries, oldest)
	}
}
