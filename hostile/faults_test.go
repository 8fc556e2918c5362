package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// serveCooldown is apiguard serve's RefreshCooldown (the verifier's
// default; serve has no setting for it): the least time between two key
// fetches caused by unknown kids. Tests that need a fetch caused by a kid
// (rotation, a refresh that meets garbage) wait it out on the wall clock,
// since the binary runs on the real clock; they run in parallel.
const serveCooldown = 10 * time.Second

// validToken returns a fresh valid token signed by the issuer's key kid.
func validToken(t *testing.T, iss *testissuer.Issuer, kid string) string {
	t.Helper()
	return iss.Sign(t, kid, iss.Claims(time.Now()), nil)
}

// randomKID returns a kid no issuer publishes.
func randomKID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "flood-" + hex.EncodeToString(b)
}

// tokenWithKID returns a valid token of the issuer signed by its EdDSA key
// but naming kid.
func tokenWithKID(t *testing.T, iss *testissuer.Issuer, kid string) string {
	t.Helper()
	return testissuer.SignWith(t, "EdDSA", iss.Key("eddsa").Private, kid, iss.Claims(time.Now()), nil)
}

// waitUntil blocks until the wall clock reaches at (see serveCooldown).
func waitUntil(at time.Time) {
	if d := time.Until(at); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		<-timer.C
	}
}

// pollUntil calls f every interval until it returns true, failing the test
// after timeout. It returns how long that took.
func pollUntil(t *testing.T, timeout, interval time.Duration, what string, f func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !f() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not after %s", what, timeout)
		case <-tick.C:
		}
	}
	return time.Since(start)
}

// wantUnavailable checks a 503 with Retry-After and no bearer challenge:
// an issuer problem is never reported as a bad token.
func wantUnavailable(t *testing.T, r response) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("got status %d (%s), want 503", r.status, r.body)
	}
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Errorf("got Retry-After %q, want a number of seconds ≥ 1", r.header.Get("Retry-After"))
	}
	if strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Errorf("got WWW-Authenticate %q on a 503, want no invalid_token", r.header.Get("WWW-Authenticate"))
	}
}

func wantStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("got status %d (%s), want %d", r.status, r.body, want)
	}
}

// TestIssuerDownAtStart: serve starts while the issuer is down, answers 503
// with Retry-After (never 401), and serves by itself once the issuer is up.
func TestIssuerDownAtStart(t *testing.T) {
	t.Parallel()
	iss := testissuer.New(t)
	iss.SetDown(true)
	s := startServe(t, iss.URL)
	tok := validToken(t, iss, "rs256")

	for range 3 {
		wantUnavailable(t, s.secureData(t, tok))
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/readyz", nil)
	wantStatus(t, s.do(t, req), http.StatusServiceUnavailable)

	iss.SetDown(false)
	took := pollUntil(t, 10*time.Second, 20*time.Millisecond, "first 200 after the issuer came back", func() bool {
		r := s.secureData(t, tok)
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Fatalf("got status %d (%s) while recovering, want 503 then 200", r.status, r.body)
		}
		return r.status == http.StatusOK
	})
	t.Logf("NUMBER time from issuer recovery to the first 200: %s", took.Round(time.Millisecond))
	// A failed start-up fetch is retried after at most a second.
	if took > 3*time.Second {
		t.Errorf("got %s from recovery to the first 200, want at most 3s", took)
	}
	wantStatus(t, s.do(t, req), http.StatusOK)
}

