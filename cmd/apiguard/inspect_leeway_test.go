package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestInspectExpiryAndLeeway checks what inspect says of a token's expiry.
// A token past its exp but inside the 60s leeway verifies: inspect must say
// that it expired and how long the leeway still accepts it, not that it
// "expires in -47s".
func TestInspectExpiryAndLeeway(t *testing.T) {
	iss := testissuer.New(t)
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	clk := fakeclock.New(now)
	tests := []struct {
		name    string
		exp     time.Duration // relative to now
		refused bool
		want    []string
		notWant []string
	}{
		{
			name: "fresh", exp: time.Hour,
			want:    []string{"VALID: ", "expires in 1h0m0s", "exp: 2026-12-02T09:00:00Z (in 1h0m0s)"},
			notWant: []string{"EXPIRED", "leeway"},
		},
		{
			name: "expires in a second", exp: time.Second,
			want:    []string{"VALID: ", "expires in 1s"},
			notWant: []string{"EXPIRED"},
		},
		{
			name: "expired 47s ago, inside the leeway", exp: -47 * time.Second,
			want: []string{
				"VALID: ", "but it EXPIRED 47s ago (exp 2026-12-02T07:59:13Z)",
				"accepted only within the 60s clock-skew leeway, for 13s more",
				"exp: 2026-12-02T07:59:13Z (47s ago)",
			},
			notWant: []string{"expires in", "-47s"},
		},
		{
			name: "expired exactly one leeway ago", exp: -60 * time.Second,
			want:    []string{"VALID: ", "EXPIRED 1m0s ago", "for 0s more"},
			notWant: []string{"expires in"},
		},
		{
			name: "expired beyond the leeway", exp: -61 * time.Second, refused: true,
			want:    []string{"REFUSED (expired)", "exp: 2026-12-02T07:58:59Z (1m1s ago)", "hint: get a fresh token"},
			notWant: []string{"VALID"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := testissuer.With(iss.Claims(now.Add(-time.Hour)), "exp", now.Add(tt.exp).Unix())
			tok := iss.Sign(t, "rs256", claims, nil)
			var stdout, stderr bytes.Buffer
			err := inspect(context.Background(), []string{tok, "--issuer", iss.URL}, strings.NewReader(""), &stdout, &stderr, clk.Now)
			if tt.refused != errors.Is(err, errRefused) || (!tt.refused && err != nil) {
				t.Fatalf("got error %v, want refused %v\n%s%s", err, tt.refused, stdout.String(), stderr.String())
			}
			out := stdout.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("got output without %q, want it:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("got output with %q, want none:\n%s", w, out)
				}
			}
		})
	}
}
