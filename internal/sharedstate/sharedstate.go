// Package sharedstate keeps the state that N apiguard instances must share
// in Redis: introspection results (an apiguard.IntrospectionCache) and the
// ids of used DPoP proofs (an apiguard.ReplayCache).
//
// # Keys
//
// Keys are the callers' (hashes, never tokens) under a prefix, by default
// "apiguard:". Entries expire with Redis's own TTLs.
//
// # Sealing
//
// With Config.Secret set, introspection results are stored encrypted and
// authenticated (AES-256-GCM, bound to their key): whoever can read Redis
// learns nothing of the claims, and whoever can write to it cannot forge an
// "active" result. A value that does not open is an error, and the issuer
// is asked.
//
// # Failures
//
// Every Redis error is returned to the caller, which fails safe: apiguard
// answers 503 when it cannot tell whether a proof was replayed, and asks the
// issuer when it cannot read a cached introspection result.
package sharedstate

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultPrefix is put before every key when Config.Prefix is empty.
const DefaultPrefix = "apiguard:"

// Config configures a [Store].
type Config struct {
	// Client is the Redis client (single node, Sentinel or Cluster).
	// Required; the caller closes it.
	Client redis.UniversalClient
	// Prefix is put before every key. Default [DefaultPrefix].
	Prefix string
	// Timeout bounds each Redis call. Default 1s.
	Timeout time.Duration
	// Secret, when set (32 bytes or more), seals introspection results.
	// Instances sharing a Redis must share it.
	Secret []byte
}

// Store is an introspection cache and a DPoP replay cache in Redis. It is
// safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	aead    cipher.AEAD // nil: values stored as they are
}

const sealInfo = "apiguard sharedstate introspection AES-256-GCM v1"

// New returns a Store for cfg.
func New(cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("sharedstate: Config.Client is required")
	}
	s := &Store{client: cfg.Client, prefix: cfg.Prefix, timeout: cfg.Timeout}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.timeout <= 0 {
		s.timeout = time.Second
	}
	if cfg.Secret != nil {
		if len(cfg.Secret) < 32 {
			return nil, fmt.Errorf("sharedstate: Config.Secret is %d bytes, want at least 32", len(cfg.Secret))
		}
		key, err := hkdf.Key(sha256.New, cfg.Secret, nil, sealInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("sharedstate: failed to derive the sealing key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("sharedstate: failed to create the cipher: %w", err)
		}
		if s.aead, err = cipher.NewGCM(block); err != nil {
			return nil, fmt.Errorf("sharedstate: failed to create the cipher: %w", err)
		}
	}
	return s, nil
}

// Get returns the introspection result stored under key, or nil when there
// is none.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	b, err := s.client.Get(ctx, s.prefix+"introspect:"+key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read an introspection result from Redis: %w", err)
	}
	if s.aead == nil {
		return b, nil
	}
	ns := s.aead.NonceSize()
	if len(b) < ns {
		return nil, errors.New("failed to open an introspection result from Redis: too short")
	}
	plain, err := s.aead.Open(nil, b[:ns], b[ns:], []byte(key))
	if err != nil {
		return nil, errors.New("failed to open an introspection result from Redis: not sealed with this secret")
	}
	return plain, nil
}

// Set stores an introspection result under key for ttl.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.aead != nil {
		nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(value)+s.aead.Overhead())
		_, _ = rand.Read(nonce) // crypto/rand.Read never fails
		value = s.aead.Seal(nonce, nonce, value, []byte(key))
	}
	if err := s.client.Set(ctx, s.prefix+"introspect:"+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("failed to store an introspection result in Redis: %w", err)
	}
	return nil
}

// Use records a DPoP proof id for ttl with SET NX, and reports whether it
// was new: of two instances shown the same proof, exactly one sees true.
func (s *Store) Use(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ok, err := s.client.SetNX(ctx, s.prefix+"replay:"+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("failed to record a DPoP proof id in Redis: %w", err)
	}
	return ok, nil
}
