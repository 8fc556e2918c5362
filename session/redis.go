package session

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix is the default prefix of RedisStore's keys.
const DefaultRedisPrefix = "apiguard:session:"

// dialerRetries is NewRedisClient's number of dial attempts per connection.
const dialerRetries = 2

// clusterReload is how often a Cluster client reloads the slot map while in
// use. go-redis reloads it on MOVED replies, but a dead master sends none:
// with go-redis's default (60 s) the slots of a failed-over master would keep
// failing for up to a minute after its replica took over.
const clusterReload = time.Second

// DefaultRedisTimeout bounds each RedisStore operation by default.
const DefaultRedisTimeout = 3 * time.Second

// RedisConfig configures a RedisStore.
type RedisConfig struct {
	// Client is the Redis client (single node, Sentinel or Cluster);
	// required. See NewRedisClient. The store does not close it.
	Client redis.UniversalClient
	// Secret keys the encryption of session data; required, at least
	// MinSecretLen bytes of high entropy. Every instance that shares the
	// sessions must use the same secret.
	Secret []byte
	// PreviousSecrets are older secrets still accepted when reading, so the
	// secret can be rotated without logging everyone out. Optional.
	PreviousSecrets [][]byte
	// Prefix is put before every key; default DefaultRedisPrefix.
	Prefix string
	// Timeout bounds each operation; default DefaultRedisTimeout.
	Timeout time.Duration
}

// RedisStore is a Store in Redis, shared by every instance that points at
// the same Redis with the same secret. Data is encrypted (AES-256-GCM, the
// session id as additional data) and keys are a hash of the session id.
type RedisStore struct {
	client  redis.UniversalClient
	sealer  *sealer
	prefix  string
	timeout time.Duration
}

// NewRedisStore returns a RedisStore. It does not contact Redis; use Ping
// for a readiness check.
func NewRedisStore(cfg RedisConfig) (*RedisStore, error) {
	if cfg.Client == nil {
		return nil, errors.New("failed to create Redis session store: no client")
	}
	sl, err := newSealer(cfg.Secret, cfg.PreviousSecrets)
	if err != nil {
		return nil, fmt.Errorf("failed to create Redis session store: %w", err)
	}
	s := &RedisStore{client: cfg.Client, sealer: sl, prefix: cfg.Prefix, timeout: cfg.Timeout}
	if s.prefix == "" {
		s.prefix = DefaultRedisPrefix
	}
	if s.timeout <= 0 {
		s.timeout = DefaultRedisTimeout
	}
	return s, nil
}

// key names id's entry by a hash, so Redis contents do not reveal cookies.
func (s *RedisStore) key(id string) string {
	sum := sha256.Sum256([]byte("apiguard session id\x00" + id))
	return s.prefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// Get implements Store. A blob that fails to decrypt (tampered, moved from
// another key, or sealed under an unknown secret) counts as not found.
func (s *RedisStore) Get(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	blob, err := s.client.Get(ctx, s.key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%w: failed to read session: %w", ErrUnavailable, err)
	}
	pt, err := s.sealer.Open(id, blob)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return pt, nil
}

// Save implements Store.
func (s *RedisStore) Save(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("failed to save session: ttl %v is not positive", ttl)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Set(ctx, s.key(id), s.sealer.Seal(id, data), ttl).Err(); err != nil {
		return fmt.Errorf("%w: failed to save session: %w", ErrUnavailable, err)
	}
	return nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Del(ctx, s.key(id)).Err(); err != nil {
		return fmt.Errorf("%w: failed to delete session: %w", ErrUnavailable, err)
	}
	return nil
}

// Ping checks that Redis answers; the error wraps ErrUnavailable.
func (s *RedisStore) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// NewRedisClient returns a client for a redis:// or rediss:// URL
// (rediss:// uses TLS):
//
//   - redis://[user:password@]host:port[/db] — one server;
//   - …?addr=host2:port&addr=host3:port, or …?cluster=true — Redis Cluster,
//     the URL's host and every addr being seed nodes;
//   - …?master_name=NAME[&addr=…] — Sentinel, the hosts being sentinels.
//
// Other query parameters are go-redis's (dial_timeout, pool_size, …);
// unknown ones are an error. The client connects lazily. Error messages
// never include the password. Unless the URL sets dialer_retries (Sentinel,
// Cluster), a failed connection is retried once rather than go-redis's four
// times, so that requests answer "unavailable" quickly while Redis is down.
func NewRedisClient(rawURL string) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("failed to parse Redis URL: %w", err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("failed to parse Redis URL: scheme %q, want redis or rediss", u.Scheme)
	}
	q := u.Query()
	cluster := false
	if v, ok := q["cluster"]; ok {
		switch strings.ToLower(v[len(v)-1]) {
		case "true", "1", "yes":
			cluster = true
		case "false", "0", "no":
		default:
			return nil, fmt.Errorf("failed to parse Redis URL: cluster=%q, want true or false", v[len(v)-1])
		}
		q.Del("cluster")
		u.RawQuery = q.Encode()
	}
	switch {
	case q.Has("master_name"):
		if cluster {
			return nil, errors.New("failed to parse Redis URL: cluster and master_name are exclusive")
		}
		opts, err := redis.ParseFailoverURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("failed to parse Redis Sentinel URL: %w", err)
		}
		opts.DialerRetries = cmp.Or(opts.DialerRetries, dialerRetries) // unless the URL set it
		return redis.NewFailoverClient(opts), nil
	case cluster || q.Has("addr"):
		opts, err := redis.ParseClusterURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("failed to parse Redis Cluster URL: %w", err)
		}
		opts.DialerRetries = cmp.Or(opts.DialerRetries, dialerRetries)
		opts.ClusterStateReloadInterval = clusterReload
		return redis.NewClusterClient(opts), nil
	default:
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, fmt.Errorf("failed to parse Redis URL: %w", err)
		}
		opts.DialerRetries = dialerRetries
		return redis.NewClient(opts), nil
	}
}
