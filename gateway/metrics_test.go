package gateway_test

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
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

// TestMetricsStatusFromUpstreamIsBounded: an upstream may answer any code
// from 100 to 999; the status label is the code when net/http knows it, else
// its class, else "other", so an upstream cannot add series at will.
func TestMetricsStatusFromUpstreamIsBounded(t *testing.T) {
	ti := newTestIssuer(t)
	up := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/public/"))
		if err != nil {
			code = http.StatusTeapot
		}
		w.WriteHeader(code)
	}))
	f := newFixture(t, ti, "upstream: {{up}}\nroutes:\n  - path: /public/*\n    public: true\n", map[string]string{"up": up.URL})
	tests := []struct {
		code int
		want string
	}{
		{200, "200"},
		{418, "418"},
		{299, "2xx"},
		{477, "4xx"},
		{599, "5xx"},
		{799, "other"},
		{999, "other"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			resp := f.do(t, "GET", "/public/"+strconv.Itoa(tt.code), "", nil)
			if resp.StatusCode != tt.code {
				t.Fatalf("got status %d from the gateway, want the upstream's %d", resp.StatusCode, tt.code)
			}
		})
	}
	resp := f.do(t, "GET", "/metrics", "", nil)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	want := map[string]int{"200": 1, "418": 1, "2xx": 1, "4xx": 1, "5xx": 1, "other": 2}
	for status, n := range want {
		line := `apiguard_gateway_requests_total{handler="proxy",reason="",route="/public/*",status="` + status + `"} ` + strconv.Itoa(n) + "\n"
		if !strings.Contains(text, line) {
			t.Errorf("got metrics without %q", strings.TrimSpace(line))
		}
	}
	for _, raw := range []string{"299", "477", "599", "799", "999"} {
		if strings.Contains(text, `status="`+raw+`"`) {
			t.Errorf("got a series labelled with the unusual status %s, want it folded", raw)
		}
	}
}
