package apiguard_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestIssuersDisableCacheKept: in an Issuers whose other issuer caches, an
// issuer with DisableCache is not given the shared cache: each Verify of
// its token is a fresh check with claims of its own, while the caching
// issuer's second Verify is answered from the cache (the same claims).
func TestIssuersDisableCacheKept(t *testing.T) {
	a, b, clk := testissuer.New(t), testissuer.New(t), fakeclock.New(epoch)
	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "uncached", Issuer: a.URL, Now: clk.Now, DisableCache: true}},
		apiguard.Issuer{Config: apiguard.Config{Name: "cached", Issuer: b.URL, Now: clk.Now}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		iss    *testissuer.Issuer
		cached bool
	}{{a, false}, {b, true}} {
		tok := tc.iss.Sign(t, "es256", tc.iss.Claims(clk.Now()), nil)
		c1, err1 := m.Verify(context.Background(), tok)
		c2, err2 := m.Verify(context.Background(), tok)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v, %v", tc.iss.URL, err1, err2)
		}
		if got := c1 == c2; got != tc.cached {
			t.Errorf("issuer %s: second Verify answered from the cache: %v, want %v", c1.IssuerName, got, tc.cached)
		}
	}
}

// TestIssuersCacheUsesTheirClock: when the issuers run on clocks of their
// own, a cached token is looked up at their time, not the wall clock's: a
// token verified once is refused once their clock has passed its exp.
func TestIssuersCacheUsesTheirClock(t *testing.T) {
	a := testissuer.New(t)
	// The clock starts at the wall clock's time, so that the token is
	// still valid by the wall clock after this clock has passed its exp.
	clk := fakeclock.New(time.Now())
	m, err := apiguard.NewIssuers(apiguard.Issuer{Config: apiguard.Config{Name: "a", Issuer: a.URL, Now: clk.Now}})
	if err != nil {
		t.Fatal(err)
	}
	claims := a.Claims(clk.Now())
	claims["exp"] = clk.Now().Add(time.Hour).Unix()
	tok := a.Sign(t, "es256", claims, nil)
	if _, err := m.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	if _, err := m.Verify(context.Background(), tok); !errors.Is(err, apiguard.ErrExpired) {
		t.Errorf("after its exp by the issuers' clock: %v, want ErrExpired", err)
	}
}

// TestIssuersAllCachesOff: an Issuers whose issuers all have DisableCache
// (so no shared cache) and the wall clock verifies their tokens, every time.
func TestIssuersAllCachesOff(t *testing.T) {
	a := testissuer.New(t)
	m, err := apiguard.NewIssuers(apiguard.Issuer{Config: apiguard.Config{Name: "a", Issuer: a.URL, DisableCache: true}})
	if err != nil {
		t.Fatal(err)
	}
	tok := a.Sign(t, "es256", a.Claims(time.Now()), nil)
	for i := range 2 {
		if _, err := m.Verify(context.Background(), tok); err != nil {
			t.Errorf("Verify %d: %v", i+1, err)
		}
	}
}

// TestIssuersSharedCacheOwnEntriesOnly: with every issuer on the wall
// clock (the Issuers' own cache look-up), an entry of the shared cache
// counts only for the issuer that made it and only where that issuer is
// accepted: a view that refuses a refuses a's cached token, a view that
// accepts b answers b's cached token from the cache, and b's Verifier
// alone refuses a's cached token while a's answers it from the cache.
func TestIssuersSharedCacheOwnEntriesOnly(t *testing.T) {
	a, b := testissuer.New(t), testissuer.New(t)
	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "a", Issuer: a.URL}},
		apiguard.Issuer{Config: apiguard.Config{Name: "b", Issuer: b.URL}},
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tokA := a.Sign(t, "es256", a.Claims(time.Now()), nil)
	tokB := b.Sign(t, "es256", b.Claims(time.Now()), nil)
	cA, errA := m.Verify(ctx, tokA)
	cB, errB := m.Verify(ctx, tokB)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	onlyA, _ := m.Only("a")
	onlyB, _ := m.Only("b")
	if _, err := onlyB.Verify(ctx, tokA); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("a's cached token on a view of b: %v, want ErrIssuer", err)
	}
	if _, err := onlyA.Verify(ctx, tokB); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("b's cached token on a view of a: %v, want ErrIssuer", err)
	}
	if c, err := onlyB.Verify(ctx, tokB); err != nil || c != cB {
		t.Errorf("b's cached token on a view of b: %v, from the cache: %v", err, c == cB)
	}
	if _, err := m.Verifier("b").Verify(ctx, tokA); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("a's cached token on b's Verifier: %v, want ErrIssuer", err)
	}
	if c, err := m.Verifier("a").Verify(ctx, tokA); err != nil || c != cA {
		t.Errorf("a's cached token on a's Verifier: %v, from the cache: %v", err, c == cA)
	}
}
