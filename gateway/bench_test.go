package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkProxy compares requests sent straight to an upstream with the
// same requests through the gateway, public and with a verified token, in
// one run: `go test -bench Proxy ./gateway`.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(up.Close)
	ti := newTestIssuer(b)
	rules, opts := parseConfig(b, "upstream: "+up.URL+"\nroutes:\n  - path: /public/**\n    public: true\n  - path: /orders/**\n    scopes: [orders:read]\n")
	gw := newGateway(b, ti.URL, rules, opts, io.Discard)
	srv := httptest.NewServer(gw)
	b.Cleanup(srv.Close)
	token := ti.token(b, map[string]any{"scp": []string{"orders:read"}})

	run := func(b *testing.B, url, token string) {
		client := srv.Client()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			req, _ := http.NewRequest("GET", url, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("got status %d, want 200", resp.StatusCode)
			}
		}
	}
	b.Run("direct", func(b *testing.B) { run(b, up.URL+"/orders/1", "") })
	b.Run("gateway-public", func(b *testing.B) { run(b, srv.URL+"/public/1", "") })
	b.Run("gateway-token", func(b *testing.B) { run(b, srv.URL+"/orders/1", token) })
}

// discardWriter is a ResponseWriter that keeps nothing but a header map,
// cleared between requests, so BenchmarkHandler counts the gateway's own
// work and allocations without a client or a server.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkHandler calls the gateway's handlers in process: a proxied
// request with a verified token (the upstream is a real server) and an
// nginx /auth decision: `go test -bench Handler -benchmem ./gateway`.
func BenchmarkHandler(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(up.Close)
	ti := newTestIssuer(b)
	rules, opts := parseConfig(b, "upstream: "+up.URL+"\nroutes:\n  - path: /orders/**\n    scopes: [orders:read]\n")
	gw := newGateway(b, ti.URL, rules, opts, io.Discard)
	token := ti.token(b, map[string]any{"scp": []string{"orders:read"}, "groups": []string{"a", "b"}})

	run := func(b *testing.B, req *http.Request) {
		w := &discardWriter{h: http.Header{}}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.h)
			w.status = 0
			gw.ServeHTTP(w, req)
			if w.status != 200 {
				b.Fatalf("got status %d, want 200", w.status)
			}
		}
	}
	b.Run("proxy", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/orders/1?x=1", nil)
		req.Body = http.NoBody
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Accept", "*/*")
		req.Header.Set("User-Agent", "wrk")
		run(b, req)
	})
	b.Run("auth", func(b *testing.B) {
		req := httptest.NewRequest("GET", "/auth", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Original-Method", "GET")
		req.Header.Set("X-Original-URI", "/orders/1?x=1")
		req.Header.Set("Accept", "*/*")
		req.Header.Set("User-Agent", "wrk")
		run(b, req)
	})
}
