package apiguard_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// TestMaxTokenSizeEdge: a token of exactly MaxTokenSize bytes is verified,
// one a byte longer is refused as malformed before any other work
// (R-PARSE-2). (Kills the lived mutant len(token) >= MaxTokenSize of
// Verify, and of Issuers.Verify; see MUTATION.md.)
func TestMaxTokenSizeEdge(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	header := []byte(`{"alg":"ES384","kid":"es384"}`)
	const sigLen = 128 // an ES384 signature, 96 bytes, in base64url
	enc := base64.RawURLEncoding
	// sized signs a valid token of exactly n bytes by padding a claim so
	// that the payload's base64url has the length left over.
	sized := func(n int) string {
		t.Helper()
		want := n - enc.EncodedLen(len(header)) - 2 - sigLen
		base, err := json.Marshal(testissuer.With(iss.Claims(clk.Now()), "pad", ""))
		if err != nil {
			t.Fatal(err)
		}
		for size := len(base); enc.EncodedLen(size) <= want; size++ {
			if enc.EncodedLen(size) == want {
				payload, err := json.Marshal(testissuer.With(iss.Claims(clk.Now()), "pad", strings.Repeat("x", size-len(base))))
				if err != nil {
					t.Fatal(err)
				}
				tok := iss.SignRaw(t, "es384", header, payload)
				if len(tok) != n {
					t.Fatalf("made a token of %d bytes, want %d", len(tok), n)
				}
				return tok
			}
		}
		t.Fatalf("no payload makes a token of exactly %d bytes", n)
		return ""
	}
	// Issuers checks the size itself, before it reads iss to pick the
	// issuer: the same edge holds there.
	m, err := apiguard.NewIssuers(apiguard.Issuer{Config: apiguard.Config{Name: "one", Issuer: iss.URL, Now: clk.Now}})
	if err != nil {
		t.Fatal(err)
	}
	exact, over := sized(apiguard.MaxTokenSize), sized(apiguard.MaxTokenSize+1)
	for name, v := range map[string]apiguard.TokenVerifier{"Verifier": v, "Issuers": m} {
		if _, err := v.Verify(context.Background(), exact); err != nil {
			t.Errorf("%s: token of MaxTokenSize (%d) bytes: got %v, want it verified", name, apiguard.MaxTokenSize, err)
		}
		if _, err := v.Verify(context.Background(), over); !errors.Is(err, apiguard.ErrMalformed) {
			t.Errorf("%s: token of MaxTokenSize+1 bytes: got %v, want ErrMalformed", name, err)
		}
	}
}
