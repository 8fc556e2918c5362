package devissuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
)

func (f *fixture) keySet(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	_, body := get(t, http.DefaultClient, f.endpoint("keys"))
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatal(err)
	}
	return set
}

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

func (f *fixture) ccToken(t *testing.T) string {
	t.Helper()
	tok, err := (&clientcredentials.Config{ClientID: appID, ClientSecret: appSecret, TokenURL: f.endpoint("token")}).Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	return tok.AccessToken
}

// verifyWith checks token's signature against the key of its kid in set,
// as a verifier with a cached key set would.
func verifyWith(set jose.JSONWebKeySet, token string) error {
	_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		keys := set.Key(kid)
		if len(keys) != 1 {
			return nil, jwt.ErrTokenUnverifiable
		}
		return keys[0].Key, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	return err
}

// TestRotationPublishesAheadAndKeepsGrace checks the key life cycle: the
// next key is published before it signs, the old key stays for the grace
// period and then goes, and tokens it signed stop verifying.
func TestRotationPublishesAheadAndKeepsGrace(t *testing.T) {
	f := newFixture(t, func(c *devissuer.Config) { c.KeyGrace = 10 * time.Minute })
	before := f.keySet(t)
	active0, next0 := f.iss.KeyIDs()
	if got := kids(before); len(got) != 2 || got[0] != active0 || got[1] != next0 {
		t.Fatalf("got kids %v, want [active next] = [%s %s]", got, active0, next0)
	}
	oldToken := f.ccToken(t)

	if err := f.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	active1, next1 := f.iss.KeyIDs()
	if active1 != next0 || next1 == next0 || next1 == active0 {
		t.Fatalf("after rotation got active %s next %s, want active %s and a fresh next", active1, next1, next0)
	}
	newToken := f.ccToken(t)
	if kid := header(t, newToken)["kid"]; kid != active1 {
		t.Errorf("new token signed by %v, want %s", kid, active1)
	}
	// A cache filled before the rotation verifies tokens signed after it.
	if err := verifyWith(before, newToken); err != nil {
		t.Errorf("key set fetched before rotation refused a token signed after it: %v", err)
	}
	during := f.keySet(t)
	if got := kids(during); len(got) != 3 || got[0] != active1 || got[1] != next1 || got[2] != active0 {
		t.Errorf("got kids %v, want [%s %s %s]", got, active1, next1, active0)
	}
	if err := verifyWith(during, oldToken); err != nil {
		t.Errorf("within the grace period, the old token is refused: %v", err)
	}
	if !f.introspect(t, oldToken) {
		t.Error("within the grace period, introspection says the old token is inactive")
	}

	f.clock.Advance(10 * time.Minute)
	after := f.keySet(t)
	if got := kids(after); len(got) != 2 || got[0] != active1 || got[1] != next1 {
		t.Errorf("after the grace period got kids %v, want [%s %s]", got, active1, next1)
	}
	if err := verifyWith(after, oldToken); err == nil {
		t.Error("after the grace period, the old key still verifies")
	}
	if f.introspect(t, oldToken) {
		t.Error("after the grace period, introspection says a token of a removed key is active")
	}
}

