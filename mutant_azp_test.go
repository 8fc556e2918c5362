package apiguard_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestIDTokenAzpOnlyWithSeveralAudiences: azp is checked against the client
// id only when the ID token names more than one audience. An ID token for
// this client alone, presented by another party (Google's cross-client ID
// tokens: aud the server's client, azp the Android app's), verifies. (Kills
// verify.go's len(c.Audience) > 1 → >= 1; see MUTATION.md.)
func TestIDTokenAzpOnlyWithSeveralAudiences(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.IDToken = true; c.Audience = "client-a" })
	base := testissuer.With(iss.Claims(clk.Now()), "cid", nil, "scp", nil, "nonce", "n-1")
	for _, tt := range []struct {
		name string
		aud  any
		azp  string
		want error
	}{
		{"one audience, azp of another client", "client-a", "client-b", nil},
		{"one audience in an array, azp of another client", []string{"client-a"}, "client-b", nil},
		{"two audiences, azp this client", []string{"client-a", "client-b"}, "client-a", nil},
		{"two audiences, azp another client", []string{"client-a", "client-b"}, "client-b", apiguard.ErrAudience},
	} {
		tok := iss.Sign(t, "rs256", testissuer.With(base, "aud", tt.aud, "azp", tt.azp), nil)
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.want)
		}
	}
}
