package apiguard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// fakeBinding is a Binding with the scheme "PoP" whose proofs are the
// header Proof: "ok" passes, "nonce" is refused with its own error code
// and a header, anything else as an invalid token.
type fakeBinding struct{ required bool }

var errFakeProof = apiguard.NewReason("fake_proof", "invalid proof")

type fakeError struct{ error }

func (e fakeError) Unwrap() error { return e.error }

func (fakeError) ErrorCode(h http.Header) string {
	h.Set("Proof-Nonce", "n-1")
	return "use_proof_nonce"
}

func (b fakeBinding) Scheme() (string, string, bool) { return "PoP", `algs="ES256"`, b.required }

func (fakeBinding) Check(r *http.Request, token string, c *apiguard.Claims) error {
	switch r.Header.Get("Proof") {
	case "ok":
		return nil
	case "nonce":
		return fakeError{apiguard.Refuse(errFakeProof, "a nonce is required")}
	}
	return apiguard.Refuse(errFakeProof, "no proof")
}

// TestBinding: the middleware reads the binding's scheme, sends bound
// tokens to its Check, answers with a ChallengeError's code and headers,
// and puts the code on the scheme the request used.
func TestBinding(t *testing.T) {
	iss, clk := testissuer.New(t), fakeclock.New(epoch)
	claims := iss.Claims(clk.Now())
	bound := iss.Sign(t, "rs256", testissuer.With(claims, "cnf", map[string]string{"jkt": "abc"}), nil)
	plain := iss.Sign(t, "rs256", claims, nil)
	m := &apiguard.Middleware{Verifier: newVerifier(t, iss, clk), Binding: fakeBinding{}}
	call := func(auth, proof string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
		r.Header.Set("Authorization", auth)
		if proof != "" {
			r.Header.Set("Proof", proof)
		}
		w := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(w, r)
		return w
	}
	if w := call("pop "+bound, "ok"); w.Code != 200 {
		t.Errorf("bound token with a proof: got %d, want 200", w.Code)
	}
	if w := call("Bearer "+plain, ""); w.Code != 200 {
		t.Errorf("bearer token: got %d, want 200", w.Code)
	}
	w := call("PoP "+bound, "nonce")
	ch := w.Header().Values("WWW-Authenticate")
	if w.Code != 401 || w.Header().Get("Proof-Nonce") != "n-1" || len(ch) != 2 ||
		strings.Contains(ch[0], "error=") || !strings.HasPrefix(ch[1], `PoP algs="ES256", error="use_proof_nonce"`) {
		t.Errorf("nonce refusal: got %d, Proof-Nonce %q, challenges %q", w.Code, w.Header().Get("Proof-Nonce"), ch)
	}
	w = call("Bearer "+bound, "ok")
	ch = w.Header().Values("WWW-Authenticate")
	if w.Code != 401 || len(ch) != 2 || !strings.Contains(ch[1], `error="invalid_token"`) {
		t.Errorf("bound token as Bearer: got %d, challenges %q", w.Code, ch)
	}
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/", nil)
	r.Header.Set("Authorization", "PoP "+bound)
	_, err := m.Check(r)
	if !errors.Is(err, errFakeProof) || !errors.Is(err, apiguard.ErrInvalidToken) || apiguard.Reason(err) != "fake_proof" {
		t.Errorf("Check without a proof: got %v (reason %q), want the binding's reason", err, apiguard.Reason(err))
	}
}
