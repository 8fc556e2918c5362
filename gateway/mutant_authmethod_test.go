package gateway_test

import (
	"net/http"
	"testing"
)

// TestAuthMethodSpelling: /auth decides a request only under the method's
// canonical spelling. "post" from the proxy is refused, never decided as
// POST (the API behind may route "post" elsewhere), even for a token the
// POST rule would let through; with the wrong scope it is refused all the
// same. (Kills the lived mutant err != nil at auth.go's errMethodSpelling
// check; see MUTATION.md. Holds R-GW-4.)
func TestAuthMethodSpelling(t *testing.T) {
	ti := newTestIssuer(t)
	writer := ti.token(t, map[string]any{"scp": []string{"orders:write"}})
	reader := ti.token(t, map[string]any{"scp": []string{"orders:read"}})
	for _, proxy := range []string{"nginx", "traefik", "caddy"} {
		t.Run(proxy, func(t *testing.T) {
			f := newFixture(t, ti, "auth_proxy: "+proxy+"\n"+authConfig, nil)
			method, uri := "X-Original-Method", "X-Original-Uri"
			if proxy != "nginx" {
				method, uri = "X-Forwarded-Method", "X-Forwarded-Uri"
			}
			for _, tt := range []struct {
				method, token string
				want          int
			}{
				{"POST", writer, http.StatusOK},
				{"post", writer, http.StatusBadRequest},
				{"Post", writer, http.StatusBadRequest},
				{"post", reader, http.StatusBadRequest},
				{"get", reader, http.StatusBadRequest},
			} {
				r := decide(t, f, tt.token, http.Header{method: {tt.method}, uri: {"/orders/1"}})
				if r.status != tt.want {
					t.Errorf("%s %s /orders/1: got %d %s, want %d", proxy, tt.method, r.status, r.raw, tt.want)
				}
			}
		})
	}
}
