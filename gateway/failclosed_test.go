package gateway_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// failClosedConfig has strong rules in front of weaker ones (issue 12).
const failClosedConfig = `
upstream: {{up}}
routes:
  - path: /admin/**
    scopes: [admin]
  - path: /reports/*/refund
    scopes: [refund]
  - path: /reports/**
    scopes: [read]
  - path: /orders/**
    methods: [POST, PUT, DELETE]
    scopes: [write]
  - path: /orders/**
    methods: [GET]
    scopes: [read]
  - path: /public/**
    public: true
  - path: /legacy/**
    public: true
    method_override: true
  - path: /**
`

// TestMethodCaseProxied: "post" used to skip the POST rule and pass the
// any-token rule; now it is decided and sent upstream as POST.
func TestMethodCaseProxied(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, failClosedConfig, map[string]string{"up": up.URL})
	weak := ti.token(t, map[string]any{"scp": []string{"read"}})
	writer := ti.token(t, map[string]any{"scp": []string{"write"}})
	tests := []struct {
		method, token string
		want          int
		upstream      string // the method the upstream must see on 200
	}{
		{"post", weak, 403, ""},
		{"Delete", weak, 403, ""},
		{"post", writer, 200, "POST"},
		{"pUT", writer, 200, "PUT"},
		{"get", weak, 200, "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			resp := f.do(t, tt.method, "/orders/1", tt.token, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s /orders/1: got status %d, want %d", tt.method, resp.StatusCode, tt.want)
			}
			if tt.upstream == "" {
				return
			}
			var got echo
			decode(t, resp, &got)
			if got.Method != tt.upstream {
				t.Errorf("upstream got method %q, want %q", got.Method, tt.upstream)
			}
		})
	}
}

// TestAmbiguousPathsProxied: the spellings of issue 12 finding 3 used to
// reach the upstream through the weak rule with a weak token.
func TestAmbiguousPathsProxied(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, failClosedConfig, map[string]string{"up": up.URL})
	weak := ti.token(t, map[string]any{"scp": []string{"read"}})
	tests := []struct {
		path string
		want int
	}{
		{"/ADMIN/users", 400},
		{"/Admin/users", 400},
		{"/admin;jsessionid=1/users", 400},
		{"/reports/1/refund/", 400}, // express: refund; Go's ServeMux and Flask: reports
		{"/reports/1/refund", 403},  // the refund rule
		{"/reports/1/refund;x", 400},
		{"/reports/1/REFUND", 400},
		{"/%61dmin/users", 400},
		{"/a%2Fb", 400},
		{"/reports/1", 200},
		{"/reports/1/", 200},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := f.do(t, "GET", tt.path, weak, nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET %s: got status %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
			if tt.want == 400 {
				if code := errorCode(t, resp); code != "invalid_request" {
					t.Errorf("got error %q, want invalid_request", code)
				}
			}
		})
	}
}

// TestOverrideHeadersStripped: method- and URL-override headers used to reach
// the upstream on a GET that was checked as a GET.
func TestOverrideHeadersStripped(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, failClosedConfig, map[string]string{"up": up.URL})
	override := http.Header{
		"X-Http-Method-Override": {"DELETE"},
		"X-Method-Override":      {"DELETE"},
		"X-Http-Method":          {"DELETE"},
		"X_http_method_override": {"DELETE"}, // CGI-style upstreams read it as the above
		"X-Original-Url":         {"/admin/users"},
		"X-Rewrite-Url":          {"/admin/users"},
		"X-Override-Url":         {"/admin/users"},
		"X-Envoy-Original-Path":  {"/admin/users"},
		"X-Request-Id":           {"keep-me"},
	}
	methodHeaders := []string{"X-Http-Method-Override", "X-Method-Override", "X-Http-Method", "X_http_method_override"}
	urlHeaders := []string{"X-Original-Url", "X-Rewrite-Url", "X-Override-Url", "X-Envoy-Original-Path"}

	get := func(t *testing.T, path string) echo {
		t.Helper()
		resp := f.do(t, "GET", path, "", override)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
		}
		var got echo
		decode(t, resp, &got)
		if got.Header.Get("X-Request-Id") != "keep-me" {
			t.Errorf("upstream got X-Request-Id %q, want other headers kept", got.Header.Get("X-Request-Id"))
		}
		return got
	}
	t.Run("stripped by default", func(t *testing.T) {
		got := get(t, "/public/x")
		for _, k := range append(methodHeaders, urlHeaders...) {
			if v, ok := got.Header[k]; ok {
				t.Errorf("upstream got %s %q, want it removed", k, v)
			}
		}
	})
	t.Run("method_override keeps the method headers only", func(t *testing.T) {
		got := get(t, "/legacy/x")
		for _, k := range methodHeaders {
			if v := got.Header[k]; len(v) != 1 || v[0] != "DELETE" {
				t.Errorf("upstream got %s %q, want DELETE kept with method_override", k, v)
			}
		}
		for _, k := range urlHeaders {
			if v, ok := got.Header[k]; ok {
				t.Errorf("upstream got %s %q, want it removed even with method_override", k, v)
			}
		}
	})
}

// TestMethodParamRefused: a _method query parameter asks method-override
// middlewares to run another method than the one checked.
func TestMethodParamRefused(t *testing.T) {
	ti := newTestIssuer(t)
	up := newEcho(t, "up")
	f := newFixture(t, ti, failClosedConfig, map[string]string{"up": up.URL})
	tests := []struct {
		path string
		want int
	}{
		{"/public/x?_method=DELETE", 400},
		{"/public/x?a=1&_METHOD=DELETE", 400},
		{"/public/x?%5Fmethod=DELETE", 400},
		{"/public/x?a=1;_method=DELETE", 400},
		{"/public/x?_method[]=DELETE", 400},
		{"/public/x?method=x&x_method=y", 200},
		{"/legacy/x?_method=DELETE", 200}, // method_override
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if resp := f.do(t, "GET", tt.path, "", nil); resp.StatusCode != tt.want {
				t.Errorf("GET %s: got status %d, want %d", tt.path, resp.StatusCode, tt.want)
			}
		})
	}
}

// TestUpgradeRefused: an upstream answering 101 to "Upgrade: h2c" used to
// get a tunnel through a public route; only websocket may upgrade now.
func TestUpgradeRefused(t *testing.T) {
	ti := newTestIssuer(t)
	// An upstream that switches to whatever protocol is asked for, as a
	// non-Go h2c server would.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto := r.Header.Get("Upgrade")
		if proto == "" {
			w.WriteHeader(http.StatusOK)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + proto + "\r\n\r\ntunnel open\n")
		_ = brw.Flush()
	}))
	t.Cleanup(up.Close)
	f := newFixture(t, ti, failClosedConfig, map[string]string{"up": up.URL})
	addr := strings.TrimPrefix(f.srv.URL, "http://")

	tests := []struct {
		upgrade string
		want    int
	}{
		{"h2c", 400},
		{"H2C", 400},
		{"websocket, h2c", 400},
		{"tls/1.2", 400},
		{"websocket", 101},
		{"WebSocket", 101},
	}
	for _, tt := range tests {
		t.Run(tt.upgrade, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer conn.Close()
			_, err = conn.Write([]byte("GET /public/x HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: " + tt.upgrade + "\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"))
			if err != nil {
				t.Fatalf("write: %v", err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("Upgrade: %s: got status %d, want %d", tt.upgrade, resp.StatusCode, tt.want)
			}
		})
	}
}
