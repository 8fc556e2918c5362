package apiguard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
)

// The tests of this file hold R-JWKS-3: unknown kids cause a bounded
// number of fetches, a key rotated in is accepted on its first request, and
// an unknown kid that cannot be checked is "keys unavailable", not a bad
// token.

// fetchLimit is the number of fetches unknown kids may cause per cooldown.
const fetchLimit = 3

// rotate adds a new published ES256 key to iss and returns a token it signed.
func rotate(t *testing.T, iss *testissuer.Issuer, kid string, claims map[string]any) string {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss.AddKey(&testissuer.Key{ID: kid, Alg: "ES256", JWKAlg: "ES256", Use: "sig", Private: priv}, true)
	return iss.Sign(t, kid, testissuer.With(claims), nil)
}

// madeUp returns a token of the issuer's own claims naming a kid it does not
// publish (signed with its EdDSA key, which does not matter: it is refused
// before the signature is checked).
func madeUp(t *testing.T, iss *testissuer.Issuer, claims map[string]any) string {
	t.Helper()
	return testissuer.SignWith(t, "EdDSA", iss.Key("eddsa").Private, "made-up-"+randomKID(t), testissuer.With(claims), nil)
}

// pollUntil calls f until it returns true, failing the test after 10s.
func pollUntil(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
		runtime.Gosched()
	}
}

// TestRotatedKeyAcceptedOnFirstRequest: a key the issuer rotates in right
// after the verifier fetched its keys, whatever caused that fetch, is
// accepted on its first request, with one fetch. (It used to be refused as
// unknown for up to the 10s cooldown after any fetch.)
func TestRotatedKeyAcceptedOnFirstRequest(t *testing.T) {
	tests := []struct {
		name  string
		fetch func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any)
	}{
		{"start-up fetch", func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any) {
			if err := verifyErr(t, v, iss.Sign(t, "rs256", testissuer.With(claims), nil)); err != nil {
				t.Fatal(err)
			}
		}},
		{"Ready", func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any) {
			if err := v.Ready(context.Background()); err != nil {
				t.Fatal(err)
			}
		}},
		{"background refresh", func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any) {
			known := iss.Sign(t, "rs256", testissuer.With(claims), nil)
			if err := verifyErr(t, v, known); err != nil {
				t.Fatal(err)
			}
			clk.Advance(6 * time.Minute) // past max-age=300: the next use refreshes
			if err := verifyErr(t, v, known); err != nil {
				t.Fatal(err)
			}
			pollUntil(t, "the background refresh", func() bool { return iss.JWKSFetches() == 2 })
		}},
		{"fetch for a made-up kid", func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any) {
			if err := verifyErr(t, v, madeUp(t, iss, claims)); !errors.Is(err, apiguard.ErrUnknownKey) {
				t.Fatalf("made-up kid: got %v, want unknown key", err)
			}
		}},
		{"fetch for another rotated key", func(t *testing.T, iss *testissuer.Issuer, v *apiguard.Verifier, clk *fakeclock.Clock, claims map[string]any) {
			if err := verifyErr(t, v, rotate(t, iss, "rotated-before", claims)); err != nil {
				t.Fatalf("first rotated key: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := testissuer.New(t)
			clk := fakeclock.New(epoch)
			v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
			claims := iss.Claims(clk.Now())
			tt.fetch(t, iss, v, clk, claims)

			before := iss.JWKSFetches()
			tok := rotate(t, iss, "rotated", claims) // no time passes
			if err := verifyErr(t, v, tok); err != nil {
				t.Fatalf("first request with the rotated key: got %v, want accepted", err)
			}
			if got := iss.JWKSFetches() - before; got != 1 {
				t.Errorf("got %d JWKS fetches for the rotated key, want 1", got)
			}
			if err := verifyErr(t, v, tok); err != nil || iss.JWKSFetches()-before != 1 {
				t.Errorf("second request: got %v after %d fetches, want accepted with no further fetch", err, iss.JWKSFetches()-before)
			}
		})
	}
}

