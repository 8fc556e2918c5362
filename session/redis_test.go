package session

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func TestRedisStoreProtectsData(t *testing.T) {
	addr := redistest.Start(t)
	st, client := newRedisStore(t, addr, testSecret)
	ctx := context.Background()
	id, other := randomToken(), randomToken()
	secret := []byte(`{"access_token":"very-secret-token"}`)
	if err := st.Save(ctx, id, secret, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := st.Save(ctx, other, []byte("other"), time.Minute); err != nil {
		t.Fatal(err)
	}

	keys, err := client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("Redis holds %d keys, want 2", len(keys))
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, DefaultRedisPrefix) {
			t.Errorf("key %q lacks prefix %q", k, DefaultRedisPrefix)
		}
		if strings.Contains(k, id) || strings.Contains(k, other) {
			t.Errorf("key %q contains a raw session id", k)
		}
		v, _ := client.Get(ctx, k).Bytes()
		if bytes.Contains(v, []byte("very-secret-token")) || bytes.Contains(v, []byte("other")) {
			t.Errorf("value under %q holds plaintext", k)
		}
	}

	ttl, err := client.PTTL(ctx, st.key(id)).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, %v; want within (0, 1m]", ttl, err)
	}

	// A blob moved under another session's key does not open.
	blob, _ := client.Get(ctx, st.key(id)).Bytes()
	if err := client.Set(ctx, st.key(other), blob, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, other); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a blob moved to another id: error = %v, want ErrNotFound", err)
	}

	// A flipped bit does not open.
	blob[len(blob)-1] ^= 1
	_ = client.Set(ctx, st.key(id), blob, time.Minute).Err()
	if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a tampered blob: error = %v, want ErrNotFound", err)
	}
}

func TestRedisStoreSecrets(t *testing.T) {
	addr := redistest.Start(t)
	oldSecret := bytes.Repeat([]byte("o"), 32)
	newSecret := bytes.Repeat([]byte("n"), 32)
	ctx := context.Background()
	oldStore, client := newRedisStore(t, addr, oldSecret)
	id := randomToken()
	if err := oldStore.Save(ctx, id, []byte("data"), time.Minute); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		secret   []byte
		previous [][]byte
		wantErr  error
	}{
		{name: "same secret opens", secret: oldSecret},
		{name: "other secret does not open", secret: newSecret, wantErr: ErrNotFound},
		{name: "rotated secret with the old one as previous opens", secret: newSecret, previous: [][]byte{oldSecret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := NewRedisStore(RedisConfig{Client: client, Secret: tt.secret, PreviousSecrets: tt.previous})
			if err != nil {
				t.Fatal(err)
			}
			got, err := st.Get(ctx, id)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Get error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(got) != "data" {
				t.Errorf("Get = %q, want %q", got, "data")
			}
		})
	}
}

func TestNewRedisStoreValidates(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	tests := []struct {
		name string
		cfg  RedisConfig
	}{
		{name: "no client", cfg: RedisConfig{Secret: testSecret}},
		{name: "no secret", cfg: RedisConfig{Client: client}},
		{name: "short secret", cfg: RedisConfig{Client: client, Secret: []byte("short")}},
		{name: "short previous secret", cfg: RedisConfig{Client: client, Secret: testSecret, PreviousSecrets: [][]byte{[]byte("x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewRedisStore(tt.cfg); err == nil {
				t.Error("got nil error, want one")
			}
		})
	}
}

func TestRedisStoreUnavailable(t *testing.T) {
	srv := redistest.New(t)
	st, _ := newRedisStore(t, srv.Addr(), testSecret)
	ctx := context.Background()
	id := randomToken()
	if err := st.Save(ctx, id, []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if _, err := st.Get(ctx, id); !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Errorf("Get with Redis down: error = %v, want ErrUnavailable and not ErrNotFound", err)
	}
	if err := st.Save(ctx, id, []byte("x"), time.Minute); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Save with Redis down: error = %v, want ErrUnavailable", err)
	}
	if err := st.Delete(ctx, id); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Delete with Redis down: error = %v, want ErrUnavailable", err)
	}
	if err := st.Ping(ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Ping with Redis down: error = %v, want ErrUnavailable", err)
	}
	srv.Restart()
	if err := st.Ping(ctx); err != nil {
		t.Errorf("Ping after restart: %v, want nil", err)
	}
	if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after restart of a non-persistent Redis: error = %v, want ErrNotFound", err)
	}
}

func TestNewRedisClient(t *testing.T) {
	tests := []struct {
		name     string
		url      string
		wantType string // "single", "cluster", "sentinel" or "" for an error
	}{
		{name: "single", url: "redis://localhost:6379/2", wantType: "single"},
		{name: "single with password and tls", url: "rediss://user:pw@redis.example:6380", wantType: "single"},
		{name: "cluster by addr", url: "redis://a:7000?addr=b:7001&addr=c:7002", wantType: "cluster"},
		{name: "cluster by flag", url: "rediss://a:7000?cluster=true", wantType: "cluster"},
		{name: "sentinel", url: "redis://s1:26379?master_name=mymaster&addr=s2:26379", wantType: "sentinel"},
		{name: "bad scheme", url: "http://localhost:6379"},
		{name: "unknown option", url: "redis://localhost:6379?bogus=1"},
		{name: "bad cluster flag", url: "redis://localhost:6379?cluster=maybe"},
		{name: "cluster and sentinel", url: "redis://localhost:6379?cluster=true&master_name=m"},
		{name: "unparsable", url: "redis://user:pw@local host:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewRedisClient(tt.url)
			if tt.wantType == "" {
				if err == nil {
					_ = c.Close()
					t.Fatal("got nil error, want one")
				}
				if strings.Contains(err.Error(), "pw") {
					t.Errorf("error %q reveals the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			defer c.Close()
			var got string
			switch cc := c.(type) {
			case *redis.ClusterClient:
				got = "cluster"
				if r := cc.Options().DialerRetries; r != dialerRetries {
					t.Errorf("DialerRetries = %d, want %d", r, dialerRetries)
				}
			case *redis.Client:
				got = "single"
				if r := cc.Options().DialerRetries; r != dialerRetries {
					t.Errorf("DialerRetries = %d, want %d", r, dialerRetries)
				}
				if strings.Contains(cc.String(), "FailoverClient") || strings.Contains(cc.String(), "sentinel") {
					got = "sentinel"
				}
			}
			if got != tt.wantType {
				t.Errorf("client type = %s (%T %v), want %s", got, c, c, tt.wantType)
			}
		})
	}
}
