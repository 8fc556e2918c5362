package session

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMemoryStoreZeroMaxIsDefault: a MaxEntries of zero (the zero
// MemoryConfig) means DefaultMaxEntries, not a store that keeps one
// session and evicts it at the next login. (Kills the mutant s.max < 0 at
// memory.go's default; see MUTATION.md.)
func TestMemoryStoreZeroMaxIsDefault(t *testing.T) {
	for _, maxEntries := range []int{0, -1} {
		t.Run(fmt.Sprint(maxEntries), func(t *testing.T) {
			s := NewMemoryStore(MemoryConfig{MaxEntries: maxEntries})
			ctx := context.Background()
			for i := range 3 {
				if err := s.Save(ctx, fmt.Sprint("id", i), []byte{byte(i)}, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				if _, err := s.Get(ctx, fmt.Sprint("id", i)); err != nil {
					t.Errorf("session %d of 3: %v, want it kept", i, err)
				}
			}
		})
	}
}
