package apiguard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

func verifyErr(t *testing.T, v *apiguard.Verifier, tok string) error {
	t.Helper()
	_, err := v.Verify(context.Background(), tok)
	return err
}

func TestKeysDownAtStartThenUp(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDown(true)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk) // New does not fail while the issuer is down
	tok := iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)

	err := verifyErr(t, v, tok)
	if !errors.Is(err, apiguard.ErrKeysUnavailable) || errors.Is(err, apiguard.ErrInvalidToken) {
		t.Fatalf("issuer down: got %v, want keys unavailable and not an invalid token", err)
	}
	if err := v.Ready(context.Background()); !errors.Is(err, apiguard.ErrKeysUnavailable) {
		t.Fatalf("Ready: got %v, want keys unavailable", err)
	}
	var ke *apiguard.KeysError
	if !errors.As(err, &ke) || ke.RetryAfter <= 0 {
		t.Fatalf("got %#v, want a KeysError with RetryAfter", err)
	}

	iss.SetDown(false)
	clk.Advance(2 * time.Second) // past the retry backoff
	if err := verifyErr(t, v, tok); err != nil {
		t.Fatalf("issuer up again: %v", err)
	}
	if err := v.Ready(context.Background()); err != nil {
		t.Fatalf("Ready: %v", err)
	}
}

func TestKeysDownLater(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
	known := iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)
	if err := verifyErr(t, v, known); err != nil {
		t.Fatal(err)
	}
	iss.SetDown(true)
	clk.Advance(time.Hour) // the set is due for refresh, which fails

	other := iss.Claims(clk.Now())
	fresh := iss.Sign(t, "es256", other, nil)
	for range 3 {
		if err := verifyErr(t, v, fresh); err != nil {
			t.Fatalf("known key with the issuer down: %v", err)
		}
	}
	// A kid the verifier has never seen cannot be told apart from a new
	// key while the issuer is down: that is unavailability, not a bad token.
	clk.Advance(time.Minute)
	rogue := testissuer.SignWith(t, "RS256", iss.Key("rs256").Private, "brand-new", other, nil)
	err := verifyErr(t, v, rogue)
	if !errors.Is(err, apiguard.ErrKeysUnavailable) {
		t.Fatalf("unknown kid with the issuer down: got %v, want keys unavailable", err)
	}
	// Bounded staleness: after MaxStale the old keys are not used.
	clk.Advance(13 * time.Hour)
	if err := verifyErr(t, v, iss.Sign(t, "es256", iss.Claims(clk.Now()), nil)); !errors.Is(err, apiguard.ErrKeysUnavailable) {
		t.Fatalf("keys past MaxStale: got %v, want keys unavailable", err)
	}
}

// TestKeysRandomKIDFlood sends 1,000 made-up kids over 10 seconds of clock:
// they cause at most fetchLimit fetches. Each is answered unknown key when a
// fetch made after it arrived shows it missing, and keys unavailable (the
// fetch limit, with a Retry-After) once the fetches are spent; never
// anything else.
func TestKeysRandomKIDFlood(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	claims := iss.Claims(clk.Now())
	if err := verifyErr(t, v, iss.Sign(t, "rs256", claims, nil)); err != nil {
		t.Fatal(err)
	}
	before := iss.JWKSFetches()
	clk.Advance(11 * time.Second)

	priv := iss.Key("rs256").Private
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		kid := randomKID(t)
		tok := testissuer.SignWith(t, "RS256", priv, kid, claims, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- verifyErr(t, v, tok)
		}()
		if i%100 == 99 && i < 999 {
			clk.Advance(time.Second) // the flood lasts 10 seconds: 11s to 20s after the first fetch
		}
	}
	wg.Wait()
	close(errs)
	answers := map[string]int{}
	for err := range errs {
		var ke *apiguard.KeysError
		switch {
		case errors.Is(err, apiguard.ErrUnknownKey):
			answers["unknown key"]++
		case errors.Is(err, apiguard.ErrFetchLimit) && errors.As(err, &ke) && ke.RetryAfter >= time.Second && ke.RetryAfter <= 10*time.Second:
			answers["fetch limit"]++
		default:
			t.Fatalf("random kid: got %v, want unknown key, or keys unavailable because of the fetch limit with a Retry-After of 1s to 10s", err)
		}
	}
	fetches := iss.JWKSFetches() - before
	t.Logf("NUMBER JWKS fetches for 1,000 random kids over 10s: %d (answers %v)", fetches, answers)
	if fetches < 1 || fetches > fetchLimit {
		t.Errorf("got %d JWKS fetches, want 1 to %d (the limit per 10s cooldown)", fetches, fetchLimit)
	}
	if answers["unknown key"] == 0 {
		t.Error("no kid was checked with a fetch")
	}
	if iss.NoCacheFetches() == 0 {
		t.Error("forced refreshes did not send Cache-Control: no-cache")
	}
}

