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
