package login_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/urlcheck"
	"github.com/apiguard/apiguard/login"
)

// TestIssuerThatOnlyLooksLoopback checks that login.New takes plain http
// only for an issuer that is loopback for certain: a name that starts with
// "127." is a DNS name anyone can point anywhere.
func TestIssuerThatOnlyLooksLoopback(t *testing.T) {
	tests := []struct {
		issuer string
		ok     bool
	}{
		{"http://127.0.0.1:9000/oauth2/default", true},
		{"http://[::1]:9000", true},
		{"http://LOCALHOST:9000", true},
		{"http://127.example.com/oauth2/default", false},
		{"http://127.0.0.1.nip.io", false},
		{"http://localhost.evil.com", false},
		{"http://127.1", false},
		{"http://2130706433", false},
	}
	for _, tt := range tests {
		t.Run(tt.issuer, func(t *testing.T) {
			_, err := login.New(login.Config{Issuer: tt.issuer, ClientID: clientID, PublicURL: "http://127.0.0.1:5000"})
			if tt.ok && err != nil {
				t.Errorf("login.New: got %v, want no error", err)
			}
			if !tt.ok && !errors.Is(err, urlcheck.ErrPlainHTTP) {
				t.Errorf("login.New: got %v, want an error wrapping urlcheck.ErrPlainHTTP", err)
			}
		})
	}
}

// TestDiscoveredEndpointsOnLoopbackIssuer serves, from an issuer on
// 127.0.0.1, discovery documents whose endpoints use plain http on hosts
// that are, or only look, loopback: only the loopback ones may be used.
func TestDiscoveredEndpointsOnLoopbackIssuer(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"http://127.0.0.1:1/authorize", true},
		{"http://localhost:1/authorize", true},
		{"http://127.example.com/authorize", false},
		{"http://127.0.0.1.nip.io/authorize", false},
		{"http://localhost.evil.com/authorize", false},
		{"http://0x7f.1/authorize", false},
	}
	for _, tt := range tests {
		for _, field := range []string{"authorization_endpoint", "token_endpoint", "end_session_endpoint", "revocation_endpoint"} {
			t.Run(field+" "+tt.endpoint, func(t *testing.T) {
				var issuer string
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					doc := map[string]any{
						"issuer":                 issuer,
						"authorization_endpoint": "http://127.0.0.1:1/authorize",
						"token_endpoint":         "http://127.0.0.1:1/token",
						"jwks_uri":               issuer + "/keys",
					}
					doc[field] = tt.endpoint
					w.Header().Set("Content-Type", "application/json")
					_ = json.NewEncoder(w).Encode(doc)
				}))
				defer srv.Close()
				issuer = srv.URL
				rec := firstLogin(t, login.Config{Issuer: issuer, ClientID: clientID, PublicURL: "http://127.0.0.1:5000"})
				loc, _, _ := strings.Cut(rec.Header().Get("Location"), "?")
				if tt.ok && rec.Code != http.StatusFound {
					t.Errorf("GET /login: got %d (%s), want 302", rec.Code, title(rec.Body.String()))
				}
				if !tt.ok && (rec.Code != http.StatusBadGateway || loc != "") {
					t.Errorf("GET /login: got %d Location %q, want 502 and no redirect", rec.Code, loc)
				}
			})
		}
	}
}
