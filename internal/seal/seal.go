// Package seal encrypts and authenticates small blobs kept in shared
// storage (Redis) with AES-256-GCM, under keys that can be rotated: a
// [Sealer] seals with the newest secret and opens with any of its secrets,
// so instances can move to a new secret without losing what the old one
// sealed.
//
// # Format
//
// A sealed blob is
//
//	version (1 byte, [Version]) || nonce (12 bytes) || ciphertext and tag
//
// The key of each secret is HKDF-SHA256(secret, info), info naming the use,
// so one secret shared by two uses gives them unrelated keys. The caller's
// additional data binds a blob to where it is stored: it does not open
// under other additional data.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Version is the first byte of every sealed blob.
const Version = 1

// MinSecretLen is the shortest secret New accepts, in bytes.
const MinSecretLen = 32

// ErrOpen is returned for a blob that does not open: tampered with, sealed
// under other additional data or an unknown secret, or not a sealed blob.
var ErrOpen = errors.New("failed to open sealed data")

// ShortSecretError is returned by New for a secret shorter than
// MinSecretLen.
type ShortSecretError struct {
	Index int // the secret's position in New's arguments, 0 for the newest
	Len   int // its length in bytes
}

func (e *ShortSecretError) Error() string {
	return fmt.Sprintf("secret %d is %d bytes, want at least %d", e.Index, e.Len, MinSecretLen)
}

// Sealer seals with its newest secret and opens with any of them. It is
// safe for concurrent use.
type Sealer struct {
	keys []cipher.AEAD // the newest first
}

// New returns a Sealer for the given use (info, the HKDF info string) and
// secrets, newest first: it seals with secrets[0] and opens with any. At
// least one secret is required, each MinSecretLen bytes or more.
func New(info string, secrets ...[]byte) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("seal: no secret")
	}
	s := &Sealer{}
	for i, secret := range secrets {
		if len(secret) < MinSecretLen {
			return nil, &ShortSecretError{Index: i, Len: len(secret)}
		}
		key, err := hkdf.Key(sha256.New, secret, nil, info, 32)
		if err != nil {
			return nil, fmt.Errorf("failed to derive a sealing key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("failed to create a sealing cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("failed to create a sealing cipher: %w", err)
		}
		s.keys = append(s.keys, aead)
	}
	return s, nil
}

// Seal encrypts plaintext with the newest secret, bound to ad, and returns
// Version || nonce || ciphertext.
func (s *Sealer) Seal(ad, plaintext []byte) []byte {
	aead := s.keys[0]
	ns := aead.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+aead.Overhead())
	out[0] = Version
	_, _ = rand.Read(out[1 : 1+ns]) // crypto/rand.Read never fails
	return aead.Seal(out, out[1:1+ns], plaintext, ad)
}

// Open reverses Seal for the same ad, trying each secret, newest first. It
// returns ErrOpen when no secret opens blob.
func (s *Sealer) Open(ad, blob []byte) ([]byte, error) {
	if len(blob) < 1 || blob[0] != Version {
		return nil, ErrOpen
	}
	return s.open(ad, blob[1:])
}

// OpenUnversioned opens a blob in the format used before versions, nonce ||
// ciphertext, trying each secret. It is for reading data written by earlier
// releases; new data is always sealed with a version.
func (s *Sealer) OpenUnversioned(ad, blob []byte) ([]byte, error) {
	return s.open(ad, blob)
}

// open opens nonce || ciphertext with the first secret that can.
func (s *Sealer) open(ad, blob []byte) ([]byte, error) {
	for _, aead := range s.keys {
		ns := aead.NonceSize()
		if len(blob) < ns+aead.Overhead() {
			return nil, ErrOpen
		}
		if pt, err := aead.Open(nil, blob[:ns], blob[ns:], ad); err == nil {
			return pt, nil
		}
	}
	return nil, ErrOpen
}
