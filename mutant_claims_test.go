package apiguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// maxDate is the largest NumericDate apiguard reads
// numericdate.Max): 2^40 seconds, about 36,800 years either side of 1970.
const maxDate = 1 << 40

// TestNumericDateRange: a NumericDate is any number of seconds from the
// epoch (RFC 7519 §2), so nbf and iat of 0, before 1970 or at the far edge
// of the range apiguard reads are dates, not malformed claims, and exp
// within the range is a date too; a fraction of a second is kept; one
// second past the range, in integer or decimal form, is malformed. (Kills lived mutants of
// internal/numericdate: its first-character and range checks; see MUTATION.md.)
func TestNumericDateRange(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	verify := func(claim string, value any) (*apiguard.Claims, error) {
		tok := iss.Sign(t, "rs256", testissuer.With(iss.Claims(clk.Now()), claim, value), nil)
		return v.Verify(context.Background(), tok)
	}
	for _, tt := range []struct {
		name  string
		claim string
		value any
		want  time.Time
	}{
		{"nbf 0", "nbf", 0, time.Unix(0, 0)},
		{"nbf before 1970", "nbf", -86400, time.Unix(-86400, 0)},
		{"nbf 9", "nbf", 9, time.Unix(9, 0)},
		{"nbf at the lower edge", "nbf", -maxDate, time.Unix(-maxDate, 0)},
		{"nbf at the lower edge, decimal", "nbf", json.RawMessage("-1099511627776.0"), time.Unix(-maxDate, 0)},
		{"iat 0", "iat", 0, time.Unix(0, 0)},
		{"iat before 1970", "iat", -1, time.Unix(-1, 0)},
		{"iat 999999999", "iat", 999999999, time.Unix(999999999, 0)},
		{"exp at the upper edge", "exp", maxDate, time.Unix(maxDate, 0)},
		{"exp at the upper edge, decimal", "exp", json.RawMessage("1099511627776.0"), time.Unix(maxDate, 0)},
		{"nbf with a fraction", "nbf", json.RawMessage("1000000000.5"), time.Unix(1000000000, 5e8)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := verify(tt.claim, tt.value)
			if err != nil {
				t.Fatalf("got %v, want the token accepted", err)
			}
			got := map[string]time.Time{"nbf": c.NotBefore, "iat": c.IssuedAt, "exp": c.Expiry}[tt.claim]
			if !got.Equal(tt.want) {
				t.Errorf("got %s %v, want %v", tt.claim, got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name  string
		claim string
		value any
		want  error
	}{
		{"exp 0", "exp", 0, apiguard.ErrExpired},
		{"exp before 1970", "exp", -1, apiguard.ErrExpired},
		{"exp past the upper edge", "exp", maxDate + 1, apiguard.ErrMalformed},
		{"exp past the upper edge, decimal", "exp", json.RawMessage("1099511627776.5"), apiguard.ErrMalformed},
		{"nbf past the lower edge", "nbf", -maxDate - 1, apiguard.ErrMalformed},
		{"nbf past the lower edge, decimal", "nbf", json.RawMessage("-1099511627776.5"), apiguard.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := verify(tt.claim, tt.value); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}
