package session

import (
	"bytes"
	"testing"
)

// FuzzSeal checks that a sealed blob opens only under its own id, and that
// arbitrary bytes never open.
func FuzzSeal(f *testing.F) {
	f.Add("id-1", "id-2", []byte("data"), []byte{1, 2, 3})
	f.Add("", "x", []byte{}, []byte{sealVersion})
	s, err := newSealer(testSecret, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, other string, plaintext, junk []byte) {
		blob := s.Seal(id, plaintext)
		got, err := s.Open(id, blob)
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("Open(Seal(%q)) = %q, %v; want %q", id, got, err, plaintext)
		}
		if other != id {
			if _, err := s.Open(other, blob); err == nil {
				t.Fatalf("blob sealed for %q opened for %q", id, other)
			}
		}
		if _, err := s.Open(id, junk); err == nil {
			t.Fatalf("junk %x opened", junk)
		}
	})
}
