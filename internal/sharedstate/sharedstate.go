// Package sharedstate keeps the state that N apiguard instances must share
// in Redis: introspection results (an introspect.Cache) and the
// ids of used DPoP proofs (a dpop.ReplayCache).
//
// # Keys
//
// Keys are the callers' (hashes, never tokens) under a prefix, by default
// "apiguard:". Entries expire with Redis's own TTLs.
//
// # Sealing
//
// With Config.Secret set, introspection results are stored encrypted and
// authenticated (package seal: AES-256-GCM, bound to their key): whoever
// can read Redis learns nothing of the claims, and whoever can write to it
// cannot forge an "active" result. A value that does not open is an error,
// and the issuer is asked. Config.PreviousSecrets rotates the secret: values
// sealed with them still open, new ones are sealed with Secret.
//
// # Failures
//
// Every Redis error is returned to the caller, which fails safe: apiguard
// answers 503 when it cannot tell whether a proof was replayed, and asks the
// issuer when it cannot read a cached introspection result.
package sharedstate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiguard/apiguard/internal/seal"
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
	// PreviousSecrets are older secrets whose sealed results still open,
	// so that Secret can be rotated. Optional; used only with Secret.
	PreviousSecrets [][]byte
}

// Store is an introspection cache and a DPoP replay cache in Redis. It is
// safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	sealer  *seal.Sealer // nil: values stored as they are
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
		var err error
		s.sealer, err = seal.New(sealInfo, append([][]byte{cfg.Secret}, cfg.PreviousSecrets...)...)
		if short, ok := errors.AsType[*seal.ShortSecretError](err); ok {
			if short.Index == 0 {
				return nil, fmt.Errorf("sharedstate: Config.Secret is %d bytes, want at least %d", short.Len, seal.MinSecretLen)
			}
			return nil, fmt.Errorf("sharedstate: Config.PreviousSecrets[%d] is %d bytes, want at least %d", short.Index-1, short.Len, seal.MinSecretLen)
		}
		if err != nil {
			return nil, fmt.Errorf("sharedstate: %w", err)
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
	if s.sealer == nil {
		return b, nil
	}
	plain, err := s.sealer.Open([]byte(key), b)
	if err != nil {
		// Written by a release that sealed without a version byte; such
		// values expire within one cache TTL of the upgrade.
		plain, err = s.sealer.OpenUnversioned([]byte(key), b)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to open an introspection result from Redis (not sealed with this secret): %w", err)
	}
	return plain, nil
}

// Set stores an introspection result under key for ttl.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if s.sealer != nil {
		value = s.sealer.Seal([]byte(key), value)
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
