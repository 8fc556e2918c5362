package dpop_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/apiguard/apiguard/dpop"
)

// TestDPoPReplayRememberedForTwiceTheWindow: a proof whose iat is a whole
// window ahead of the server's clock is accepted, and stays acceptable by
// its iat until a whole window behind it, two windows later. Its jti must
// be remembered that long: a replay at the last moment its iat still
// passes is refused.
func TestDPoPReplayRememberedForTwiceTheWindow(t *testing.T) {
	for _, window := range []time.Duration{0, 5 * time.Minute} { // 0: the default, 60 s
		f := newDPoPFixture(t, dpop.Config{PublicURL: "https://api.example.com", Window: window})
		if window == 0 {
			window = 60 * time.Second
		}
		p := f.proof(t, func(h, c map[string]any) { c["iat"] = f.clk.Now().Add(window).Unix() })
		if res := f.call(t, apiURL, "DPoP", f.token, p); res.StatusCode != http.StatusOK {
			t.Fatalf("window %s: first use, iat one window ahead: got %d, want 200", window, res.StatusCode)
		}
		f.clk.Advance(2 * window) // the proof's iat is now exactly one window old
		if res := f.call(t, apiURL, "DPoP", f.token, p); errorCode(t, res) != "invalid_dpop_proof" {
			t.Errorf("window %s: replay after two windows: got %d, want 401 invalid_dpop_proof", window, res.StatusCode)
		}
		// The same iat on a new jti is still within the window: the
		// replay above was refused for its jti, not its age.
		fresh := f.proof(t, func(h, c map[string]any) { c["iat"] = f.clk.Now().Add(-window).Unix() })
		if res := f.call(t, apiURL, "DPoP", f.token, fresh); res.StatusCode != http.StatusOK {
			t.Errorf("window %s: new proof with iat one window old: got %d, want 200", window, res.StatusCode)
		}
	}
}

// TestDPoPReplayCacheDownRetryAfter: when the replay cache cannot be
// reached the answer is 503 with Retry-After: 5, not the 1 s floor, so
// clients do not retry every second while the cache is down.
func TestDPoPReplayCacheDownRetryAfter(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{ReplayCache: brokenReplay{}})
	res := f.call(t, apiURL, "DPoP", f.token, f.proofFor(t, f.token))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "5" {
		t.Errorf("got %d with Retry-After %q, want 503 with Retry-After 5", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

// TestDPoPNonceDefaultLifetime: with a NonceKey and no NonceLifetime, a
// nonce stays current for 5 minutes and is accepted for one more lifetime
// as the previous nonce, then refused with a fresh one.
func TestDPoPNonceDefaultLifetime(t *testing.T) {
	f := newDPoPFixture(t, dpop.Config{NonceKey: []byte("0123456789abcdef0123456789abcdef")})
	res := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil))
	nonce := res.Header.Get("DPoP-Nonce")
	if code := errorCode(t, res); code != "use_dpop_nonce" || nonce == "" {
		t.Fatalf("no nonce: got %d %q, DPoP-Nonce %q; want 401 use_dpop_nonce and a nonce", res.StatusCode, code, nonce)
	}
	withNonce := func() string { return f.proof(t, func(h, c map[string]any) { c["nonce"] = nonce }) }
	// epoch is on a 5-minute boundary: the nonce's lifetime starts now.
	f.clk.Advance(5*time.Minute - time.Second)
	res = f.call(t, apiURL, "DPoP", f.token, withNonce())
	if res.StatusCode != http.StatusOK {
		t.Fatalf("nonce 4m59s old: got %d, want 200", res.StatusCode)
	}
	f.clk.Advance(time.Second) // a new nonce is current; this one is the previous
	if got := f.call(t, apiURL, "DPoP", f.token, f.proof(t, nil)).Header.Get("DPoP-Nonce"); got == nonce || got == "" {
		t.Errorf("after 5m: DPoP-Nonce %q, want a new nonce", got)
	}
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce()); res.StatusCode != http.StatusOK {
		t.Errorf("previous nonce at 5m: got %d, want 200", res.StatusCode)
	}
	f.clk.Advance(5 * time.Minute)
	if res := f.call(t, apiURL, "DPoP", f.token, withNonce()); errorCode(t, res) != "use_dpop_nonce" {
		t.Errorf("nonce 10m old: got %d, want 401 use_dpop_nonce", res.StatusCode)
	}
}