func randomKID(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestKeysRotationAndRemoval(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	claims := iss.Claims(clk.Now())
	old := iss.Sign(t, "rs256", claims, nil)
	if err := verifyErr(t, v, old); err != nil {
		t.Fatal(err)
	}

	// Rotation: a new key appears; its first token is accepted (one forced
	// fetch, since the last fetch is older than the cooldown).
	iss.AddKey(&testissuer.Key{ID: "rotated", Alg: "RS256", JWKAlg: "RS256", Use: "sig", Private: testissuer.NewRSAKey(t, 2048)}, true)
	clk.Advance(11 * time.Second)
	if err := verifyErr(t, v, iss.Sign(t, "rotated", claims, nil)); err != nil {
		t.Fatalf("first token of a rotated-in key: %v", err)
	}

	// Removal: the old key leaves the set; after the next refresh its
	// tokens are refused, including the one in the verified-token cache.
	iss.Publish("rotated", "es256")
	clk.Advance(6 * time.Minute) // past max-age=300: the next use refreshes in the background
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := verifyErr(t, v, old)
		if errors.Is(err, apiguard.ErrUnknownKey) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("token of a removed key: got %v, want unknown key after the refresh", err)
		}
		time.Sleep(10 * time.Millisecond) // waiting for the background refresh; polled with a deadline
	}
	if err := verifyErr(t, v, iss.Sign(t, "es256", claims, nil)); err != nil {
		t.Errorf("kept key after refresh: %v", err)
	}
}

func TestKeysBadSetsKeepOldKeys(t *testing.T) {
	cases := []struct {
		name string
		body []byte
	}{
		{"garbage", []byte("<html>not json</html>")},
		{"empty set", []byte(`{"keys":[]}`)},
		{"only bad keys", []byte(`{"keys":[{"kty":"RSA","kid":"x","n":"AQAB","e":"AQAB"},{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`)},
		{"huge", []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			iss := testissuer.New(t)
			clk := fakeclock.New(epoch)
			v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
			claims := iss.Claims(clk.Now())
			if err := verifyErr(t, v, iss.Sign(t, "rs256", claims, nil)); err != nil {
				t.Fatal(err)
			}
			iss.SetJWKSBody(c.body)
			clk.Advance(time.Minute)
			rogue := testissuer.SignWith(t, "RS256", iss.Key("rs256").Private, "new-kid", claims, nil)
			if err := verifyErr(t, v, rogue); !errors.Is(err, apiguard.ErrKeysUnavailable) {
				t.Errorf("refresh with a bad set: got %v, want keys unavailable", err)
			}
			if err := verifyErr(t, v, iss.Sign(t, "es256", claims, nil)); err != nil {
				t.Errorf("old keys after a bad set: %v", err)
			}
		})
	}
}

func TestKeysSkipsUnusableKeys(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	iss.AddKey(&testissuer.Key{ID: "enc", Alg: "RS256", Use: "enc", Private: iss.Key("rs256").Private}, true)
	iss.AddKey(&testissuer.Key{ID: "weak", Alg: "RS256", Private: testissuer.NewRSAKey(t, 1024)}, true)
	v := newVerifier(t, iss, clk)
	claims := iss.Claims(clk.Now())
	for _, kid := range []string{"enc", "weak"} {
		if err := verifyErr(t, v, iss.Sign(t, kid, claims, nil)); !errors.Is(err, apiguard.ErrUnknownKey) {
			t.Errorf("kid %s: got %v, want unknown key", kid, err)
		}
	}
	if err := verifyErr(t, v, iss.Sign(t, "es384", claims, nil)); err != nil {
		t.Errorf("good key beside bad ones: %v", err)
	}
	if got, want := v.KeyCount(), len(testissuer.Algorithms); got != want {
		t.Errorf("KeyCount = %d, want %d", got, want)
	}
}

func TestKeysSingleKeyWithoutKID(t *testing.T) {
	iss := testissuer.New(t)
	iss.Publish("es256")
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	if err := verifyErr(t, v, iss.Sign(t, "es256", iss.Claims(clk.Now()), map[string]any{"kid": nil})); err != nil {
		t.Errorf("no kid, one key: %v", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDiscoveryIssuer(iss.URL + "/")
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk)
	err := verifyErr(t, v, iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil))
	if !errors.Is(err, apiguard.ErrKeysUnavailable) || !strings.Contains(err.Error(), "discovery document names issuer") {
		t.Errorf("got %v, want keys unavailable for a mismatched discovery issuer", err)
	}
	if iss.JWKSFetches() != 0 {
		t.Errorf("fetched keys from a discovery document naming another issuer")
	}
}

