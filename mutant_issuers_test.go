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

// TestIssuersOnlyFirst: Only takes the first configured issuer's name like
// any other, and its view accepts that issuer's tokens only.
func TestIssuersOnlyFirst(t *testing.T) {
	a, b, clk := testissuer.New(t), testissuer.New(t), fakeclock.New(epoch)
	m, err := apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "first", Issuer: a.URL, Now: clk.Now}},
		apiguard.Issuer{Config: apiguard.Config{Name: "second", Issuer: b.URL, Now: clk.Now}},
	)
	if err != nil {
		t.Fatal(err)
	}
	view, err := m.Only("first")
	if err != nil {
		t.Fatalf("Only(first): %v", err)
	}
	if _, err := view.Verify(context.Background(), a.Sign(t, "es256", a.Claims(clk.Now()), nil)); err != nil {
		t.Errorf("first's token through Only(first): %v", err)
	}
	if _, err := view.Verify(context.Background(), b.Sign(t, "es256", b.Claims(clk.Now()), nil)); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("second's token through Only(first): %v, want ErrIssuer", err)
	}
}
