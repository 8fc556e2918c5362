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

// TestNumericDatesFromTheEpochBack: a NumericDate is any number of seconds
// from the epoch (RFC 7519 §2), so nbf and iat of 0, or before 1970, are
// dates long past, not malformed claims. (Kills mutants of claims.go's
// numericDate that refused numbers starting with '0' or '-'; see
// MUTATION.md.)
func TestNumericDatesFromTheEpochBack(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	for _, tt := range []struct {
		name  string
		claim string
		value any
	}{
		{"nbf 0", "nbf", 0},
		{"nbf before 1970", "nbf", -86400},
		{"iat 0", "iat", 0},
		{"iat before 1970", "iat", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tok := iss.Sign(t, "rs256", testissuer.With(iss.Claims(clk.Now()), tt.claim, tt.value), nil)
			c, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			var got time.Time
			switch tt.claim {
			case "nbf":
				got = c.NotBefore
			case "iat":
				got = c.IssuedAt
			}
			if want := time.Unix(int64(tt.value.(int)), 0); !got.Equal(want) {
				t.Errorf("got %s %v, want %v", tt.claim, got, want)
			}
		})
	}
	// The same dates as exp are long past: expired, never malformed.
	for _, exp := range []int{0, -1} {
		tok := iss.Sign(t, "rs256", testissuer.With(iss.Claims(clk.Now()), "exp", exp), nil)
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apiguard.ErrExpired) {
			t.Errorf("exp %d: got %v, want ErrExpired", exp, err)
		}
	}
}
