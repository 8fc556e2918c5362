package dpop_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
)

// TestErrors: refused proofs are invalid tokens with their own reason
// label, and carry the RFC 9449 error code (and, for a nonce, a fresh
// DPoP-Nonce) through apiguard.ChallengeError.
func TestErrors(t *testing.T) {
	for _, reason := range []error{dpop.ErrProof, dpop.ErrNonce} {
		if !errors.Is(reason, apiguard.ErrInvalidToken) {
			t.Errorf("%v does not wrap ErrInvalidToken", reason)
		}
	}
	nonceKey := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name   string
		cfg    dpop.Config
		reason error
		label  string
		code   string
		nonce  bool
	}{
		{"no proof", dpop.Config{}, dpop.ErrProof, "dpop_proof", "invalid_dpop_proof", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newDPoPFixture(t, tc.cfg)
			r := httptest.NewRequest(http.MethodGet, apiURL, nil)
			c := &apiguard.Claims{Confirmed: true, JKT: f.key.JKT()}
			err := f.m.Binding.Check(r, f.token, c)
			if !errors.Is(err, tc.reason) || !errors.Is(err, apiguard.ErrInvalidToken) {
				t.Fatalf("Check: got %v, want %v (an ErrInvalidToken)", err, tc.reason)
			}
			if got := apiguard.Reason(err); got != tc.label {
				t.Errorf("Reason: got %q, want %q", got, tc.label)
			}
			var ce apiguard.ChallengeError
			if !errors.As(err, &ce) {
				t.Fatalf("Check: %v is not a ChallengeError", err)
			}
			h := http.Header{}
			if got := ce.ErrorCode(h); got != tc.code || (h.Get("DPoP-Nonce") != "") != tc.nonce {
				t.Errorf("ErrorCode: got %q with DPoP-Nonce %q, want %q (nonce: %v)", got, h.Get("DPoP-Nonce"), tc.code, tc.nonce)
			}
		})
	}
	t.Run("missing nonce", func(t *testing.T) {
		f := newDPoPFixture(t, dpop.Config{NonceKey: nonceKey, NonceLifetime: time.Minute})
		r := httptest.NewRequest(http.MethodGet, apiURL, nil)
		r.Header.Set("DPoP", f.proof(t, nil))
		err := f.m.Binding.Check(r, f.token, &apiguard.Claims{Confirmed: true, JKT: f.key.JKT()})
		var ce apiguard.ChallengeError
		if !errors.Is(err, dpop.ErrNonce) || apiguard.Reason(err) != "dpop_nonce" || !errors.As(err, &ce) {
			t.Fatalf("Check: got %v (reason %q), want ErrNonce, a ChallengeError", err, apiguard.Reason(err))
		}
		h := http.Header{}
		if code := ce.ErrorCode(h); code != "use_dpop_nonce" || h.Get("DPoP-Nonce") == "" {
			t.Errorf("ErrorCode: got %q, DPoP-Nonce %q; want use_dpop_nonce and a nonce", code, h.Get("DPoP-Nonce"))
		}
	})
	t.Run("cnf without jkt", func(t *testing.T) {
		f := newDPoPFixture(t, dpop.Config{})
		r := httptest.NewRequest(http.MethodGet, apiURL, nil)
		err := f.m.Binding.Check(r, f.token, &apiguard.Claims{Confirmed: true})
		var ce apiguard.ChallengeError
		if !errors.Is(err, apiguard.ErrTokenBinding) || errors.As(err, &ce) {
			t.Errorf("Check: got %v, want ErrTokenBinding, not a ChallengeError", err)
		}
	})
}
