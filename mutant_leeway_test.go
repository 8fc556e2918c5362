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

// TestLeewayBounds: Config.Leeway takes up to 5 minutes, and that much
// skew is then tolerated on exp; a leeway a nanosecond longer is refused
// by New. (Kills verify.go's 5*time.Minute → 5/time.Minute, the bound of
// Leeway; see MUTATION.md.)
func TestLeewayBounds(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	if _, err := apiguard.New(apiguard.Config{Issuer: iss.URL, Leeway: 5*time.Minute + 1}); err == nil {
		t.Error("New accepted a Leeway over 5 minutes")
	}
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.Leeway = 5 * time.Minute })
	claims := iss.Claims(clk.Now())
	claims["iat"] = clk.Now().Add(-time.Hour).Unix()
	claims["exp"] = clk.Now().Add(-5*time.Minute + time.Second).Unix()
	if _, err := v.Verify(context.Background(), iss.Sign(t, "es384", claims, nil)); err != nil {
		t.Errorf("a token expired 4m59s ago with a 5 min leeway: %v, want it verified", err)
	}
	claims["jti"] = "AT.later"
	claims["exp"] = clk.Now().Add(-5*time.Minute - time.Second).Unix()
	if _, err := v.Verify(context.Background(), iss.Sign(t, "es384", claims, nil)); !errors.Is(err, apiguard.ErrExpired) {
		t.Errorf("a token expired 5m01s ago with a 5 min leeway: %v, want ErrExpired", err)
	}
}
