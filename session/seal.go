package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest secret RedisConfig accepts, in bytes.
const MinSecretLen = 32

const (
	sealVersion = 1
	sealInfo    = "apiguard session AES-256-GCM v1"
	sealAD      = "apiguard session v1\x00"
)

// sealer encrypts session blobs with AES-256-GCM, binding each to its
// session id through the additional data.
type sealer struct {
	seal  cipher.AEAD   // the current key
	opens []cipher.AEAD // the current key first, then previous ones
}

func newSealer(secret []byte, previous [][]byte) (*sealer, error) {
	s := &sealer{}
	for i, sec := range append([][]byte{secret}, previous...) {
		if len(sec) < MinSecretLen {
			if i == 0 {
				return nil, fmt.Errorf("session secret is %d bytes, want at least %d", len(sec), MinSecretLen)
			}
			return nil, fmt.Errorf("previous session secret %d is %d bytes, want at least %d", i, len(sec), MinSecretLen)
		}
		key, err := hkdf.Key(sha256.New, sec, nil, sealInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("failed to derive session key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("failed to create session cipher: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("failed to create session cipher: %w", err)
		}
		s.opens = append(s.opens, aead)
	}
	s.seal = s.opens[0]
	return s, nil
}

// Seal returns version || nonce || ciphertext.
func (s *sealer) Seal(id string, plaintext []byte) []byte {
	ns := s.seal.NonceSize()
	out := make([]byte, 1+ns, 1+ns+len(plaintext)+s.seal.Overhead())
	out[0] = sealVersion
	_, _ = rand.Read(out[1 : 1+ns]) // crypto/rand.Read never fails
	return s.seal.Seal(out, out[1:1+ns], plaintext, []byte(sealAD+id))
}

var errOpen = errors.New("failed to open sealed session data")

// Open reverses Seal for the same id.
func (s *sealer) Open(id string, blob []byte) ([]byte, error) {
	if len(blob) < 1 || blob[0] != sealVersion {
		return nil, errOpen
	}
	for _, aead := range s.opens {
		ns := aead.NonceSize()
		if len(blob) < 1+ns+aead.Overhead() {
			return nil, errOpen
		}
		if pt, err := aead.Open(nil, blob[1:1+ns], blob[1+ns:], []byte(sealAD+id)); err == nil {
			return pt, nil
		}
	}
	return nil, errOpen
}
