package apiguard_test

import (
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// retainedPerEntry verifies each token through the middleware, with the
// Authorization header "Bearer" + pad + token, and returns the heap the
// verifier keeps per token once the requests are gone.
func retainedPerEntry(t *testing.T, iss *testissuer.Issuer, clk *fakeclock.Clock, tokens []string, pad string) float64 {
	t.Helper()
	v := newVerifier(t, iss, clk)
	m := &apiguard.Middleware{Verifier: v}
	// Load the keys first, so they are not counted.
	if err := v.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	check := func(tok string) {
		r := httptest.NewRequest("GET", "http://127.0.0.1/", nil)
		r.Header.Set("Authorization", "Bearer"+pad+tok) // a header of its own, freed with the request
		if _, err := m.Check(r); err != nil {
			t.Fatalf("Check: %v", err)
		}
	}
	before := heapAfterGC()
	for _, tok := range tokens {
		check(tok)
	}
	after := heapAfterGC()
	runtime.KeepAlive(v)
	// Every token is now a cache hit: the entries are really there.
	for _, tok := range tokens[:10] {
		check(tok)
	}
	return float64(int64(after)-int64(before)) / float64(len(tokens))
}

func heapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCacheKeepsOnlyTheToken checks that the verified-token cache keeps the
// token's own bytes, not the string it came in: an Authorization header
// padded with 15,000 spaces must not make an entry bigger. Before the cache
// copied the token, each padded entry kept its whole header (about 16 KB
// more than an unpadded one).
func TestCacheKeepsOnlyTheToken(t *testing.T) {
	if testing.Short() {
		t.Skip("signs and verifies 2,000 tokens")
	}
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	const n = 2000
	tokens := make([]string, n)
	claims := iss.Claims(clk.Now())
	for i := range tokens {
		tokens[i] = iss.Sign(t, "eddsa", testissuer.With(claims, "jti", "AT.mem-"+strconv.Itoa(i)), nil)
	}
	pads := []struct {
		name string
		pad  string
	}{
		{"one space", " "},
		{"15,000 spaces", strings.Repeat(" ", 15_000)},
	}
	got := make([]float64, len(pads))
	for i, p := range pads {
		got[i] = retainedPerEntry(t, iss, clk, tokens, p.pad)
		t.Logf("NUMBER bytes retained per cached token (%d-byte token), header padded with %s: %.0f", len(tokens[0]), p.name, got[i])
	}
	unpadded, padded := got[0], got[1]
	if unpadded <= float64(len(tokens[0])) {
		t.Fatalf("got %.0f bytes per entry unpadded, want more than the %d-byte token: the measurement is broken", unpadded, len(tokens[0]))
	}
	// A small margin for map growth and the GC's accounting.
	if diff := padded - unpadded; diff > 0.1*unpadded || diff < -0.1*unpadded {
		t.Errorf("got %.0f bytes per entry with a padded header, want %.0f ± 10%% (as unpadded)", padded, unpadded)
	}
}