func TestJWKSURLOverride(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDiscoveryIssuer("https://not-used.example")
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.JWKSURL = iss.URL + "/keys" })
	if err := verifyErr(t, v, iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	if iss.DiscoveryFetches() != 0 {
		t.Error("discovery was fetched despite JWKSURL")
	}
}

func TestSlowIssuerIsBounded(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetDelay(5 * time.Second)
	v := newVerifier(t, iss, fakeclock.New(epoch), func(c *apiguard.Config) { c.FetchTimeout = 200 * time.Millisecond })
	start := time.Now()
	err := verifyErr(t, v, iss.Sign(t, "rs256", iss.Claims(epoch), nil))
	if !errors.Is(err, apiguard.ErrKeysUnavailable) {
		t.Fatalf("slow issuer: got %v, want keys unavailable", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Verify took %s with a 200ms fetch timeout", took)
	}
}

func TestCacheControlHonoured(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetCacheControl("public, max-age=120")
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
	tok := iss.Sign(t, "rs256", iss.Claims(clk.Now()), nil)
	if err := verifyErr(t, v, tok); err != nil {
		t.Fatal(err)
	}
	clk.Advance(90 * time.Second)
	_ = verifyErr(t, v, tok)
	if got := iss.JWKSFetches(); got != 1 {
		t.Errorf("within max-age: %d fetches, want 1", got)
	}
	clk.Advance(time.Minute)
	_ = verifyErr(t, v, tok) // due: starts a background refresh
	deadline := time.Now().Add(5 * time.Second)
	for iss.JWKSFetches() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no refresh after max-age")
		}
		time.Sleep(5 * time.Millisecond) // polling the background refresh with a deadline
	}
}

func TestFetchEvents(t *testing.T) {
	iss := testissuer.New(t)
	var mu sync.Mutex
	var events []apiguard.FetchEvent
	v := newVerifier(t, iss, fakeclock.New(epoch), func(c *apiguard.Config) {
		c.OnFetch = func(e apiguard.FetchEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }
	})
	if err := v.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 1 || events[0].Err != nil || events[0].Keys != len(testissuer.Algorithms) || events[0].URL != iss.URL+"/keys" {
		t.Errorf("got events %+v", events)
	}
}

// TestConcurrentVerifyDuringRotation verifies from many goroutines while
// keys rotate in and the set is refreshed (run with -race): every token of
// a key that stays published is accepted, and the workers verify tokens in
// every round, not just before or after the rotations.
func TestConcurrentVerifyDuringRotation(t *testing.T) {
	iss := testissuer.New(t)
	iss.SetCacheControl("max-age=0")
	clk := fakeclock.New(epoch)
	var fetches atomic.Int64
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.OnFetch = func(apiguard.FetchEvent) { fetches.Add(1) } })
	claims := iss.Claims(clk.Now())
	tokens := []string{iss.Sign(t, "rs256", claims, nil), iss.Sign(t, "es256", claims, nil), iss.Sign(t, "eddsa", claims, nil)}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		verified atomic.Int64 // tokens the workers got accepted
		failures = make(chan error, 100)
	)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := verifyErr(t, v, tokens[(g+i)%len(tokens)]); err != nil {
					select {
					case failures <- err:
					default:
					}
					continue
				}
				verified.Add(1)
			}
		})
	}
	for i := range 20 {
		iss.AddKey(&testissuer.Key{ID: "extra" + string(rune('a'+i)), Alg: "ES256", Private: iss.Key("es256").Private}, true)
		clk.Advance(2 * time.Minute) // past the set's refresh time: the workers' next use refreshes
		startFetches, startVerified := fetches.Load(), verified.Load()
		// This round's refresh has happened and workers verified tokens
		// after it.
		pollUntil(t, "round "+strconv.Itoa(i+1), func() bool {
			return fetches.Load() > startFetches && verified.Load() >= startVerified+50
		})
	}
	cancel()
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Errorf("verify during rotation: %v", err)
	}
	if got := v.KeyCount(); got != len(testissuer.Algorithms)+20 {
		t.Errorf("got %d keys after the rotations, want %d", got, len(testissuer.Algorithms)+20)
	}
	t.Logf("%d tokens verified by 8 goroutines over 20 rotations, %d fetches", verified.Load(), fetches.Load())
}
