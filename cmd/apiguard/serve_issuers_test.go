package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/internal/testwait"
)

// TestServeIssuers runs `apiguard serve` with OKTA_ISSUER (a development
// issuer, "default") and OKTA_ISSUERS naming a second development issuer
// ("partners") and a third issuer that is down at start-up ("legacy").
func TestServeIssuers(t *testing.T) {
	staff, partners := gwDevIssuer(t), gwDevIssuer(t)
	legacy := testissuer.New(t)
	legacy.SetDown(true)
	stranger := testissuer.New(t) // configured nowhere
	s := startServe(t, map[string]string{
		"OKTA_ISSUER":        staff,
		"OKTA_ISSUERS":       "partners=" + partners + "|api://default, legacy=" + legacy.URL,
		"APIGUARD_LOG_LEVEL": "warn",
	})
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

	// /readyz: 503 naming legacy by name only, and not the others.
	r := do(t, "GET", s.url+"/readyz", nil)
	notReady, _ := r.body["not_ready"].([]any)
	if r.status != 503 || r.body["status"] != "unavailable" || r.body["reason"] != "signing keys not loaded: legacy" ||
		len(notReady) != 1 || notReady[0] != "legacy" || r.header.Get("Retry-After") == "" {
		t.Errorf("readyz with legacy down: %d %s, want 503 naming legacy alone, with Retry-After", r.status, r.raw)
	}
	if strings.Contains(r.raw, legacy.URL) || strings.Contains(r.raw, "127.0.0.1") {
		t.Errorf("readyz shows an issuer URL: %s", r.raw)
	}

	// Tokens of the configured issuers pass; legacy's get 503 (its keys
	// cannot be had), not a refusal.
	for _, tc := range []struct{ who, token string }{
		{"default", gwToken(t, staff, "orders:read")},
		{"partners", gwToken(t, partners, "orders:read")},
	} {
		if r := do(t, "GET", s.url+"/secure-data", bearer(tc.token)); r.status != 200 {
			t.Errorf("a %s token: %d %s, want 200", tc.who, r.status, r.raw)
		}
	}
	legacyTok := legacy.Sign(t, "rs256", legacy.Claims(time.Now()), nil)
	if r := do(t, "GET", s.url+"/secure-data", bearer(legacyTok)); r.status != 503 {
		t.Errorf("a legacy token with legacy down: %d %s, want 503", r.status, r.raw)
	}

	// A token of an issuer configured nowhere: 401, and no request to it.
	r = do(t, "GET", s.url+"/secure-data", bearer(stranger.Sign(t, "rs256", stranger.Claims(time.Now()), nil)))
	if r.status != 401 || !strings.Contains(r.header.Get("WWW-Authenticate"), "issuer not accepted") {
		t.Errorf("a stranger's token: %d %q, want 401 with issuer not accepted", r.status, r.header.Get("WWW-Authenticate"))
	}

	// RFC 9728 metadata lists every issuer, in order.
	r = do(t, "GET", s.url+"/.well-known/oauth-protected-resource", nil)
	var servers []string
	for _, v := range r.body["authorization_servers"].([]any) {
		servers = append(servers, v.(string))
	}
	if want := []string{staff, partners, legacy.URL}; !slices.Equal(servers, want) {
		t.Errorf("authorization_servers %q, want %q", servers, want)
	}

	// legacy comes up: ready, and its tokens pass.
	legacy.SetDown(false)
	testwait.For(t, "readiness once legacy is up", func() bool { return do(t, "GET", s.url+"/readyz", nil).status == 200 })
	testwait.For(t, "a legacy token once legacy is up", func() bool {
		return do(t, "GET", s.url+"/secure-data", bearer(legacyTok)).status == 200
	})

	// Metrics: the issuer label holds configured names only, every one
	// from the start, and 1,000 tokens of made-up issuers add no series
	// and reach no issuer.
	before := scrape(t, s.url+"/metrics")
	checkIssuerLabels(t, before, "default", "partners", "legacy")
	for _, name := range []string{"default", "partners", "legacy"} {
		want := fmt.Sprintf(`apiguard_jwks_last_success_timestamp_seconds{issuer=%q}`, name)
		if !slices.ContainsFunc(before, func(s sample) bool { return strings.HasPrefix(s.line, want) }) {
			t.Errorf("metrics lack %s", want)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		iss := fmt.Sprintf("https://%x.example/oauth2/%d", rnd.Uint64(), i)
		if i%2 == 0 {
			iss = stranger.URL + fmt.Sprint(i)
		}
		tok := stranger.Sign(t, "rs256", testissuer.With(stranger.Claims(time.Now()), "iss", iss), nil)
		if r := do(t, "GET", s.url+"/secure-data", bearer(tok)); r.status != 401 {
			t.Fatalf("a token of iss %q: %d, want 401", iss, r.status)
		}
	}
	after := scrape(t, s.url+"/metrics")
	checkIssuerLabels(t, after, "default", "partners", "legacy")
	if got, want := jwksSeries(after), jwksSeries(before); !slices.Equal(got, want) {
		t.Errorf("apiguard_jwks_* series after 1,000 made-up issuers:\n%q\nwant as before:\n%q", got, want)
	}
	if n := stranger.JWKSFetches() + stranger.DiscoveryFetches(); n != 0 {
		t.Errorf("the unconfigured issuer was asked for keys %d times, want 0", n)
	}
}

// checkIssuerLabels fails unless every issuer label is one of names and
// each of names labels apiguard_jwks_fetches_total and apiguard_jwks_keys.
func checkIssuerLabels(t *testing.T, samples []sample, names ...string) {
	t.Helper()
	seen := map[string]map[string]bool{}
	for _, s := range samples {
		v, ok := s.labels["issuer"]
		if !ok {
			continue
		}
		if !slices.Contains(names, v) {
			t.Errorf("got issuer label %q in %s, want one of %q", v, s.line, names)
		}
		if seen[s.name] == nil {
			seen[s.name] = map[string]bool{}
		}
		seen[s.name][v] = true
	}
	for _, metric := range []string{"apiguard_jwks_fetches_total", "apiguard_jwks_keys", "apiguard_jwks_fetch_duration_seconds_count"} {
		for _, n := range names {
			if !seen[metric][n] {
				t.Errorf("%s has no issuer=%q series", metric, n)
			}
		}
	}
}

// jwksSeries returns the apiguard_jwks_* series (name and labels, without
// values), sorted.
func jwksSeries(samples []sample) []string {
	var out []string
	for _, s := range samples {
		if strings.HasPrefix(s.name, "apiguard_jwks_") {
			out = append(out, s.line[:strings.LastIndexByte(s.line, ' ')])
		}
	}
	slices.Sort(out)
	return out
}

// TestServeIssuersSettingErrors: a bad OKTA_ISSUERS stops start-up with one
// line naming the setting.
func TestServeIssuersSettingErrors(t *testing.T) {
	const main = "https://dev-123.okta.com/oauth2/default"
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"no equals sign", "https://dev-123.okta.com/oauth2/aus1", []string{"is not name=issuer-url"}},
		{"bad name", "my issuer=https://dev-123.okta.com/oauth2/aus1", []string{`issuer name "my issuer"`, "letters, digits"}},
		{"empty name", "=https://dev-123.okta.com/oauth2/aus1", []string{`issuer name ""`}},
		{"default taken", "default=https://dev-123.okta.com/oauth2/aus1", []string{`"default" names the issuer setting`}},
		{"name twice", "p=https://dev-123.okta.com/oauth2/aus1,p=https://dev-123.okta.com/oauth2/aus2", []string{`"p" is used twice`}},
		{"OKTA_ISSUER's URL again", "p=" + main, []string{"issuer p", "also issuer default"}},
		{"URL twice", "p=https://dev-123.okta.com/oauth2/aus1,q=https://dev-123.okta.com/oauth2/aus1", []string{"issuer q", "also issuer p"}},
		{"not a URL", "p=dev-123.okta.com", []string{"issuer p", "must start with https://"}},
		{"http on a public host", "p=http://dev-123.okta.com/oauth2/aus1", []string{"issuer p", "http://dev-123.okta.com"}},
		{"credentials in the URL", "p=https://user:hunter2@dev-123.okta.com/oauth2/aus1", []string{"issuer p"}},
		{"query in the URL", "p=https://dev-123.okta.com/oauth2/aus1?x=1", []string{"issuer p"}},
		{"empty audience", "p=https://dev-123.okta.com/oauth2/aus1|", []string{"issuer p", "empty audience"}},
		{"placeholder", "p=https://{yourOktaDomain}/oauth2/aus1", []string{"placeholder {yourOktaDomain}"}},
		{"nothing", " , ", []string{"names no issuer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range []string{"OKTA_ISSUER", "OKTA_ISSUERS", "APIGUARD_ADDR", "OKTA_CLIENT_ID", "OKTA_CLIENT_SECRET"} {
				t.Setenv(k, "")
			}
			t.Setenv("OKTA_ISSUER", main)
			t.Setenv("OKTA_ISSUERS", tc.value)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
			out := strings.TrimSpace(stderr.String())
			if code != 2 {
				t.Errorf("exit code %d, want 2; stderr %q", code, out)
			}
			for _, w := range append([]string{"OKTA_ISSUERS (--issuers)"}, tc.want...) {
				if !strings.Contains(out, w) {
					t.Errorf("stderr %q does not mention %q", out, w)
				}
			}
			if strings.Contains(out, "\n") || strings.Contains(out, "hunter2") {
				t.Errorf("stderr is not one clear line without secrets: %q", out)
			}
		})
	}
}

// TestServeIssuersWithEmbeddedIssuer: without OKTA_ISSUER the embedded
// development issuer is "default", first, and OKTA_ISSUERS's come after.
func TestServeIssuersWithEmbeddedIssuer(t *testing.T) {
	partners := gwDevIssuer(t)
	s := startServe(t, map[string]string{"OKTA_ISSUERS": "partners=" + partners, "APIGUARD_LOG_LEVEL": "warn"})
	r := do(t, "GET", s.url+"/.well-known/oauth-protected-resource", nil)
	servers, _ := r.body["authorization_servers"].([]any)
	if len(servers) != 2 || servers[0] != s.url+"/oauth2/default" || servers[1] != partners {
		t.Errorf("authorization_servers %v, want the embedded issuer then %s", servers, partners)
	}
	if r := do(t, "GET", s.url+"/secure-data", map[string]string{"Authorization": "Bearer " + gwToken(t, partners, "orders:read")}); r.status != 200 {
		t.Errorf("a partners token: %d %s, want 200", r.status, r.raw)
	}
	testwait.For(t, "readiness of both issuers", func() bool { return do(t, "GET", s.url+"/readyz", nil).status == 200 })
}
