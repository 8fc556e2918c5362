package sharedstate_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/internal/redistest"
	"github.com/apiguard/apiguard/internal/seal"
	"github.com/apiguard/apiguard/internal/sharedstate"
	"github.com/apiguard/apiguard/internal/sharedstate/sharedstatetest"
	"github.com/apiguard/apiguard/introspect"
	"github.com/apiguard/apiguard/session"
)

var (
	_ introspect.Cache = (*sharedstate.Store)(nil)
	_ dpop.ReplayCache = (*sharedstate.Store)(nil)
)

func newStore(t *testing.T, url string, secret ...byte) *sharedstate.Store {
	t.Helper()
	return sharedstatetest.New(t, url, sharedstate.Config{Secret: secret})
}

func TestStore(t *testing.T) {
	srv := redistest.New(t)
	a, b := newStore(t, srv.URL()), newStore(t, srv.URL()) // two instances
	ctx := context.Background()

	t.Run("introspection results are shared", func(t *testing.T) {
		if got, err := b.Get(ctx, "k1"); err != nil || got != nil {
			t.Fatalf("Get before Set: got %q, %v; want nil, nil", got, err)
		}
		if err := a.Set(ctx, "k1", []byte(`{"active":true}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := b.Get(ctx, "k1"); err != nil || !bytes.Equal(got, []byte(`{"active":true}`)) {
			t.Fatalf("Get on the other instance: got %q, %v", got, err)
		}
	})
	t.Run("a proof id is fresh once across instances", func(t *testing.T) {
		for i, want := range []bool{true, false, false} {
			s := []*sharedstate.Store{a, b, a}[i]
			if got, err := s.Use(ctx, "jti-1", time.Minute); err != nil || got != want {
				t.Fatalf("Use #%d: got %v, %v; want %v", i+1, got, err, want)
			}
		}
	})
	t.Run("entries expire", func(t *testing.T) {
		if err := a.Set(ctx, "short", []byte("x"), 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if fresh, err := a.Use(ctx, "short-jti", 50*time.Millisecond); err != nil || !fresh {
			t.Fatalf("Use: %v %v", fresh, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := b.Get(ctx, "short")
			if err == nil && got == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("introspection result did not expire: Get %q %v", got, err)
			}
		}
		for {
			fresh, err := b.Use(ctx, "short-jti", 50*time.Millisecond)
			if err == nil && fresh {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("proof id did not expire: Use %v %v", fresh, err)
			}
		}
	})
	t.Run("sealed results", func(t *testing.T) {
		secret := []byte("0123456789abcdef0123456789abcdef")
		sa, sb := newStore(t, srv.URL(), secret...), newStore(t, srv.URL(), secret...)
		if err := sa.Set(ctx, "sealed", []byte(`{"active":true}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := sb.Get(ctx, "sealed"); err != nil || string(got) != `{"active":true}` {
			t.Fatalf("Get with the same secret: got %q, %v", got, err)
		}
		if got, _ := a.Get(ctx, "sealed"); bytes.Contains(got, []byte("active")) {
			t.Errorf("the value in Redis is not sealed: %q", got)
		}
		// A value written without the secret (or forged) does not open.
		if err := a.Set(ctx, "forged", []byte(`{"active":true}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := sb.Get(ctx, "forged"); err == nil {
			t.Errorf("forged value: got %q, want an error", got)
		}
		// Nor does a sealed value moved to another key.
		raw, _ := a.Get(ctx, "sealed")
		if err := a.Set(ctx, "moved", raw, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := sb.Get(ctx, "moved"); err == nil {
			t.Errorf("moved value: got %q, want an error", got)
		}
		if _, err := sharedstate.New(sharedstate.Config{Client: nil}); err == nil {
			t.Error("New without a client: no error")
		}
	})
	t.Run("rotated secret", func(t *testing.T) {
		older := []byte("the older secret, 32 bytes or more")
		newer := []byte("the newer secret, 32 bytes or more")
		before := sharedstatetest.New(t, srv.URL(), sharedstate.Config{Secret: older})
		after := sharedstatetest.New(t, srv.URL(), sharedstate.Config{Secret: newer, PreviousSecrets: [][]byte{older}})
		if err := before.Set(ctx, "rotated", []byte(`{"active":true}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := after.Get(ctx, "rotated"); err != nil || string(got) != `{"active":true}` {
			t.Errorf("Get of a result sealed with the previous secret: got %q, %v", got, err)
		}
		if err := after.Set(ctx, "rotated", []byte(`{"active":false}`), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := before.Get(ctx, "rotated"); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("the new result opened with the old secret alone: got %q, %v; want seal.ErrOpen (sealed with the newest)", got, err)
		}
		client, err := session.NewRedisClient(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		_, err = sharedstate.New(sharedstate.Config{Client: client, Secret: newer, PreviousSecrets: [][]byte{[]byte("short")}})
		if err == nil || !strings.Contains(err.Error(), "PreviousSecrets[0] is 5 bytes") {
			t.Errorf("New with a short previous secret: got %v", err)
		}
	})
	t.Run("results sealed by an earlier release open", func(t *testing.T) {
		raw, err := os.ReadFile("testdata/unversioned-v0.json")
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Secret, Key, Plaintext, Hex string }
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		blob, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Set(ctx, v.Key, blob, time.Minute); err != nil { // a stores values as they are
			t.Fatal(err)
		}
		rotated := sharedstatetest.New(t, srv.URL(), sharedstate.Config{Secret: []byte("a newer secret, 32 bytes or more"),
			PreviousSecrets: [][]byte{[]byte(v.Secret)}})
		for _, s := range []*sharedstate.Store{newStore(t, srv.URL(), []byte(v.Secret)...), rotated} {
			if got, err := s.Get(ctx, v.Key); err != nil || string(got) != v.Plaintext {
				t.Errorf("Get = %q, %v; want %q", got, err, v.Plaintext)
			}
		}
		if err := a.Set(ctx, "elsewhere", blob, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := rotated.Get(ctx, "elsewhere"); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("moved to another key: got %q, %v; want seal.ErrOpen", got, err)
		}
	})
	t.Run("Redis down is an error, never a fresh proof", func(t *testing.T) {
		srv.Stop()
		if fresh, err := a.Use(ctx, "jti-2", time.Minute); err == nil || fresh {
			t.Errorf("Use with Redis down: got %v, %v; want false and an error", fresh, err)
		}
		if _, err := a.Get(ctx, "k1"); err == nil {
			t.Error("Get with Redis down: no error")
		}
		if err := a.Set(ctx, "k2", []byte("x"), time.Minute); err == nil {
			t.Error("Set with Redis down: no error")
		}
	})
}
