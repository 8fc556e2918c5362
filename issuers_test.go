package apiguard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/introspect"
)

// Holds R-ISS-1, R-ISS-2 and R-ISS-3 (SECURITY.md).

// threeIssuers starts issuers a and b and an issuer c that is down, and an
// Issuers over them (in that order) whose key fetches are counted.
// c's verifier runs on cClock, so a test can step past its retry backoff.
var cClock *fakeclock.Clock

func threeIssuers(t *testing.T) (a, b, c *testissuer.Issuer, m *apiguard.Issuers, fetches *atomic.Int64) {
	t.Helper()
	cClock = fakeclock.New(time.Now())
	a, b, c = testissuer.New(t), testissuer.New(t), testissuer.New(t)
	c.SetDown(true)
	fetches = new(atomic.Int64)
	count := func(apiguard.FetchEvent) { fetches.Add(1) }
	var err error
	m, err = apiguard.NewIssuers(
		apiguard.Issuer{Config: apiguard.Config{Name: "a", Issuer: a.URL, OnFetch: count}},
		apiguard.Issuer{Config: apiguard.Config{Name: "b", Issuer: b.URL, OnFetch: count, Audience: "api://b"}},
		apiguard.Issuer{Config: apiguard.Config{Name: "c", Issuer: c.URL, OnFetch: count, FetchTimeout: time.Second, Now: cClock.Now}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return a, b, c, m, fetches
}

func allFetches(issuers ...*testissuer.Issuer) int {
	n := 0
	for _, i := range issuers {
		n += i.JWKSFetches() + i.DiscoveryFetches()
	}
	return n
}

func TestIssuersSelectByIss(t *testing.T) {
	a, b, c, m, _ := threeIssuers(t)
	ctx := context.Background()
	now := time.Now()

	tokA := a.Sign(t, "es256", a.Claims(now), nil)
	tokB := b.Sign(t, "rs256", testissuer.With(b.Claims(now), "aud", "api://b"), nil)
	for _, tc := range []struct {
		token, name string
	}{{tokA, "a"}, {tokB, "b"}, {tokA, "a"}, {tokB, "b"}} { // twice: fresh, then cached
		cl, err := m.Verify(ctx, tc.token)
		if err != nil {
			t.Fatalf("token of %s: %v", tc.name, err)
		}
		if cl.IssuerName != tc.name {
			t.Errorf("IssuerName %q, want %q", cl.IssuerName, tc.name)
		}
	}
	// The issuers share one cache; an entry counts for its own issuer only.
	if _, err := m.Verifier("a").Verify(ctx, tokB); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("a's Verifier on b's cached token: %v, want ErrIssuer", err)
	}
	// Each issuer's own checks: b's audience is not a's.
	if _, err := m.Verify(ctx, b.Sign(t, "rs256", b.Claims(now), nil)); !errors.Is(err, apiguard.ErrAudience) {
		t.Errorf("b's token with a's audience: %v, want ErrAudience", err)
	}
	// The down issuer: its own tokens get ErrKeysUnavailable, the others pass.
	if _, err := m.Verify(ctx, c.Sign(t, "es256", c.Claims(now), nil)); !errors.Is(err, apiguard.ErrKeysUnavailable) || errors.Is(err, apiguard.ErrInvalidToken) {
		t.Errorf("c's token while c is down: %v, want ErrKeysUnavailable only", err)
	}
	if _, err := m.Verify(ctx, a.Sign(t, "es256", a.Claims(now), nil)); err != nil {
		t.Errorf("a's token while c is down: %v", err)
	}
	// Ready names the issuer that is not ready, and only it.
	err := m.Ready(ctx)
	if !errors.Is(err, apiguard.ErrKeysUnavailable) || !strings.Contains(err.Error(), "issuer c (") ||
		strings.Contains(err.Error(), "issuer a (") || strings.Contains(err.Error(), "issuer b (") {
		t.Errorf("Ready: %v, want an error naming c alone", err)
	}
	c.SetDown(false)
	cClock.Advance(2 * time.Second) // past the retry backoff
	if err := m.Ready(ctx); err != nil {
		t.Errorf("Ready once c is up: %v", err)
	}
	if cl, err := m.Verify(ctx, c.Sign(t, "es256", c.Claims(now), nil)); err != nil || cl.IssuerName != "c" {
		t.Errorf("c's token once c is up: %v, %v", cl, err)
	}
}

// A token naming issuer a in iss and a key only issuer b publishes is
// checked with a's keys alone: refused, and b is never asked.
func TestIssuersIssOfOneKidOfAnother(t *testing.T) {
	a, b, _, m, _ := threeIssuers(t)
	b.AddKey(&testissuer.Key{ID: "b-only", Alg: "ES256", JWKAlg: "ES256", Use: "sig", Private: testissuer.NewKey(t, "ES256")}, true)
	ctx := context.Background()
	now := time.Now()

	claims := a.Claims(now)
	forged := b.Sign(t, "b-only", claims, nil)
	if _, err := m.Verify(ctx, forged); !errors.Is(err, apiguard.ErrUnknownKey) {
		t.Errorf("iss of a, kid of b: %v, want ErrUnknownKey", err)
	}
	// A kid both publish, signed by b: a's key does not verify it.
	if _, err := m.Verify(ctx, b.Sign(t, "es256", claims, nil)); !errors.Is(err, apiguard.ErrSignature) {
		t.Errorf("iss of a, b's signature under a shared kid: %v, want ErrSignature", err)
	}
	if n := allFetches(b); n != 0 {
		t.Errorf("a's tokens caused %d requests to b", n)
	}
	// b's own token still passes, with b's keys.
	if _, err := m.Verify(ctx, b.Sign(t, "b-only", testissuer.With(b.Claims(now), "aud", "api://b"), nil)); err != nil {
		t.Errorf("b's token: %v", err)
	}
}

// An iss that is a configured one but for a trailing slash, letter case
// or spacing is no configured issuer: refused before any request.
func TestIssuersNearMissIss(t *testing.T) {
	a, b, c, m, fetches := threeIssuers(t)
	c.SetDown(false)
	now := time.Now()
	ctx := context.Background()
	upper := strings.Replace(a.URL, "http://", "HTTP://", 1)
	for _, iss := range []string{
		a.URL + "/", upper, strings.ToUpper(a.URL), a.URL + " ", " " + a.URL, a.URL + "/oauth2/default",
		strings.TrimSuffix(a.URL, "/"), a.URL + "\u200b", "",
	} {
		if iss == a.URL {
			continue
		}
		tok := a.Sign(t, "es256", testissuer.With(a.Claims(now), "iss", iss), nil)
		if _, err := m.Verify(ctx, tok); !errors.Is(err, apiguard.ErrUnknownIssuer) {
			t.Errorf("iss %q: %v, want ErrUnknownIssuer", iss, err)
		}
	}
	noIss := a.Claims(now)
	delete(noIss, "iss")
	if _, err := m.Verify(ctx, a.Sign(t, "es256", noIss, nil)); !errors.Is(err, apiguard.ErrUnknownIssuer) {
		t.Errorf("no iss: %v, want ErrUnknownIssuer", err)
	}
	// Two iss members, or one of the wrong type, are malformed: no parser
	// may pick an issuer another would not.
	for _, payload := range []string{
		fmt.Sprintf(`{"iss":%q,"iss":"https://evil.example","aud":"api://default","exp":%d}`, a.URL, now.Add(time.Hour).Unix()),
		fmt.Sprintf(`{"iss":["%s"],"aud":"api://default","exp":%d}`, a.URL, now.Add(time.Hour).Unix()),
		fmt.Sprintf(`{"x":"\"iss\":\"%s\"","aud":"api://default","exp":%d}`, a.URL, now.Add(time.Hour).Unix()),
	} {
		tok := a.SignRaw(t, "es256", []byte(`{"alg":"ES256","kid":"es256"}`), []byte(payload))
		_, err := m.Verify(ctx, tok)
		if !errors.Is(err, apiguard.ErrMalformed) && !errors.Is(err, apiguard.ErrUnknownIssuer) {
			t.Errorf("payload %s: %v, want ErrMalformed or ErrUnknownIssuer", payload, err)
		}
	}
	if n := allFetches(a, b, c) + int(fetches.Load()); n != 0 {
		t.Errorf("tokens of no configured issuer caused %d fetches", n)
	}
}

// A thousand tokens with made-up issuers cost no issuer a request, and a
// middleware's refusals carry one reason label for all of them.
func TestIssuersRandomIssFlood(t *testing.T) {
	a, b, c, m, fetches := threeIssuers(t)
	now := time.Now()
	reasons := map[string]int{}
	mw := &apiguard.Middleware{Verifier: m, OnRefuse: func(_ *http.Request, err error) { reasons[apiguard.Reason(err)]++ }}
	h := mw.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("a token of a made-up issuer passed") }))
	for i := range 1000 {
		iss := fmt.Sprintf("https://issuer-%d.example/oauth2/%x", i, now.UnixNano()+int64(i))
		tok := a.Sign(t, "es256", testissuer.With(a.Claims(now), "iss", iss), map[string]any{"kid": fmt.Sprintf("kid-%d", i)})
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token", error_description="issuer not accepted`) {
			t.Fatalf("token %d: %d %q", i, w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	if n := allFetches(a, b, c) + int(fetches.Load()); n != 0 {
		t.Errorf("1,000 tokens of made-up issuers caused %d fetches", n)
	}
	if len(reasons) != 1 || reasons["unknown_issuer"] != 1000 {
		t.Errorf("refusal reasons %v, want unknown_issuer ×1000 and nothing else", reasons)
	}
}

// A view of some issuers refuses the others' valid tokens before fetching
// their keys.
func TestIssuersOnly(t *testing.T) {
	a, b, _, m, _ := threeIssuers(t)
	ctx := context.Background()
	now := time.Now()
	onlyB, err := m.Only("b")
	if err != nil {
		t.Fatal(err)
	}
	if got := onlyB.Names(); len(got) != 1 || got[0] != "b" {
		t.Errorf("Names %v", got)
	}
	tokA := a.Sign(t, "es256", a.Claims(now), nil)
	_, err = onlyB.Verify(ctx, tokA)
	if !errors.Is(err, apiguard.ErrIssuer) || !strings.Contains(err.Error(), "issuer a is not accepted here") {
		t.Errorf("a's token on a view of b: %v", err)
	}
	if n := allFetches(a); n != 0 {
		t.Errorf("a's token refused by the view caused %d requests to a", n)
	}
	// Verified (and cached) by the whole set, still refused by the view.
	if _, err := m.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}
	if _, err := onlyB.Verify(ctx, tokA); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("a's cached token on a view of b: %v", err)
	}
	if _, err := onlyB.Verify(ctx, b.Sign(t, "es256", testissuer.With(b.Claims(now), "aud", "api://b"), nil)); err != nil {
		t.Errorf("b's token on a view of b: %v", err)
	}
	if err := onlyB.Ready(ctx); err != nil {
		t.Errorf("the view's Ready asks about c, which it does not accept: %v", err)
	}
	if _, err := m.Only("nobody"); err == nil || !strings.Contains(err.Error(), `"nobody"`) {
		t.Errorf("Only of an unknown name: %v", err)
	}
	// The policy form, for a verifier chosen once.
	cl, err := m.Verify(ctx, tokA)
	if err != nil {
		t.Fatal(err)
	}
	if err := apiguard.RequireIssuers("b")(cl); !errors.Is(err, apiguard.ErrIssuer) {
		t.Errorf("RequireIssuers(b) on a's claims: %v", err)
	}
	if err := apiguard.RequireIssuers("b", "a")(cl); err != nil {
		t.Errorf("RequireIssuers(b, a) on a's claims: %v", err)
	}
}

func TestNewIssuersErrors(t *testing.T) {
	cfg := func(name, iss string) apiguard.Issuer {
		return apiguard.Issuer{Config: apiguard.Config{Name: name, Issuer: iss}}
	}
	for _, tc := range []struct {
		issuers []apiguard.Issuer
		want    string
	}{
		{nil, "at least one issuer"},
		{[]apiguard.Issuer{cfg("", "https://a.example")}, "issuers[0]: Config.Name is required"},
		{[]apiguard.Issuer{cfg("a", "https://a.example"), cfg("a", "https://b.example")}, `issuers[1]: Config.Name "a" is used twice`},
		{[]apiguard.Issuer{cfg("a", "https://a.example"), cfg("b", "https://a.example")}, `issuers[1] (b): Config.Issuer "https://a.example" is configured twice`},
		{[]apiguard.Issuer{cfg("a b", "https://a.example")}, `Config.Name "a b"`},
		{[]apiguard.Issuer{cfg("a", "http://a.example")}, `issuers[0] (a): apiguard: Issuer`},
		{[]apiguard.Issuer{{Config: apiguard.Config{Name: "a", Issuer: "https://a.example"},
			Introspect: func(*apiguard.Verifier) (apiguard.TokenVerifier, error) { return nil, errors.New("no secret") }}}, "introspection: no secret"},
	} {
		_, err := apiguard.NewIssuers(tc.issuers...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.issuers, err, tc.want)
		}
	}
}

// answer is an introspecting verifier that gives a fixed answer for opaque
// tokens and counts the tokens it is asked about. Introspection itself is
// package introspect's and tested there (no issuer here hands out opaque
// access tokens); this is about which issuer is asked, in what order, and
// whose answer counts.
type answer struct {
	v     *apiguard.Verifier
	err   error
	asked atomic.Int64
}

func (a *answer) Ready(ctx context.Context) error { return a.v.Ready(ctx) }
func (a *answer) Verify(ctx context.Context, token string) (*apiguard.Claims, error) {
	if strings.Count(token, ".") == 2 {
		return a.v.Verify(ctx, token)
	}
	a.asked.Add(1)
	if a.err != nil {
		return nil, a.err
	}
	return a.v.CheckClaims([]byte(fmt.Sprintf(`{"iss":%q,"aud":"api://default","exp":%d,"sub":"opaque"}`, a.v.Issuer(), time.Now().Add(time.Hour).Unix())))
}

func TestIssuersOpaqueOrder(t *testing.T) {
	// introspect's own reason: Issuers knows it by its label only.
	inactive := apiguard.Refuse(introspect.ErrInactive, "the issuer says the token is not active")
	down := &apiguard.UnavailableError{Service: "introspection endpoint", Err: errors.New("connection refused")}
	build := func(t *testing.T, errs ...error) (*apiguard.Issuers, []*answer) {
		var list []apiguard.Issuer
		var answers []*answer
		for i, e := range errs {
			ans := &answer{err: e}
			answers = append(answers, ans)
			list = append(list, apiguard.Issuer{
				Config: apiguard.Config{Name: fmt.Sprint("i", i), Issuer: fmt.Sprintf("https://i%d.example", i)},
				Introspect: func(v *apiguard.Verifier) (apiguard.TokenVerifier, error) {
					ans.v = v
					return ans, nil
				},
			})
		}
		// A JWT-only issuer is never asked about opaque tokens.
		list = append(list, apiguard.Issuer{Config: apiguard.Config{Name: "jwt", Issuer: "https://jwt.example"}})
		m, err := apiguard.NewIssuers(list...)
		if err != nil {
			t.Fatal(err)
		}
		return m, answers
	}
	ctx := context.Background()
	const opaque = "opaque-token-value"

	m, ans := build(t, inactive, nil, nil)
	cl, err := m.Verify(ctx, opaque)
	if err != nil || cl.IssuerName != "i1" {
		t.Fatalf("first active answer: %v %v, want i1", cl, err)
	}
	if ans[0].asked.Load() != 1 || ans[1].asked.Load() != 1 || ans[2].asked.Load() != 0 {
		t.Errorf("asked %d %d %d, want 1 1 0 (in order, stopping at the first active)", ans[0].asked.Load(), ans[1].asked.Load(), ans[2].asked.Load())
	}

	// One down, the others inactive: unavailable, never inactive.
	m, _ = build(t, inactive, down, inactive)
	if _, err := m.Verify(ctx, opaque); !errors.Is(err, apiguard.ErrUnavailable) || errors.Is(err, apiguard.ErrInvalidToken) {
		t.Errorf("one down, others inactive: %v, want ErrUnavailable", err)
	}
	// One down, a later one active: the active answer counts.
	m, _ = build(t, down, nil)
	if cl, err := m.Verify(ctx, opaque); err != nil || cl.IssuerName != "i1" {
		t.Errorf("one down, the next active: %v %v", cl, err)
	}
	// Active at one issuer but refused there (wrong type): that issuer's
	// refusal ends the search, whatever the later ones are.
	m, ans = build(t, apiguard.Refuse(apiguard.ErrType, "not an access token"), down, nil)
	if _, err := m.Verify(ctx, opaque); !errors.Is(err, apiguard.ErrType) || ans[1].asked.Load()+ans[2].asked.Load() != 0 {
		t.Errorf("refused by the first: %v, later asked %d", err, ans[1].asked.Load()+ans[2].asked.Load())
	}
	// All inactive: refused.
	m, _ = build(t, inactive, inactive)
	if _, err := m.Verify(ctx, opaque); !errors.Is(err, apiguard.ErrInvalidToken) {
		t.Errorf("all inactive: %v", err)
	}
	// No introspecting issuer: an opaque token is malformed.
	m, err = apiguard.NewIssuers(apiguard.Issuer{Config: apiguard.Config{Name: "jwt", Issuer: "https://jwt.example"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(ctx, opaque); !errors.Is(err, apiguard.ErrMalformed) {
		t.Errorf("opaque token without introspection: %v", err)
	}
}
