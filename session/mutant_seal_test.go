package session

import (
	"errors"
	"testing"
)

// TestOpenShortBlobs: data too short to hold a nonce and a tag does not
// open, for every length up to a whole sealed blob, and does not panic.
// (Kills the lived mutant 1-ns+Overhead of sealer.Open's length check; see
// MUTATION.md.)
func TestOpenShortBlobs(t *testing.T) {
	s, err := newSealer(testSecret, [][]byte{[]byte("an older secret of 32 bytes, too")})
	if err != nil {
		t.Fatal(err)
	}
	whole := s.Seal("id", nil)
	for n := range len(whole) {
		if _, err := s.Open("id", whole[:n:n]); !errors.Is(err, errOpen) {
			t.Errorf("Open of %d bytes: got %v, want errOpen", n, err)
		}
	}
	if _, err := s.Open("id", whole); err != nil {
		t.Errorf("Open of the whole blob: %v", err)
	}
}
