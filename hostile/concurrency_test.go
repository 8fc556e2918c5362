package hostile

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// round is what the workers verify during one rotation round.
type round struct {
	current  string       // a token of the key published this round
	accepted atomic.Int64 // how often the workers had it accepted
}

// TestConcurrentVerifyDuringRotation verifies from 16 goroutines while the
// issuer rotates a key every round and the clock moves past the key set's
// refresh time (background refreshes) and past the cooldown (refreshes
// forced by unknown kids), with made-up kids mixed in (which spend the
// fetches unknown kids may cause). Tokens of keys that stay published are
// never refused; unknown kids never pass; each round's new key is accepted
// within the round and, before that, only ever answered "keys unavailable"
// because of the fetch limit, never refused as unknown; and after the last
// refresh the rotated-out keys are refused. Run with -race.
func TestConcurrentVerifyDuringRotation(t *testing.T) {
	iss := testissuer.New(t) // serves Cache-Control: max-age=300
	clk := fakeclock.New(time.Now())
	var fetches atomic.Int64
	v, err := apiguard.New(apiguard.Config{
		Issuer:          iss.URL,
		Now:             clk.Now,
		RefreshCooldown: 10 * time.Second,
		OnFetch:         func(apiguard.FetchEvent) { fetches.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stable := []string{"rs256", "ps384", "es256", "es512", "eddsa"}
	var stableTokens []string
	for _, kid := range stable {
		stableTokens = append(stableTokens, iss.Sign(t, kid, iss.Claims(clk.Now()), nil))
	}
	if err := v.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	rotate := func(i int) (kid, token string) {
		kid = fmt.Sprintf("rot-%d", i)
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		iss.AddKey(&testissuer.Key{ID: kid, Alg: "ES256", JWKAlg: "ES256", Use: "sig", Private: priv}, false)
		iss.Publish(append(append([]string(nil), stable...), kid)...)
		return kid, iss.Sign(t, kid, iss.Claims(clk.Now()), nil)
	}

	var (
		cur      atomic.Pointer[round]
		verified atomic.Int64
		failures = make(chan string, 100)
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		select {
		case failures <- fmt.Sprintf(format, args...):
		default:
		}
	}
	_, first := rotate(0)
	r0 := &round{current: first}
	cur.Store(r0)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				tok := stableTokens[(w+i)%len(stableTokens)]
				if _, err := v.Verify(ctx, tok); err != nil {
					fail("token of a key that stays published refused: %v", err)
				}
				switch i % 4 {
				case 1:
					unknown := testissuer.SignWith(t, "EdDSA", iss.Key("eddsa").Private, fmt.Sprintf("unknown-%d-%d", w, i), iss.Claims(clk.Now()), nil)
					if _, err := v.Verify(ctx, unknown); !errors.Is(err, apiguard.ErrUnknownKey) && !errors.Is(err, apiguard.ErrFetchLimit) {
						fail("unknown kid: got %v, want ErrUnknownKey or ErrFetchLimit", err)
					}
				case 2:
					// The current round's key: accepted once fetched; before,
					// "keys unavailable" when the made-up kids spent the
					// fetches; never refused as unknown.
					r := cur.Load()
					_, err := v.Verify(ctx, r.current)
					switch {
					case err == nil:
						r.accepted.Add(1)
					case !errors.Is(err, apiguard.ErrFetchLimit):
						fail("current rotated key: got %v, want nil or ErrFetchLimit", err)
					}
				}
				verified.Add(1)
			}
		})
	}

	// waitVerified waits until the workers have verified n more tokens.
	waitVerified := func(n int64) {
		target := verified.Load() + n
		pollUntil(t, 30*time.Second, time.Millisecond, "workers verifying", func() bool { return verified.Load() >= target })
	}
	const rounds = 8
	var old []string              // tokens of rotated-out keys
	clk.Advance(11 * time.Second) // round 0's key may have met a spent limit
	pollUntil(t, 30*time.Second, time.Millisecond, "round 0's key accepted", func() bool { return r0.accepted.Load() > 0 })
	for i := 1; i <= rounds; i++ {
		waitVerified(200)
		old = append(old, cur.Load().current)
		_, tok := rotate(i)
		r := &round{current: tok}
		cur.Store(r)
		// Odd rounds: past the refresh time (a background refresh); even
		// rounds: only past the cooldown (a refresh forced by a kid).
		if i%2 == 1 {
			clk.Advance(5*time.Minute + time.Second)
		} else {
			clk.Advance(11 * time.Second)
		}
		waitVerified(200)
		pollUntil(t, 30*time.Second, time.Millisecond, fmt.Sprintf("round %d's key accepted", i), func() bool { return r.accepted.Load() > 0 })
	}
	close(stop)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}

	// The rotated-out keys are refused. A kid not checked lately needs a
	// fetch, and one that comes when the fetches are spent is told to come
	// back later (keys unavailable, with a Retry-After); coming back then, it
	// is refused as unknown.
	clk.Advance(11 * time.Second)
	if _, err := v.Verify(ctx, cur.Load().current); err != nil {
		t.Fatalf("token of the last rotated key: %v", err)
	}
	for i, tok := range old {
		_, err := v.Verify(ctx, tok)
		var ke *apiguard.KeysError
		if errors.Is(err, apiguard.ErrFetchLimit) && errors.As(err, &ke) {
			clk.Advance(ke.RetryAfter)
			_, err = v.Verify(ctx, tok)
		}
		if !errors.Is(err, apiguard.ErrUnknownKey) {
			t.Errorf("token of rotated-out key rot-%d: got %v, want ErrUnknownKey", i, err)
		}
	}
	got := fetches.Load()
	t.Logf("%d verifications by 16 goroutines over %d rotations; %d key fetches (issuer served %d)", verified.Load(), rounds, got, iss.JWKSFetches())
	// One at start; per round at most one for age, the limit for made-up
	// kids and one (free) for the new key; and one per rotated-out key.
	if max := int64(1 + (fetchLimit+2)*(rounds+1) + len(old)); got > max {
		t.Errorf("got %d key fetches, want at most %d", got, max)
	}
}

