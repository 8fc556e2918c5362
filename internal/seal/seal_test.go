package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/apiguard/apiguard/internal/seal"
)

const info = "apiguard seal test v1"

var (
	newer = []byte("the newer secret, 32 bytes or more")
	older = []byte("the older secret, 32 bytes or more")
)

func mustNew(t *testing.T, info string, secrets ...[]byte) *seal.Sealer {
	t.Helper()
	s, err := seal.New(info, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, info, newer)
	blob := s.Seal([]byte("ad"), []byte("plaintext"))
	if blob[0] != seal.Version {
		t.Errorf("first byte %d, want Version %d", blob[0], seal.Version)
	}
	if bytes.Contains(blob, []byte("plaintext")) {
		t.Error("the blob contains the plaintext")
	}
	if got, err := s.Open([]byte("ad"), blob); err != nil || string(got) != "plaintext" {
		t.Fatalf("Open = %q, %v; want plaintext", got, err)
	}
	if bytes.Equal(blob, s.Seal([]byte("ad"), []byte("plaintext"))) {
		t.Error("two seals of the same plaintext are equal: the nonce is not random")
	}

	refused := map[string]struct {
		sealer *seal.Sealer
		ad     string
		blob   []byte
	}{
		"other additional data": {s, "other", blob},
		"other use (info)":      {mustNew(t, "another use", newer), "ad", blob},
		"unknown secret":        {mustNew(t, info, older), "ad", blob},
		"tampered":              {s, "ad", append(append([]byte{}, blob[:len(blob)-1]...), blob[len(blob)-1]^1)},
		"unknown version":       {s, "ad", append([]byte{seal.Version + 1}, blob[1:]...)},
		"empty":                 {s, "ad", nil},
	}
	for name, c := range refused {
		if got, err := c.sealer.Open([]byte(c.ad), c.blob); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, got, err)
		}
	}
}

func TestShortBlobs(t *testing.T) {
	s := mustNew(t, info, newer, older)
	whole := s.Seal([]byte("ad"), nil)
	for n := range len(whole) {
		if _, err := s.Open([]byte("ad"), whole[:n:n]); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("Open of %d bytes: got %v, want ErrOpen", n, err)
		}
		if _, err := s.OpenUnversioned([]byte("ad"), whole[1:1+n:1+n]); n < len(whole)-1 && !errors.Is(err, seal.ErrOpen) {
			t.Errorf("OpenUnversioned of %d bytes: got %v, want ErrOpen", n, err)
		}
	}
}

func TestRotation(t *testing.T) {
	before := mustNew(t, info, older)
	after := mustNew(t, info, newer, older)
	old := before.Seal([]byte("ad"), []byte("sealed before"))
	if got, err := after.Open([]byte("ad"), old); err != nil || string(got) != "sealed before" {
		t.Fatalf("Open of a blob sealed with the previous secret = %q, %v", got, err)
	}
	fresh := after.Seal([]byte("ad"), []byte("sealed after"))
	if _, err := before.Open([]byte("ad"), fresh); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("a blob sealed after the rotation opened with the old secret alone: %v; want ErrOpen (sealed with the newest)", err)
	}
	if got, err := mustNew(t, info, newer).Open([]byte("ad"), fresh); err != nil || string(got) != "sealed after" {
		t.Errorf("Open with the newest secret alone = %q, %v", got, err)
	}
}

func TestOpenUnversioned(t *testing.T) {
	s := mustNew(t, info, newer, older)
	blob := mustNew(t, info, older).Seal([]byte("ad"), []byte("legacy"))[1:] // nonce || ciphertext
	if got, err := s.OpenUnversioned([]byte("ad"), blob); err != nil || string(got) != "legacy" {
		t.Fatalf("OpenUnversioned = %q, %v", got, err)
	}
	if _, err := s.OpenUnversioned([]byte("other"), blob); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("OpenUnversioned under other additional data: got %v, want ErrOpen", err)
	}
}

func TestNewRefusesShortSecrets(t *testing.T) {
	if _, err := seal.New(info); err == nil {
		t.Error("New without a secret: no error")
	}
	_, err := seal.New(info, newer, []byte("short"))
	var short *seal.ShortSecretError
	if !errors.As(err, &short) || short.Index != 1 || short.Len != 5 {
		t.Fatalf("got %v, want a ShortSecretError for secret 1 of 5 bytes", err)
	}
	if _, err := seal.New(info, newer[:seal.MinSecretLen]); err != nil {
		t.Errorf("a secret of MinSecretLen bytes: %v", err)
	}
}

// FuzzOpen checks that arbitrary bytes never open and never panic.
func FuzzOpen(f *testing.F) {
	f.Add([]byte("ad"), []byte{seal.Version})
	f.Add([]byte{}, []byte{seal.Version, 1, 2, 3})
	s, err := seal.New(info, newer, older)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ad, junk []byte) {
		if _, err := s.Open(ad, junk); !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("junk %x opened", junk)
		}
		if _, err := s.OpenUnversioned(ad, junk); !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("junk %x opened unversioned", junk)
		}
	})
}