// TestRotationDuringKIDFlood: while goroutines flood the verifier with
// made-up kids (and so spend the fetches unknown kids may cause), the
// issuer rotates a key in. Its first request cannot be checked: the answer
// is keys unavailable with a Retry-After, never unknown key; and the first
// request after Retry-After, with the flood still going, is accepted.
func TestRotationDuringKIDFlood(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch) // stands still during the flood
	v := newVerifier(t, iss, clk)
	claims := iss.Claims(clk.Now())
	if err := verifyErr(t, v, iss.Sign(t, "rs256", testissuer.With(claims), nil)); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var floodErr atomic.Value
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := verifyErr(t, v, madeUp(t, iss, claims)); !errors.Is(err, apiguard.ErrUnknownKey) && !errors.Is(err, apiguard.ErrFetchLimit) {
					floodErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()
	pollUntil(t, "the flood spending the fetch limit", func() bool {
		return errors.Is(verifyErr(t, v, madeUp(t, iss, claims)), apiguard.ErrFetchLimit)
	})
	if got := iss.JWKSFetches() - 1; got != fetchLimit {
		t.Errorf("got %d fetches for the flood, want %d", got, fetchLimit)
	}

	tok := rotate(t, iss, "rotated", claims)
	err := verifyErr(t, v, tok)
	var ke *apiguard.KeysError
	if !errors.As(err, &ke) || !errors.Is(err, apiguard.ErrFetchLimit) || errors.Is(err, apiguard.ErrInvalidToken) {
		t.Fatalf("rotated key with the fetch limit spent: got %v, want keys unavailable (the fetch limit), not an invalid token", err)
	}
	if ke.RetryAfter < time.Second || ke.RetryAfter > 10*time.Second {
		t.Errorf("got Retry-After %s, want 1s to the 10s cooldown", ke.RetryAfter)
	}
	clk.Advance(ke.RetryAfter) // the client comes back when told; the flood goes on
	if err := verifyErr(t, v, tok); err != nil {
		t.Errorf("rotated key after Retry-After, flood still going: got %v, want accepted", err)
	}
	if err, _ := floodErr.Load().(error); err != nil {
		t.Errorf("made-up kid: got %v, want unknown key or the fetch limit", err)
	}
	t.Logf("NUMBER JWKS fetches: %d for the flood and the rotation over 10s of clock", iss.JWKSFetches()-1)
}

// TestUnknownKIDWhileIssuerDown: with keys loaded and the issuer down, a
// kid the verifier has not seen cannot be told from a new key: the
// middleware answers 503 with Retry-After and no invalid_token challenge,
// both while fetches are tried and once the fetch limit is spent. Known
// keys keep working.
func TestUnknownKIDWhileIssuerDown(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	var attempts atomic.Int64
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.OnFetch = func(apiguard.FetchEvent) { attempts.Add(1) } })
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })))
	defer srv.Close()
	claims := iss.Claims(clk.Now())
	get := func(t *testing.T, tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(t, iss.Sign(t, "rs256", testissuer.With(claims), nil)); resp.StatusCode != http.StatusOK {
		t.Fatalf("got %d, want 200", resp.StatusCode)
	}
	iss.SetDown(true)
	for i := range fetchLimit + 2 {
		stage := "a fetch is tried and fails"
		if i >= fetchLimit {
			stage = "the fetch limit is spent"
		}
		t.Run(strconv.Itoa(i+1)+": "+stage, func(t *testing.T) {
			before := attempts.Load()
			tok := iss.Sign(t, "es256", testissuer.With(claims), map[string]any{"kid": "brand-new-" + strconv.Itoa(i)})
			resp := get(t, tok)
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("got %d, want 503", resp.StatusCode)
			}
			if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 10 {
				t.Errorf("got Retry-After %q, want 1 to 10 seconds", resp.Header.Get("Retry-After"))
			}
			if wa := resp.Header.Get("WWW-Authenticate"); strings.Contains(wa, "invalid_token") {
				t.Errorf("got WWW-Authenticate %q, want no invalid_token on a 503", wa)
			}
			want := int64(1)
			if i >= fetchLimit {
				want = 0
			}
			if got := attempts.Load() - before; got != want {
				t.Errorf("got %d fetch attempts, want %d", got, want)
			}
		})
	}
	if resp := get(t, iss.Sign(t, "es384", testissuer.With(claims), nil)); resp.StatusCode != http.StatusOK {
		t.Errorf("known key with the issuer down: got %d, want 200", resp.StatusCode)
	}
}

// newUncachedLoaded starts an issuer and a verifier of it with the
// verified-token cache off (so that each Verify looks the key up), and
// loads the keys with one good token. It returns the claims of that token,
// to sign others with.
func newUncachedLoaded(t *testing.T) (*testissuer.Issuer, *fakeclock.Clock, *apiguard.Verifier, jwt.MapClaims) {
	t.Helper()
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
	claims := iss.Claims(clk.Now())
	if err := verifyErr(t, v, iss.Sign(t, "rs256", testissuer.With(claims), nil)); err != nil {
		t.Fatal(err)
	}
	return iss, clk, v, claims
}

// TestUnknownKIDRemembered: a kid a fetch found missing is refused at once
// for a minute, however often it comes back, at no further fetch (and so
// never runs into the fetch limit: it stays 401, not 503). After the
// minute the issuer is asked again. Without the per-kid negative cache the
// repeats would fetch until the limit and then get 503.
func TestUnknownKIDRemembered(t *testing.T) {
	iss, clk, v, claims := newUncachedLoaded(t)
	gone := madeUp(t, iss, claims)
	steps := []struct {
		name    string
		advance time.Duration
		fetches int // JWKS fetches after the step, in all
	}{
		{"first time: one fetch", 0, 2},
		{"again", 0, 2},
		{"again, 10s later", 10 * time.Second, 2},
		{"again, 20s later", 10 * time.Second, 2},
		{"again, 59s later", 39 * time.Second, 2},
		{"a minute later: asked again", time.Second, 3},
		{"and remembered again", time.Second, 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Advance(st.advance)
			for range 5 {
				if err := verifyErr(t, v, gone); !errors.Is(err, apiguard.ErrUnknownKey) {
					t.Fatalf("got %v, want unknown key", err)
				}
			}
			if got := iss.JWKSFetches(); got != st.fetches {
				t.Errorf("got %d JWKS fetches, want %d", got, st.fetches)
			}
		})
	}
}