// TestIssuerDownLater: keys fetched before the issuer went down keep
// verifying tokens, cached or not.
func TestIssuerDownLater(t *testing.T) {
	t.Parallel()
	iss := testissuer.New(t)
	s := startServe(t, iss.URL)
	seen := validToken(t, iss, "rs256")
	wantStatus(t, s.secureData(t, seen), http.StatusOK)

	iss.SetDown(true)
	wantStatus(t, s.secureData(t, seen), http.StatusOK)
	for _, kid := range []string{"rs256", "ps384", "es256", "es512", "eddsa"} {
		r := s.secureData(t, validToken(t, iss, kid))
		if r.status != http.StatusOK {
			t.Errorf("new token of known key %s while the issuer is down: got %d (%s), want 200", kid, r.status, r.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/readyz", nil)
	wantStatus(t, s.do(t, req), http.StatusOK)
}

// TestSlowIssuer: an issuer that answers after 30s holds no request longer
// than serve's fetch timeout, whether keys are loaded or not.
func TestSlowIssuer(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Second

	longest := func(t *testing.T, s *server, tokens []string) (time.Duration, map[int]int) {
		var (
			mu       sync.Mutex
			max      time.Duration
			statuses = map[int]int{}
			wg       sync.WaitGroup
		)
		for _, tok := range tokens {
			wg.Go(func() {
				r := s.secureData(t, tok)
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.took > max {
					max = r.took
				}
			})
		}
		wg.Wait()
		return max, statuses
	}

	t.Run("at start", func(t *testing.T) {
		t.Parallel()
		iss := testissuer.New(t)
		iss.SetDelay(delay)
		s := startServe(t, iss.URL)
		var tokens []string
		for range 20 {
			tokens = append(tokens, validToken(t, iss, "es256"))
		}
		max, statuses := longest(t, s, tokens)
		t.Logf("NUMBER longest of 20 concurrent requests while the issuer takes %s (no keys yet): %s; statuses %v", delay, max.Round(time.Millisecond), statuses)
		if statuses[http.StatusServiceUnavailable] != len(tokens) {
			t.Errorf("got statuses %v, want all 503", statuses)
		}
		if max > 5*time.Second {
			t.Errorf("got a request of %s, want at most 5s (a request waits 3s for a fetch, plus a margin)", max)
		}
	})

	t.Run("keys loaded", func(t *testing.T) {
		t.Parallel()
		iss := testissuer.New(t)
		s := startServe(t, iss.URL)
		wantStatus(t, s.secureData(t, validToken(t, iss, "rs256")), http.StatusOK)
		iss.SetDelay(delay)
		var tokens []string
		for range 10 {
			tokens = append(tokens, validToken(t, iss, "es384"))
		}
		for range 10 {
			tokens = append(tokens, tokenWithKID(t, iss, randomKID(t)))
		}
		max, statuses := longest(t, s, tokens)
		t.Logf("NUMBER longest of 20 concurrent requests while the issuer takes %s (keys loaded, 10 unknown kids): %s; statuses %v", delay, max.Round(time.Millisecond), statuses)
		if statuses[http.StatusOK] != 10 || statuses[http.StatusUnauthorized] != 10 {
			t.Errorf("got statuses %v, want 10 × 200 and 10 × 401", statuses)
		}
		if max > 3*time.Second {
			t.Errorf("got a request of %s, want at most 3s: known keys must not wait for the issuer", max)
		}
	})
}

// TestDiscoveryOtherIssuer: a discovery document naming another issuer is
// refused: 503, and no keys are fetched from it.
func TestDiscoveryOtherIssuer(t *testing.T) {
	t.Parallel()
	iss := testissuer.New(t)
	iss.SetDiscoveryIssuer("https://evil.example/oauth2/default")
	s := startServe(t, iss.URL)
	for range 3 {
		wantUnavailable(t, s.secureData(t, validToken(t, iss, "rs256")))
	}
	if got := iss.JWKSFetches(); got != 0 {
		t.Errorf("got %d JWKS fetches, want 0 from an issuer whose discovery names another", got)
	}
	if got := iss.DiscoveryFetches(); got < 1 {
		t.Errorf("got %d discovery fetches, want at least 1", got)
	}
}

// flood sends n requests with random kids from workers goroutines and
// returns the statuses.
func flood(t *testing.T, s *server, iss *testissuer.Issuer, n, workers int) map[int]int {
	t.Helper()
	tokens := make(chan string, n)
	for range n {
		tokens <- tokenWithKID(t, iss, randomKID(t))
	}
	close(tokens)
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for tok := range tokens {
				r := s.secureData(t, tok)
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return statuses
}

// TestAfterCooldown holds the fault tests that need a key fetch caused by
// a kid, so they must wait out serve's cooldown after the first fetch. Each
// scenario gets its own issuer and server and makes its first fetch, then
// they all wait once (about 11s), then each is checked in a subtest.
func TestAfterCooldown(t *testing.T) {
	t.Parallel()

	type scenario struct {
		name  string
		iss   *testissuer.Issuer
		s     *server
		old   string // a valid token verified before the wait
		after func(t *testing.T, sc *scenario)
	}
	var (
		scenarios []*scenario
		last      time.Time
	)
	// add starts an issuer and serve for a scenario and makes the first
	// fetch with a valid request.
	add := func(name string, after func(t *testing.T, sc *scenario)) *scenario {
		t.Helper()
		sc := &scenario{name: name, iss: testissuer.New(t), after: after}
		sc.s = startServe(t, sc.iss.URL)
		sc.old = validToken(t, sc.iss, "rs256")
		last = time.Now()
		wantStatus(t, sc.s.secureData(t, sc.old), http.StatusOK)
		if got := sc.iss.JWKSFetches(); got != 1 {
			t.Fatalf("%s: got %d JWKS fetches after the first request, want 1", name, got)
		}
		scenarios = append(scenarios, sc)
		return sc
	}

	add("rotation and removal", func(t *testing.T, sc *scenario) {
		// The issuer rotates: a new key signs, the old rs256 key is gone.
		iss, s := sc.iss, sc.s
		iss.AddKey(&testissuer.Key{ID: "rotated", Alg: "RS256", JWKAlg: "RS256", Use: "sig", Private: testissuer.NewRSAKey(t, 2048)}, false)
		iss.Publish("rotated", "ps256", "es256", "es384", "es512", "eddsa")
		before := iss.JWKSFetches()
		r := s.secureData(t, validToken(t, iss, "rotated"))
		if r.status != http.StatusOK {
			t.Fatalf("first request with the new kid: got %d (%s), want 200", r.status, r.body)
		}
		t.Logf("NUMBER JWKS fetches for the new kid's first request: %d", iss.JWKSFetches()-before)
		if got := iss.JWKSFetches() - before; got != 1 {
			t.Errorf("got %d JWKS fetches for the new kid, want 1", got)
		}
		for name, tok := range map[string]string{"seen before": sc.old, "new": validToken(t, iss, "rs256")} {
			r := s.secureData(t, tok)
			if r.status != http.StatusUnauthorized || !strings.Contains(r.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s token of the removed key: got %d %q, want 401 invalid_token", name, r.status, r.header.Get("WWW-Authenticate"))
			}
		}
		wantStatus(t, s.secureData(t, validToken(t, iss, "es256")), http.StatusOK)
	})

	garbage := []struct {
		name string
		body []byte
	}{
		{"not JSON", []byte("<html>502 Bad Gateway</html>")},
		{"empty key set", []byte(`{"keys":[]}`)},
		{"only a symmetric key", []byte(`{"keys":[{"kty":"oct","kid":"hs","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}`)},
		{"only encryption keys", []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","kid":"x","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`)},
		{"truncated", []byte(`{"keys":[{"kty":"RSA","kid":"rs256","n":"`)},
		{"huge (2 MiB)", []byte(`{"keys":[],"pad":"` + strings.Repeat("A", 2<<20) + `"}`)},
	}
	for _, g := range garbage {
		sc := add("garbage JWKS: "+g.name, func(t *testing.T, sc *scenario) {
			iss, s := sc.iss, sc.s
			before := iss.JWKSFetches()
			r := s.secureData(t, tokenWithKID(t, iss, randomKID(t)))
			if got := iss.JWKSFetches() - before; got != 1 {
				t.Fatalf("got %d JWKS fetches for an unknown kid after the cooldown, want 1", got)
			}
			if r.status != http.StatusServiceUnavailable && r.status != http.StatusUnauthorized {
				t.Errorf("unknown kid while the JWKS is garbage: got %d, want 503 or 401", r.status)
			}
			// The old keys are kept.
			wantStatus(t, s.secureData(t, sc.old), http.StatusOK)
			wantStatus(t, s.secureData(t, validToken(t, iss, "es512")), http.StatusOK)
		})
		sc.iss.SetJWKSBody(g.body)
	}

	flooded := add("flood of 1000 random kids", func(t *testing.T, sc *scenario) {
		// After the cooldown: the flood costs one fetch.
		iss, s := sc.iss, sc.s
		before := iss.JWKSFetches()
		begin := time.Now()
		statuses := flood(t, s, iss, 1000, 50)
		took := time.Since(begin)
		got := iss.JWKSFetches() - before
		t.Logf("NUMBER JWKS fetches for 1,000 random kids after the cooldown: %d (statuses %v, %s)", got, statuses, took.Round(time.Millisecond))
		if want := 1 + int(took/serveCooldown); got < 1 || got > want {
			t.Errorf("got %d JWKS fetches, want between 1 and %d", got, want)
		}
		if statuses[http.StatusUnauthorized] != 1000 {
			t.Errorf("got statuses %v, want 1000 × 401", statuses)
		}
		wantStatus(t, s.secureData(t, sc.old), http.StatusOK)
	})
	// Right after the first fetch: within the cooldown, no fetch at all.
	begin := time.Now()
	statuses := flood(t, flooded.s, flooded.iss, 1000, 50)
	got := flooded.iss.JWKSFetches() - 1
	t.Logf("NUMBER JWKS fetches for 1,000 random kids within the cooldown: %d (statuses %v, %s)", got, statuses, time.Since(begin).Round(time.Millisecond))
	if statuses[http.StatusUnauthorized] != 1000 {
		t.Errorf("flood within the cooldown: got statuses %v, want 1000 × 401", statuses)
	}
	if time.Since(last) < serveCooldown && got != 0 {
		t.Errorf("flood within the cooldown: got %d JWKS fetches, want 0", got)
	}

	waitUntil(last.Add(serveCooldown + time.Second))
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.after(t, sc) })
	}
}
