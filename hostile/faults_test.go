package hostile

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// serveCooldown is apiguard serve's RefreshCooldown (the verifier's
// default; serve has no setting for it): the window in which unknown kids
// may cause fetchLimit key fetches. TestAfterCooldown's scenarios wait it
// out on the wall clock, since the binary runs on the real clock; they run
// in parallel.
const serveCooldown = 10 * time.Second

// fetchLimit is how many key fetches unknown kids may cause per cooldown.
const fetchLimit = 3

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
	// A kid it has not seen cannot be checked while the issuer is down: it
	// may be a key just rotated in, so the answer is 503, not 401.
	wantUnavailable(t, s.secureData(t, tokenWithKID(t, iss, randomKID(t))))
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/readyz", nil)
	wantStatus(t, s.do(t, req), http.StatusOK)
}

// TestSlowIssuer: an issuer that answers after 30s holds no request longer
// than serve's fetch timeout, whether keys are loaded or not.
func TestSlowIssuer(t *testing.T) {
	t.Parallel()
	const delay = 30 * time.Second

	// longest sends the tokens at once and returns, by status, how many
	// requests got it and the longest of them.
	longest := func(t *testing.T, s *server, tokens []string) (max map[int]time.Duration, statuses map[int]int) {
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		max, statuses = map[int]time.Duration{}, map[int]int{}
		for _, tok := range tokens {
			wg.Go(func() {
				r := s.secureData(t, tok)
				mu.Lock()
				defer mu.Unlock()
				statuses[r.status]++
				if r.took > max[r.status] {
					max[r.status] = r.took
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
		took := max[http.StatusServiceUnavailable]
		t.Logf("NUMBER longest of 20 concurrent requests while the issuer takes %s (no keys yet): %s; statuses %v", delay, took.Round(time.Millisecond), statuses)
		if statuses[http.StatusServiceUnavailable] != len(tokens) {
			t.Errorf("got statuses %v, want all 503", statuses)
		}
		if took > 5*time.Second {
			t.Errorf("got a request of %s, want at most 5s (a request waits 3s for a fetch, plus a margin)", took)
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
		t.Logf("NUMBER longest of 20 concurrent requests while the issuer takes %s (keys loaded, 10 unknown kids): known keys %s, unknown kids %s; statuses %v",
			delay, max[http.StatusOK].Round(time.Millisecond), max[http.StatusServiceUnavailable].Round(time.Millisecond), statuses)
		// The unknown kids wait for the fetch they need, as long as a
		// request waits for one, and get 503: they cannot be checked.
		if statuses[http.StatusOK] != 10 || statuses[http.StatusServiceUnavailable] != 10 {
			t.Errorf("got statuses %v, want 10 × 200 and 10 × 503", statuses)
		}
		if max[http.StatusOK] > 2*time.Second {
			t.Errorf("got a request with a known key of %s, want at most 2s: known keys must not wait for the issuer", max[http.StatusOK])
		}
		if max[http.StatusServiceUnavailable] > 5*time.Second {
			t.Errorf("got a request with an unknown kid of %s, want at most 5s (a request waits 3s for a fetch, plus a margin)", max[http.StatusServiceUnavailable])
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
				if r.status == http.StatusServiceUnavailable {
					wantUnavailable(t, r)
				}
				mu.Lock()
				statuses[r.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return statuses
}

// wantFloodAnswers checks the statuses of a flood of n made-up kids: 401
// for each kid a fetch made after it arrived showed missing, 503 (with
// Retry-After, checked by flood) for those that came when the fetches
// unknown kids may cause were spent; some of each kind is not required,
// but the first kid always gets its fetch.
func wantFloodAnswers(t *testing.T, statuses map[int]int, n int) {
	t.Helper()
	if statuses[http.StatusUnauthorized]+statuses[http.StatusServiceUnavailable] != n || statuses[http.StatusUnauthorized] == 0 {
		t.Errorf("got statuses %v, want %d in all of 401 (checked with a fetch, at least one) and 503 (fetch limit)", statuses, n)
	}
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
			// The fetch the kid needs failed: it cannot be checked, so 503
			// (the kid may be a key just rotated in), never 401.
			wantUnavailable(t, r)
			// The old keys are kept.
			wantStatus(t, s.secureData(t, sc.old), http.StatusOK)
			wantStatus(t, s.secureData(t, validToken(t, iss, "es512")), http.StatusOK)
		})
		sc.iss.SetJWKSBody(g.body)
	}

	add("flood of 1000 random kids", func(t *testing.T, sc *scenario) {
		// serve runs on the wall clock: the bound is fetchLimit per
		// cooldown the flood lasts (TestKIDFloodFetchBound checks it on a
		// clock that stands still).
		iss, s := sc.iss, sc.s
		before := iss.JWKSFetches()
		begin := time.Now()
		statuses := flood(t, s, iss, 1000, 50)
		took := time.Since(begin)
		got := iss.JWKSFetches() - before
		t.Logf("NUMBER JWKS fetches for 1,000 random kids after the cooldown: %d (statuses %v, %s)", got, statuses, took.Round(time.Millisecond))
		if want := fetchLimit * (1 + int(took/serveCooldown)); got < 1 || got > want {
			t.Errorf("got %d JWKS fetches, want between 1 and %d", got, want)
		}
		wantFloodAnswers(t, statuses, 1000)
		wantStatus(t, s.secureData(t, sc.old), http.StatusOK)
	})

	waitUntil(last.Add(serveCooldown + time.Second))
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.after(t, sc) })
	}
}

// TestKIDFloodFetchBound floods a verifier's middleware, served over HTTP
// on 127.0.0.1, with 1,000 made-up kids per cooldown while its clock stands
// still, so the bound is checked however long the flood takes: at most
// fetchLimit key fetches per cooldown. Then, with a flood going on, the
// issuer rotates a key in: its first request gets 503 with Retry-After
// (the fetches are spent, and the kid cannot be checked), never 401, and
// the first request after Retry-After gets 200.
func TestKIDFloodFetchBound(t *testing.T) {
	t.Parallel()
	iss := testissuer.New(t)
	clk := fakeclock.New(time.Now())
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, Now: clk.Now, RefreshCooldown: serveCooldown})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	defer api.Close()
	s := &server{URL: api.URL, client: api.Client()}
	wantStatus(t, s.secureData(t, validToken(t, iss, "rs256")), http.StatusOK)

	for window := range 2 {
		before := iss.JWKSFetches()
		statuses := flood(t, s, iss, 1000, 50)
		got := iss.JWKSFetches() - before
		t.Logf("NUMBER JWKS fetches for 1,000 random kids within one cooldown (clock standing still, window %d): %d (statuses %v)", window+1, got, statuses)
		if got < 1 || got > fetchLimit {
			t.Errorf("window %d: got %d JWKS fetches, want 1 to %d", window+1, got, fetchLimit)
		}
		wantFloodAnswers(t, statuses, 1000)
		clk.Advance(serveCooldown)
	}

	// A flood that keeps going, and a rotation in the middle of it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r := s.secureData(t, tokenWithKID(t, iss, randomKID(t))); r.status != http.StatusUnauthorized {
					wantUnavailable(t, r)
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	pollUntil(t, 10*time.Second, time.Millisecond, "the flood spending the fetches", func() bool {
		return s.secureData(t, tokenWithKID(t, iss, randomKID(t))).status == http.StatusServiceUnavailable
	})
	iss.AddKey(&testissuer.Key{ID: "rotated", Alg: "EdDSA", JWKAlg: "EdDSA", Use: "sig", Private: iss.Key("eddsa").Private}, true)
	tok := validToken(t, iss, "rotated")
	r := s.secureData(t, tok)
	wantUnavailable(t, r)
	ra, _ := strconv.Atoi(r.header.Get("Retry-After"))
	clk.Advance(time.Duration(ra) * time.Second)
	if r := s.secureData(t, tok); r.status != http.StatusOK {
		t.Errorf("rotated key after Retry-After (%ds), flood still going: got %d (%s), want 200", ra, r.status, r.body)
	}
}
