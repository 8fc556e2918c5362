package apiguard_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestIssuersUnknownIssShortened: the refusal of a token from no configured
// issuer quotes its iss whole up to 100 bytes, and cuts a longer one to 100
// bytes and "…", so an attacker's claim cannot fill logs and headers.
func TestIssuersUnknownIssShortened(t *testing.T) {
	a, clk := testissuer.New(t), fakeclock.New(epoch)
	m, err := apiguard.NewIssuers(apiguard.Issuer{Config: apiguard.Config{Name: "a", Issuer: a.URL, Now: clk.Now}})
	if err != nil {
		t.Fatal(err)
	}
	base := "https://other.example/"
	for _, n := range []int{99, 100, 101, 300} {
		iss := base + strings.Repeat("x", n-len(base))
		want := strconv.Quote(iss)
		if n > 100 {
			want = strconv.Quote(iss[:100] + "…")
		}
		tok := a.Sign(t, "es256", testissuer.With(a.Claims(clk.Now()), "iss", iss), nil)
		_, err := m.Verify(context.Background(), tok)
		if !errors.Is(err, apiguard.ErrUnknownIssuer) || !strings.Contains(err.Error(), "iss "+want+" is not") {
			t.Errorf("iss of %d bytes: got %v, want ErrUnknownIssuer quoting %s", n, err, want)
		}
	}
}
