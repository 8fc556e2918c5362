package apiguard

import (
	"strconv"
	"testing"
	"time"
)

// TestUnknownKIDsBounded: the memory of kids the issuer does not publish
// never holds more than maxUnknownKIDs; when full it is forgotten
// wholesale and the newest kid is kept. (Kills keyset.go's
// len(ks.unknown) >= maxUnknownKIDs → >; see MUTATION.md.)
func TestUnknownKIDsBounded(t *testing.T) {
	ks := &keySet{unknownTTL: time.Minute}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 * maxUnknownKIDs {
		kid := "kid-" + strconv.Itoa(i)
		ks.rememberUnknownLocked(kid, now)
		if len(ks.unknown) > maxUnknownKIDs {
			t.Fatalf("after %d kids: %d remembered, want at most %d", i+1, len(ks.unknown), maxUnknownKIDs)
		}
		if until, ok := ks.unknown[kid]; !ok || !until.Equal(now.Add(time.Minute)) {
			t.Fatalf("kid %d: remembered %v until %v, want until a minute from now", i, ok, until)
		}
	}
}
