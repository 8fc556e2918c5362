package apiguard

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestDoorkeeperSecondSighting checks through Verify that a token is stored
// on its second sighting, not its first, and is then a hit; and that a
// token refused any number of times is never stored.
func TestDoorkeeperSecondSighting(t *testing.T) {
	iss := testissuer.New(t)
	ctx := context.Background()
	// A cache of 10: its warm-up (first sightings stored while it holds
	// under 1/16 of its size) is over at once.
	v, err := New(Config{Issuer: iss.URL, CacheSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Sign(t, "eddsa", iss.Claims(time.Now()), nil)
	bad := tok[:len(tok)-2] + map[bool]string{true: "B", false: "A"}[tok[len(tok)-2] == 'A'] + tok[len(tok)-1:]
	for i := range 3 {
		if _, err := v.Verify(ctx, bad); err == nil {
			t.Fatalf("sighting %d: a tampered token was accepted", i+1)
		}
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("got %d entries after a refused token, want none", n)
	}
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("got %d entries after a token's first sighting, want none", n)
	}
	c2, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n != 1 {
		t.Fatalf("got %d entries after a token's second sighting, want 1", n)
	}
	c3, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if c3 != c2 {
		t.Error("the third sighting did not return the cached claims")
	}
	// The tampered token is still refused with its original cached.
	if _, err := v.Verify(ctx, bad); err == nil {
		t.Error("a tampered token was accepted after its original was cached")
	}
}

// TestDoorkeeperIssuers checks the same through an Issuers, whose
// verifiers share one cache.
func TestDoorkeeperIssuers(t *testing.T) {
	iss := testissuer.New(t)
	ctx := context.Background()
	m, err := NewIssuers(Issuer{Config: Config{Name: "a", Issuer: iss.URL, CacheSize: 10}})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Sign(t, "eddsa", iss.Claims(time.Now()), nil)
	for i, want := range []int{0, 1, 1} {
		if _, err := m.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if n := m.cache.len(); n != want {
			t.Fatalf("sighting %d: got %d entries, want %d", i+1, n, want)
		}
	}
}

// TestDoorkeeperFlood checks that a cache stores first sightings only
// while it holds under 1/16 of its size; that a flood of distinct tokens,
// each seen once, then leaves it at that and the doorkeeper at its size;
// and that a token reused during the flood is still stored after a few
// sightings.
func TestDoorkeeperFlood(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(1000)
	slots := len(c.door.slots)
	k := &key{kid: "k"}
	warm := 1000 / doorkeeperWarmup
	for i := range warm {
		tok := "warm-" + strconv.Itoa(i)
		c.offer(c.hash(tok), tok, &Claims{Expiry: now.Add(time.Hour)}, k, now)
	}
	if n := c.len(); n != warm {
		t.Fatalf("got %d entries after %d first sightings in a cache of 1000, want all (its warm-up)", n, warm)
	}
	reused := cacheTokens(t, 1)[0]
	stored := -1
	for i := range 200_000 {
		tok := "flood-" + strconv.Itoa(i)
		c.offer(c.hash(tok), tok, &Claims{Expiry: now.Add(time.Hour)}, k, now)
		if i%1000 == 0 && stored < 0 {
			c.offer(c.hash(reused), reused, &Claims{Expiry: now.Add(time.Hour)}, k, now)
			if c.get(c.hash(reused), reused, now) != nil {
				stored = i / 1000
			}
		}
	}
	if n := c.len(); n > warm+1 {
		t.Errorf("got %d entries after 200,000 tokens seen once each (and one reused), want the %d of the warm-up and the reused one", n, warm)
	}
	if stored < 1 || stored > 3 {
		t.Errorf("the reused token was stored at its sighting %d, want its 2nd (or a little later, when a flood token took its slot)", stored+1)
	}
	if len(c.door.slots) != slots || slots != 2048 {
		t.Errorf("the doorkeeper has %d slots (%d before the flood), want 2048", len(c.door.slots), slots)
	}
}

// TestDoorkeeperSize checks that the doorkeeper's memory is bounded
// whatever the cache's size.
func TestDoorkeeperSize(t *testing.T) {
	for _, tt := range []struct {
		size int64
		want int
	}{{1, doorkeeperMinSlots}, {1000, 2048}, {100_000, 1 << 18}, {1 << 40, doorkeeperMaxSlots}} {
		if got := len(newDoorkeeper(tt.size).slots); got != tt.want {
			t.Errorf("newDoorkeeper(%d) has %d slots, want %d", tt.size, got, tt.want)
		}
	}
}

// TestDoorkeeperWarmupBytes checks that the warm-up also ends at 1/16 of
// the byte bound: long tokens that fill the bytes long before the count
// are kept out on their first sighting too.
func TestDoorkeeperWarmupBytes(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := newTokenCache(1000)
	c.maxBytes = 64 << 10 // the warm-up ends at 4 KiB: two or three entries of about 1.5 KB
	k := &key{kid: "k"}
	long := strings.Repeat("t", 1000)
	for i := range 1000 {
		tok := long + strconv.Itoa(i)
		c.offer(c.hash(tok), tok, &Claims{Expiry: now.Add(time.Hour)}, k, now)
	}
	if n := c.len(); n == 0 || n > 3 {
		t.Errorf("got %d entries after 1,000 long tokens seen once each, want the 1 to 3 of the warm-up", n)
	}
}
