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

// TestKeysRetryAfterFailureWaitsASecond: with no usable key set, a fetch
// that failed is tried again only a second later, however many requests
// arrive meanwhile, so an issuer outage at start-up is not hammered; then
// the retry recovers by itself. (Kills keyset.go's ks.lastErr != nil →
// == nil in startLocked; see MUTATION.md.)
func TestKeysRetryAfterFailureWaitsASecond(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDown(true)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	tok := iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apiguard.ErrKeysUnavailable) {
		t.Fatalf("issuer down: got %v, want keys unavailable", err)
	}
	iss.SetDown(false)
	fetches := iss.DiscoveryFetches() + iss.JWKSFetches()
	clk.Advance(time.Second - time.Millisecond)
	var ke *apiguard.KeysError
	if _, err := v.Verify(context.Background(), tok); !errors.As(err, &ke) || ke.RetryAfter <= 0 {
		t.Errorf("within a second of the failed fetch: got %v, want keys unavailable with Retry-After", err)
	}
	if n := iss.DiscoveryFetches() + iss.JWKSFetches(); n != fetches {
		t.Errorf("within a second of the failed fetch: %d more requests to the issuer, want none", n-fetches)
	}
	clk.Advance(time.Millisecond)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("a second after the failed fetch, issuer up: %v", err)
	}
}

// TestKeysUnavailableRetryAfterIsCooldown: while the issuer is down, the
// Retry-After of ErrKeysUnavailable is RefreshCooldown (default 10 s), and
// never under a second. (Kills keyset.go's ks.cooldown < time.Second →
// >= in retryAfter; see MUTATION.md.)
func TestKeysUnavailableRetryAfterIsCooldown(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDown(true)
	for cooldown, want := range map[time.Duration]time.Duration{0: 10 * time.Second, 3 * time.Second: 3 * time.Second, 100 * time.Millisecond: time.Second} {
		clk := fakeclock.New(epoch)
		v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.RefreshCooldown = cooldown })
		var ke *apiguard.KeysError
		if _, err := v.Verify(context.Background(), iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)); !errors.As(err, &ke) || ke.RetryAfter != want {
			t.Errorf("RefreshCooldown %v, issuer down: got %v, want keys unavailable with Retry-After %v", cooldown, err, want)
		}
	}
}