// TestRotationSeenByVerifierWithoutRefusal verifies tokens with go-oidc's
// remote key set while the issuer rotates: no request is refused, and a
// single rotation needs no new key fetch because the key was published ahead.
func TestRotationSeenByVerifierWithoutRefusal(t *testing.T) {
	f := newFixture(t, nil)
	keySet := oidc.NewRemoteKeySet(context.Background(), f.endpoint("keys"))
	verifier := oidc.NewVerifier(f.issuerURL, keySet, &oidc.Config{ClientID: devissuer.DefaultAudience, Now: f.clock.Now})

	if _, err := verifier.Verify(ctx(t), f.ccToken(t)); err != nil {
		t.Fatalf("first token: %v", err)
	}
	fetches := f.keyFetch.Load()
	if err := f.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.Verify(ctx(t), f.ccToken(t)); err != nil {
		t.Fatalf("token after rotation: %v", err)
	}
	if got := f.keyFetch.Load(); got != fetches {
		t.Errorf("got %d key fetches after one rotation, want %d (next key published ahead)", got, fetches)
	}

	// Many clients keep calling while keys rotate several times, and for a
	// while after the last rotation.
	rotated := make(chan struct{})
	go func() {
		defer close(rotated)
		for range 5 {
			if err := f.iss.Rotate(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			cc := &clientcredentials.Config{ClientID: appID, ClientSecret: appSecret, TokenURL: f.endpoint("token")}
			after := 0
			for after < 10 {
				select {
				case <-rotated:
					after++
				default:
				}
				tok, err := cc.Token(context.Background())
				if err == nil {
					_, err = verifier.Verify(context.Background(), tok.AccessToken)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request was refused during rotation: %v", err)
	}
	if active, _ := f.iss.KeyIDs(); header(t, f.ccToken(t))["kid"] != active {
		t.Error("tokens are not signed by the latest key")
	}
}

func TestRunRotatesAndCapsMaxAge(t *testing.T) {
	f := newFixture(t, func(c *devissuer.Config) { c.RotateEvery = 20 * time.Millisecond })
	resp, _ := get(t, http.DefaultClient, f.endpoint("keys"))
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "max-age=0") {
		t.Errorf("got Cache-Control %q, want max-age=0 (half of 20ms)", cc)
	}
	first, _ := f.iss.KeyIDs()
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.iss.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if now, _ := f.iss.KeyIDs(); now != first {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not rotate the key within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}

	g := newFixture(t, func(c *devissuer.Config) { c.RotateEvery = time.Minute })
	resp, _ = get(t, http.DefaultClient, g.endpoint("keys"))
	if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "max-age=30,") {
		t.Errorf("got Cache-Control %q, want max-age=30 (half of 1m)", cc)
	}
}

// TestRotationSeenByAPIGuardVerifier runs hourly rotations on a fake clock
// against apiguard's own verifier: every token verifies, and the verifier
// never needs a fetch forced by an unknown kid, because each new signing key
// was in the set it had already refreshed by age.
func TestRotationSeenByAPIGuardVerifier(t *testing.T) {
	f := newFixture(t, func(c *devissuer.Config) { c.RotateEvery = time.Hour })
	var mu sync.Mutex
	var events []apiguard.FetchEvent
	fetches := func() (all, forced int) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range events {
			if e.Err != nil {
				t.Errorf("key fetch failed: %v", e.Err)
			}
			if e.Forced {
				forced++
			}
		}
		return len(events), forced
	}
	v, err := apiguard.New(apiguard.Config{
		Issuer: f.issuerURL,
		Now:    f.clock.Now,
		OnFetch: func(e apiguard.FetchEvent) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		},
		DisableCache: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	verify := func(when string) {
		t.Helper()
		if _, err := v.Verify(ctx(t), f.ccToken(t)); err != nil {
			t.Fatalf("%s: token refused: %v", when, err)
		}
	}
	verify("start")
	for i := range 6 {
		// An hour on: the key set is due, and a request starts its refresh.
		f.clock.Advance(time.Hour)
		before, _ := fetches()
		verify("before rotation")
		deadline := time.Now().Add(10 * time.Second)
		for n, _ := fetches(); n == before; n, _ = fetches() {
			if time.Now().After(deadline) {
				t.Fatalf("rotation %d: the verifier did not refresh its due key set within 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		if err := f.iss.Rotate(); err != nil {
			t.Fatal(err)
		}
		verify("after rotation")
	}
	if _, forced := fetches(); forced != 0 {
		t.Errorf("got %d fetches forced by an unknown kid, want 0: the next key was not published ahead", forced)
	}
}
