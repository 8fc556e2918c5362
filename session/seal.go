package session

import (
	"errors"
	"fmt"

	"github.com/apiguard/apiguard/internal/seal"
)

// MinSecretLen is the shortest secret RedisConfig accepts, in bytes.
const MinSecretLen = seal.MinSecretLen

const (
	sealVersion = seal.Version
	sealInfo    = "apiguard session AES-256-GCM v1"
	sealAD      = "apiguard session v1\x00"
)

// sealer encrypts session blobs (package seal, under the session's own key
// derivation), binding each to its session id through the additional data.
type sealer struct {
	s *seal.Sealer
}

// newSealer seals with secret and also opens what the previous secrets
// sealed.
func newSealer(secret []byte, previous [][]byte) (*sealer, error) {
	s, err := seal.New(sealInfo, append([][]byte{secret}, previous...)...)
	if short, ok := errors.AsType[*seal.ShortSecretError](err); ok {
		if short.Index == 0 {
			return nil, fmt.Errorf("session secret is %d bytes, want at least %d", short.Len, MinSecretLen)
		}
		return nil, fmt.Errorf("previous session secret %d is %d bytes, want at least %d", short.Index, short.Len, MinSecretLen)
	}
	if err != nil {
		return nil, err
	}
	return &sealer{s: s}, nil
}

// Seal returns version || nonce || ciphertext.
func (s *sealer) Seal(id string, plaintext []byte) []byte {
	return s.s.Seal([]byte(sealAD+id), plaintext)
}

var errOpen = errors.New("failed to open sealed session data")

// Open reverses Seal for the same id.
func (s *sealer) Open(id string, blob []byte) ([]byte, error) {
	pt, err := s.s.Open([]byte(sealAD+id), blob)
	if err != nil {
		return nil, errOpen
	}
	return pt, nil
}