// TestServeUnderConcurrentLoad sends valid tokens and unknown kids to
// apiguard serve from 32 goroutines while the issuer's key set changes:
// every valid token of a key that stays published gets 200, every unknown
// kid 401 once a fetch has shown it missing, or 503 (with Retry-After)
// while the fetches unknown kids may cause are spent, never 200. With
// -race, serve itself is built with the race detector and a race it
// reports fails the test (see startServe).
func TestServeUnderConcurrentLoad(t *testing.T) {
	t.Parallel()
	iss := testissuer.New(t)
	s := startServe(t, iss.URL)
	stable := []string{"rs256", "ps256", "es384", "eddsa"}
	var tokens []string
	for _, kid := range stable {
		tokens = append(tokens, validToken(t, iss, kid))
	}
	var unknown []string
	for i := range 64 {
		unknown = append(unknown, tokenWithKID(t, iss, fmt.Sprintf("load-unknown-%d", i)))
	}

	var (
		mu       sync.Mutex
		statuses = map[string]map[int]int{"valid": {}, "unknown": {}}
		wg       sync.WaitGroup
	)
	for w := range 32 {
		wg.Go(func() {
			for i := range 200 {
				kind, tok := "valid", tokens[(w+i)%len(tokens)]
				if i%3 == 0 {
					kind, tok = "unknown", unknown[(w+i)%len(unknown)]
				}
				r := s.secureData(t, tok)
				if r.status == http.StatusServiceUnavailable {
					wantUnavailable(t, r)
				}
				mu.Lock()
				statuses[kind][r.status]++
				mu.Unlock()
			}
		})
	}
	// Meanwhile the issuer rotates keys in and out of its set.
	for i := range 5 {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		kid := fmt.Sprintf("load-rot-%d", i)
		iss.AddKey(&testissuer.Key{ID: kid, Alg: "ES256", JWKAlg: "ES256", Use: "sig", Private: priv}, false)
		iss.Publish(append(append([]string(nil), stable...), kid)...)
	}
	wg.Wait()
	t.Logf("statuses under load: %v; JWKS fetches %d", statuses, iss.JWKSFetches())
	for st := range statuses["valid"] {
		if st != http.StatusOK {
			t.Errorf("valid tokens got statuses %v, want only 200", statuses["valid"])
		}
	}
	for st := range statuses["unknown"] {
		if st != http.StatusUnauthorized && st != http.StatusServiceUnavailable {
			t.Errorf("unknown kids got statuses %v, want only 401 and 503", statuses["unknown"])
		}
	}
	if statuses["unknown"][http.StatusUnauthorized] == 0 {
		t.Errorf("unknown kids got statuses %v, want some 401 (kids checked with a fetch)", statuses["unknown"])
	}
}
