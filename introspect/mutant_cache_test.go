package introspect_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/introspect"
)

// TestIntrospectionMemoryCacheBounded: the in-process cache holds at most
// the verifier's CacheSize results. With room for one, a second token's
// result pushes out the first, which is then asked about again; the cache
// never grows past its bound.
func TestIntrospectionMemoryCacheBounded(t *testing.T) {
	iss, clk, fake := testissuer.New(t), fakeclock.New(epoch), newFakeIntrospection(t)
	fake.set(200, activeBody(iss.URL, clk.Now()))
	v := newIntrospect(t, apiguard.Config{Issuer: iss.URL, Now: clk.Now, CacheSize: 1},
		introspect.Config{ClientID: introID, ClientSecret: introSecret, Endpoint: fake.srv.URL})
	for i, tok := range []string{"token-A", "token-A", "token-B", "token-A"} {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("Verify #%d (%s): %v", i+1, tok, err)
		}
	}
	// token-A once, token-B once, token-A again after token-B took its
	// place (the second token-A was a hit).
	if got := fake.calls.Load(); got != 3 {
		t.Errorf("got %d introspection calls, want 3 (a cache of one keeps only the last result)", got)
	}
}

// storeCache is an introspect.Cache whose reads find nothing and whose
// writes fail when failSet is set.
type storeCache struct {
	mu      sync.Mutex
	failSet bool
	sets    int
}

func (*storeCache) Get(context.Context, string) ([]byte, error) { return nil, nil }

func (c *storeCache) Set(context.Context, string, []byte, time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sets++
	if c.failSet {
		return errors.New("cache down")
	}
	return nil
}

// TestIntrospectionCacheWriteFailureLogged: a configured cache that cannot
// store a result does not stop the request (the issuer's answer is used),
// and the failure is logged as a warning for the operator; a write that
// succeeds logs nothing.
func TestIntrospectionCacheWriteFailureLogged(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	for _, failSet := range []bool{true, false} {
		fake, cache := newFakeIntrospection(t), &storeCache{failSet: failSet}
		fake.set(200, activeBody(iss.URL, clk.Now()))
		var logs bytes.Buffer
		v := newIntrospect(t, apiguard.Config{Issuer: iss.URL, Now: clk.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
			introspect.Config{ClientID: introID, ClientSecret: introSecret, Endpoint: fake.srv.URL, Cache: cache})
		if _, err := v.Verify(context.Background(), opaque); err != nil {
			t.Fatalf("cache write failing %v: %v", failSet, err)
		}
		if cache.sets != 1 {
			t.Errorf("cache write failing %v: %d writes, want 1", failSet, cache.sets)
		}
		logged := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "failed to store an introspection result")
		if logged != failSet {
			t.Errorf("cache write failing %v: warning logged %v; log:\n%s", failSet, logged, logs.String())
		}
		if failSet && !strings.Contains(logs.String(), "cache down") {
			t.Errorf("the warning does not give the cache's error:\n%s", logs.String())
		}
	}
}
