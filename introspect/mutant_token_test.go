package introspect_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/middlewaretest"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/introspect"
)

// withNoCache turns the introspection cache off (a negative MaxCacheTTL).
func withNoCache(c *introspect.Config) { c.MaxCacheTTL = -1 }

// TestOpaqueTokenSyntaxEdges holds the edges of RFC 6750's b64token syntax
// for opaque tokens: the first and last character of each letter and digit
// range are accepted and their neighbours refused, trailing "=" padding is
// accepted and "=" elsewhere is not, and a token of exactly
// apiguard.MaxTokenSize bytes is introspected while one byte more is
// refused. A refused token never reaches the issuer.
func TestOpaqueTokenSyntaxEdges(t *testing.T) {
	iss, clk, fake := testissuer.New(t), fakeclock.New(epoch), newFakeIntrospection(t)
	fake.set(200, activeBody(iss.URL, clk.Now()))
	// No cache: every accepted token must reach the issuer, so the call
	// count says which tokens were sent.
	v := introVerifier(t, iss, clk, fake.srv.URL, withNoCache)
	for _, tok := range []string{"A", "Z", "a", "z", "0", "9", "-._~+/", "abc=", "abc==", "AZaz09/+==",
		strings.Repeat("a", apiguard.MaxTokenSize)} {
		before := fake.calls.Load()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Errorf("token %.20q (%d bytes): %v, want accepted", tok, len(tok), err)
		}
		if fake.calls.Load() != before+1 {
			t.Errorf("token %.20q: the issuer was not asked", tok)
		}
	}
	for _, tok := range []string{"@", "[", "`", "{", "/:", "ab=c", "a==b", "a b", "a,b",
		strings.Repeat("a", apiguard.MaxTokenSize+1)} {
		before := fake.calls.Load()
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apiguard.ErrMalformed) {
			t.Errorf("token %.20q (%d bytes): got %v, want ErrMalformed", tok, len(tok), err)
		}
		if fake.calls.Load() != before {
			t.Errorf("token %.20q: refused, yet the issuer was asked", tok)
		}
	}
}

// TestOpaqueTokenPaddingOnly holds that a token of "=" padding alone is
// malformed: RFC 6750's b64token needs at least one character before its
// padding. It is refused with 401 invalid_token, like any other malformed
// token, and never reaches the issuer.
func TestOpaqueTokenPaddingOnly(t *testing.T) {
	iss, clk, fake := testissuer.New(t), fakeclock.New(epoch), newFakeIntrospection(t)
	fake.set(200, activeBody(iss.URL, clk.Now()))
	v := introVerifier(t, iss, clk, fake.srv.URL, withNoCache)
	m := &apiguard.Middleware{Verifier: v}
	for _, tok := range []string{"=", "==", "===", "=a"} {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apiguard.ErrMalformed) {
			t.Errorf("token %q: got %v, want ErrMalformed", tok, err)
		}
		res := middlewaretest.Call(t, m.Handler(http.NotFoundHandler()), middlewaretest.Bearer(tok))
		if res.Status != http.StatusUnauthorized || res.Body["error"] != "invalid_token" {
			t.Errorf("token %q: got %+v, want 401 invalid_token", tok, res)
		}
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("the issuer was asked %d times about padding-only tokens, want 0", n)
	}
	// One character before the padding is enough.
	if _, err := v.Verify(context.Background(), "a="); err != nil {
		t.Errorf("token \"a=\": %v, want accepted", err)
	}
}
