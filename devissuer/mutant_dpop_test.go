package devissuer_test

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/apiguard/apiguard/internal/dpoptest"
)

// TestDPoPProofLimits: the token endpoint takes a proof whose jti has 256
// bytes and a proof of exactly 8 KiB, and refuses one byte more of either
// as invalid_dpop_proof.
func TestDPoPProofLimits(t *testing.T) {
	f := newFixture(t, nil)
	key := dpoptest.NewKey(t, "ES256")
	// proof signs a proof with the given jti, and with hx and pad, when
	// set, as an extra header parameter and claim.
	proof := func(hx, jti, pad string) string {
		h, c := key.Header(), key.Claims(http.MethodPost, f.endpoint("token"), "", f.clock.Now())
		if hx != "" {
			h["x"] = hx
		}
		c["jti"] = jti
		if pad != "" {
			c["pad"] = pad
		}
		return key.Sign(t, h, c)
	}
	// sized returns a proof of exactly n bytes, padding a claim and, where
	// base64url cannot make that length, lengthening a header parameter.
	sized := func(n int) string {
		t.Helper()
		for extra := range 4 {
			hx := strings.Repeat("x", 1+extra)
			for k := max(1, (n-len(proof(hx, "id", "x")))*3/4-4); ; k++ {
				tok := proof(hx, "id", strings.Repeat("x", k))
				if len(tok) == n {
					return tok
				}
				if len(tok) > n {
					break
				}
			}
		}
		t.Fatalf("no proof of exactly %d bytes", n)
		return ""
	}
	for _, tc := range []struct {
		name   string
		proof  string
		status int
	}{
		{"jti of 256 bytes", proof("", strings.Repeat("j", 256), ""), 200},
		{"jti of 257 bytes", proof("", strings.Repeat("j", 257), ""), 400},
		{"proof of 8192 bytes", sized(8 << 10), 200},
		{"proof of 8193 bytes", sized(8<<10 + 1), 400},
	} {
		status, body := postDPoP(t, f, tc.proof)
		if status != tc.status || (status == 400 && body["error"] != "invalid_dpop_proof") {
			t.Errorf("%s: got %d %v, want %d", tc.name, status, body, tc.status)
		}
	}
}

// TestDPoPProofRSAKeySize: a proof signed with a 2048-bit RSA key is
// taken; one with a shorter RSA key is refused before its signature is
// checked.
func TestDPoPProofRSAKeySize(t *testing.T) {
	f := newFixture(t, nil)
	short, err := rsa.GenerateKey(rand.Reader, 2040)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key    *dpoptest.Key
		status int
	}{
		{dpoptest.NewKey(t, "RS256"), 200}, // testkey.RSABits, 2048
		{&dpoptest.Key{Alg: "RS256", Priv: short, Public: jose.JSONWebKey{Key: short.Public()}}, 400},
	} {
		bits := tc.key.Public.Key.(*rsa.PublicKey).N.BitLen()
		p := tc.key.Proof(t, http.MethodPost, f.endpoint("token"), "")
		if status, body := postDPoP(t, f, p); status != tc.status {
			t.Errorf("RSA key of %d bits: got %d %v, want %d", bits, status, body, tc.status)
		}
	}
}
