package gateway_test

import (
	"io"
	"regexp"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, rulesConfig, map[string]string{"up1": up.URL, "up2": up.URL})

	f.do(t, "GET", "/public/a", "", nil)
	f.do(t, "GET", "/public/b", "", nil)
	f.do(t, "GET", "/orders/1", "", nil)
	f.do(t, "GET", "/orders/1", ti.token(t, nil), nil)
	f.do(t, "GET", "/orders/7/items", ti.token(t, map[string]any{"scp": []string{"items:read"}}), nil)
	f.do(t, "GET", "/nowhere", "", nil)
	f.do(t, "GET", "/auth", "", map[string][]string{"X-Original-Method": {"GET"}, "X-Original-Uri": {"/orders/1"}})

	resp := f.do(t, "GET", "/metrics", "", nil)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{
		`apiguard_gateway_requests_total{handler="proxy",reason="",route="/public/**",status="200"} 2`,
		`apiguard_gateway_requests_total{handler="proxy",reason="no_token",route="GET /orders/**",status="401"} 1`,
		`apiguard_gateway_requests_total{handler="proxy",reason="forbidden",route="GET /orders/**",status="403"} 1`,
		`apiguard_gateway_requests_total{handler="proxy",reason="",route="items",status="200"} 1`,
		`apiguard_gateway_requests_total{handler="proxy",reason="no_route",route="",status="404"} 1`,
		`apiguard_gateway_requests_total{handler="auth",reason="no_token",route="GET /orders/**",status="401"} 1`,
		`apiguard_gateway_upstream_duration_seconds_count{route="/public/**"} 2`,
		`apiguard_gateway_upstream_duration_seconds_count{route="items"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if regexp.MustCompile(`apiguard_gateway_upstream_duration_seconds_count\{route="GET /orders/\*\*"\}`).MatchString(text) {
		t.Error("refused requests were timed as upstream calls")
	}
	if !strings.Contains(text, "go_goroutines") {
		t.Error("metrics lack the Go collector")
	}
}
