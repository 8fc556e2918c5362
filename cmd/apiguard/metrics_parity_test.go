package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/testissuer"
)

// verifierSeries returns the names of the verifier's sample lines
// (apiguard_jwks_*) on a /metrics page, sorted and without repeats.
func verifierSeries(t *testing.T, url string) []string {
	t.Helper()
	var names []string
	for _, s := range scrape(t, url) {
		if strings.HasPrefix(s.name, "apiguard_jwks_") {
			names = append(names, s.name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestGatewayHasServesVerifierMetrics: the gateway's verifier reports key
// fetches and the key count as serve's does, under the same names.
func TestGatewayHasServesVerifierMetrics(t *testing.T) {
	gwClearEnv(t)
	iss := testissuer.New(t)
	s := startServe(t, map[string]string{"OKTA_ISSUER": iss.URL, "APIGUARD_LOG_LEVEL": "warn"})
	path := writeGatewayConfig(t, "issuer: "+iss.URL+"\nroutes:\n  - path: /**\n")
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0", "--log-level", "warn")
	for _, base := range []string{s.url, "http://" + g.addr} {
		gwEventually(t, "readiness of "+base, func() bool {
			resp, _ := gwGet(t, base+"/readyz", "")
			return resp.StatusCode == 200
		})
	}
	serveNames := verifierSeries(t, s.url+"/metrics")
	gatewayNames := verifierSeries(t, "http://"+g.addr+"/metrics")
	for _, want := range []string{"apiguard_jwks_fetches_total", "apiguard_jwks_fetch_duration_seconds_count", "apiguard_jwks_keys"} {
		if !slices.Contains(serveNames, want) {
			t.Errorf("got serve's verifier series %q, want %s among them", serveNames, want)
		}
	}
	if !slices.Equal(gatewayNames, serveNames) {
		t.Errorf("got gateway verifier series %q, want serve's %q", gatewayNames, serveNames)
	}
}