// TestFetchFindingItsKIDIsFree: fetches that find the kid they were made
// for (rotations) do not count against the limit; only fetches that find
// nothing new, which is all made-up kids can cause, do.
func TestFetchFindingItsKIDIsFree(t *testing.T) {
	iss, _, v, claims := newUncachedLoaded(t)
	for i := range fetchLimit + 2 {
		if err := verifyErr(t, v, rotate(t, iss, "rot-"+strconv.Itoa(i), claims)); err != nil {
			t.Fatalf("rotation %d within one cooldown: got %v, want accepted", i+1, err)
		}
	}
	for i := range fetchLimit {
		if err := verifyErr(t, v, madeUp(t, iss, claims)); !errors.Is(err, apiguard.ErrUnknownKey) {
			t.Fatalf("made-up kid %d after the rotations: got %v, want unknown key (checked with a fetch)", i+1, err)
		}
	}
	if err := verifyErr(t, v, madeUp(t, iss, claims)); !errors.Is(err, apiguard.ErrFetchLimit) {
		t.Errorf("made-up kid past the limit: got %v, want the fetch limit", err)
	}
	if got, want := iss.JWKSFetches(), 1+fetchLimit+2+fetchLimit; got != want {
		t.Errorf("got %d JWKS fetches, want %d", got, want)
	}
}

// TestUnknownKIDNotAnsweredByEarlierFetch: a request with a new kid that
// finds a fetch already running (here a background refresh that read the
// key set just before the issuer rotated) waits for it, and when that set
// lacks the kid, has the set fetched again rather than refusing the kid on
// the word of a fetch older than the request.
func TestUnknownKIDNotAnsweredByEarlierFetch(t *testing.T) {
	iss := testissuer.New(t)
	var hold atomic.Bool
	held, release := make(chan struct{}, 1), make(chan struct{})
	// The JWK set, read from the issuer and then, when hold is set, held
	// back until release.
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(iss.URL + "/keys")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if hold.CompareAndSwap(true, false) {
			held <- struct{}{}
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", resp.Header.Get("Cache-Control"))
		w.Write(body)
	}))
	defer keys.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // before keys.Close, which waits for the held request
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true; c.JWKSURL = keys.URL })
	claims := iss.Claims(clk.Now())
	known := iss.Sign(t, "rs256", testissuer.With(claims), nil)
	if err := verifyErr(t, v, known); err != nil {
		t.Fatal(err)
	}

	clk.Advance(6 * time.Minute) // past max-age=300
	hold.Store(true)
	if err := verifyErr(t, v, known); err != nil { // starts the background refresh
		t.Fatal(err)
	}
	select {
	case <-held: // the refresh has read the set
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh")
	}
	tok := rotate(t, iss, "rotated", claims)
	errc := make(chan error, 1)
	go func() { errc <- verifyErr(t, v, tok) }()
	pollUntil(t, "the request waiting for the refresh", func() bool {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, " [select") && strings.Contains(g, "(*keySet).lookupSlow(") {
				return true
			}
		}
		return false
	})
	releaseOnce()
	if err := <-errc; err != nil {
		t.Errorf("new kid that arrived during an older fetch: got %v, want accepted", err)
	}
}

// TestRemovedKIDRefusedWithoutFetch: when a refresh finds a key gone, its
// tokens are refused at once, without a fetch of their own for a minute.
func TestRemovedKIDRefusedWithoutFetch(t *testing.T) {
	iss := testissuer.New(t)
	clk := fakeclock.New(epoch)
	v := newVerifier(t, iss, clk, func(c *apiguard.Config) { c.DisableCache = true })
	claims := iss.Claims(clk.Now())
	removed, kept := iss.Sign(t, "rs256", testissuer.With(claims), nil), iss.Sign(t, "es256", testissuer.With(claims), nil)
	if err := verifyErr(t, v, removed); err != nil {
		t.Fatal(err)
	}
	iss.Publish("es256")
	clk.Advance(6 * time.Minute) // past max-age=300: the next use refreshes in the background
	pollUntil(t, "the refresh removing rs256", func() bool { return errors.Is(verifyErr(t, v, removed), apiguard.ErrUnknownKey) })
	if got := iss.JWKSFetches(); got != 2 {
		t.Fatalf("got %d JWKS fetches, want 2 (start-up and the refresh)", got)
	}
	clk.Advance(30 * time.Second)
	for range 5 {
		if err := verifyErr(t, v, removed); !errors.Is(err, apiguard.ErrUnknownKey) {
			t.Fatalf("token of the removed key: got %v, want unknown key", err)
		}
	}
	if err := verifyErr(t, v, kept); err != nil {
		t.Errorf("token of the kept key: %v", err)
	}
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("got %d JWKS fetches, want 2: the removed kid needs none", got)
	}
}
