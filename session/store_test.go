package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/redis/go-redis/v9"
)

func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func newRedisStore(t *testing.T, addr string, secret []byte) (*RedisStore, redis.UniversalClient) {
	t.Helper()
	client, err := NewRedisClient("redis://" + addr + "?max_retries=-1&dial_timeout=1s")
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { _ = client.Close() })
	st, err := NewRedisStore(RedisConfig{Client: client, Secret: secret})
	if err != nil {
		t.Fatalf("NewRedisStore: %v", err)
	}
	return st, client
}

// TestStoreContract runs the same checks against every Store.
func TestStoreContract(t *testing.T) {
	addr := redistest.Start(t)
	stores := map[string]func(t *testing.T) Store{
		"memory": func(t *testing.T) Store { return NewMemoryStore(MemoryConfig{}) },
		"redis": func(t *testing.T) Store {
			st, _ := newRedisStore(t, addr, testSecret)
			return st
		},
		"redis cluster": func(t *testing.T) Store {
			srv := redistest.NewCluster(t)
			client, err := NewRedisClient("redis://" + srv.Addr() + "?cluster=true")
			if err != nil {
				t.Fatalf("NewRedisClient: %v", err)
			}
			t.Cleanup(func() { _ = client.Close() })
			if _, ok := client.(*redis.ClusterClient); !ok {
				t.Fatalf("NewRedisClient(cluster=true) = %T, want *redis.ClusterClient", client)
			}
			st, err := NewRedisStore(RedisConfig{Client: client, Secret: testSecret})
			if err != nil {
				t.Fatalf("NewRedisStore: %v", err)
			}
			return st
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := newStore(t)
			id, other := randomToken(), randomToken()

			if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get(absent) error = %v, want ErrNotFound", err)
			}
			if err := st.Save(ctx, id, []byte("hello"), time.Minute); err != nil {
				t.Fatalf("Save: %v", err)
			}
			got, err := st.Get(ctx, id)
			if err != nil || string(got) != "hello" {
				t.Fatalf("Get = %q, %v; want %q, nil", got, err, "hello")
			}
			if _, err := st.Get(ctx, other); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(other id) error = %v, want ErrNotFound", err)
			}
			if err := st.Save(ctx, id, []byte("again"), time.Minute); err != nil {
				t.Fatalf("Save (replace): %v", err)
			}
			if got, _ := st.Get(ctx, id); string(got) != "again" {
				t.Errorf("Get after replace = %q, want %q", got, "again")
			}
			if err := st.Save(ctx, id, []byte("x"), 0); err == nil {
				t.Error("Save with ttl 0: got nil error, want an error")
			}
			if err := st.Delete(ctx, id); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if _, err := st.Get(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
			}
			if err := st.Delete(ctx, id); err != nil {
				t.Errorf("Delete(absent) = %v, want nil", err)
			}
		})
	}
}

func TestMemoryStoreExpiry(t *testing.T) {
	clock := newFakeClock()
	st := NewMemoryStore(MemoryConfig{Now: clock.Now})
	ctx := context.Background()
	if err := st.Save(ctx, "a", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	if _, err := st.Get(ctx, "a"); err != nil {
		t.Fatalf("Get before expiry: %v, want nil", err)
	}
	clock.Advance(time.Second)
	if _, err := st.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get at expiry: error = %v, want ErrNotFound", err)
	}
	if got := st.Len(); got != 0 {
		t.Errorf("Len after expired Get = %d, want 0", got)
	}
}

func TestMemoryStoreBounded(t *testing.T) {
	clock := newFakeClock()
	st := NewMemoryStore(MemoryConfig{MaxEntries: 3, Now: clock.Now})
	ctx := context.Background()
	save := func(id string, ttl time.Duration) {
		t.Helper()
		if err := st.Save(ctx, id, []byte(id), ttl); err != nil {
			t.Fatal(err)
		}
	}
	save("short", time.Minute)
	save("long1", time.Hour)
	save("long2", time.Hour)
	save("new1", time.Hour) // full: evicts the entry closest to expiry
	if _, err := st.Get(ctx, "short"); !errors.Is(err, ErrNotFound) {
		t.Errorf("closest-to-expiry entry: error = %v, want ErrNotFound (evicted)", err)
	}
	for _, id := range []string{"long1", "long2", "new1"} {
		if _, err := st.Get(ctx, id); err != nil {
			t.Errorf("Get(%s) = %v, want nil", id, err)
		}
	}
	// Replacing an existing id does not evict anything.
	save("long1", time.Hour)
	if got := st.Len(); got != 3 {
		t.Errorf("Len after replace = %d, want 3", got)
	}

	// Expired entries go first, before live ones.
	st2 := NewMemoryStore(MemoryConfig{MaxEntries: 2, Now: clock.Now})
	_ = st2.Save(ctx, "old", nil, time.Second)
	_ = st2.Save(ctx, "live", nil, time.Minute)
	clock.Advance(2 * time.Second)
	_ = st2.Save(ctx, "newer", nil, time.Minute)
	if _, err := st2.Get(ctx, "live"); err != nil {
		t.Errorf("live entry evicted while an expired one was there: %v", err)
	}
	if got := st2.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
}

func TestMemoryStoreReturnsCopies(t *testing.T) {
	st := NewMemoryStore(MemoryConfig{})
	ctx := context.Background()
	in := []byte("abc")
	_ = st.Save(ctx, "a", in, time.Minute)
	in[0] = 'X'
	out, _ := st.Get(ctx, "a")
	out[1] = 'Y'
	again, _ := st.Get(ctx, "a")
	if string(again) != "abc" {
		t.Errorf("stored value = %q, want %q (not aliased to caller slices)", again, "abc")
	}
}

func TestMemoryStoreConcurrent(t *testing.T) {
	st := NewMemoryStore(MemoryConfig{MaxEntries: 50})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", g, i%70)
				_ = st.Save(ctx, id, []byte(id), time.Minute)
				_, _ = st.Get(ctx, id)
				if i%5 == 0 {
					_ = st.Delete(ctx, id)
				}
			}
		})
	}
	wg.Wait()
	if got := st.Len(); got > 50 {
		t.Errorf("Len = %d, want at most MaxEntries 50", got)
	}
}
