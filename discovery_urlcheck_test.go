package apiguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/fakeclock"
	"github.com/apiguard/apiguard/internal/testissuer"
	"github.com/apiguard/apiguard/internal/urlcheck"
	"github.com/apiguard/apiguard/introspect"
)

// TestDiscoveredEndpointsChecked serves, from an issuer on 127.0.0.1, a
// discovery document whose jwks_uri and introspection_endpoint are plain
// http on hosts that are, or only look, loopback. Only a loopback endpoint
// may be used; the others are refused before anything is fetched, and the
// token is answered "keys unavailable" (or "introspection endpoint
// unavailable"), never verified.
func TestDiscoveredEndpointsChecked(t *testing.T) {
	keys := testissuer.New(t) // serves the JWK set at /keys
	tests := []struct {
		name string
		host string // the endpoints' host; "" for the issuer's own
		ok   bool
	}{
		{"issuer's own host", "", true},
		{"localhost", "localhost", true},
		{"127.example.com", "127.example.com", false},
		{"127.0.0.1.nip.io", "127.0.0.1.nip.io", false},
		{"localhost.evil.com", "localhost.evil.com", false},
		{"127.1", "127.1", false},
		{"0x7f.1", "0x7f.1", false},
		{"2130706433", "2130706433", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var issuer string
			var introspections atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if r.URL.Path == "/introspect" {
					introspections.Add(1)
					_ = json.NewEncoder(w).Encode(map[string]any{"active": false})
					return
				}
				base := strings.Replace(issuer, "127.0.0.1", tt.host, 1)
				keysURL := strings.Replace(keys.URL, "127.0.0.1", tt.host, 1)
				if tt.host == "" {
					base, keysURL = issuer, keys.URL
				}
				_ = json.NewEncoder(w).Encode(map[string]any{
					"issuer":                 issuer,
					"jwks_uri":               keysURL + "/keys",
					"introspection_endpoint": base + "/introspect",
				})
			}))
			defer srv.Close()
			issuer = srv.URL
			clk := fakeclock.New(epoch)
			before := keys.JWKSFetches()

			v, err := apiguard.New(apiguard.Config{Issuer: issuer, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			tok := testissuer.SignWith(t, "ES256", keys.Key("es256").Private, "es256", testissuer.With(keys.Claims(clk.Now()), "iss", issuer), nil)
			_, err = v.Verify(context.Background(), tok)
			if tt.ok && err != nil {
				t.Errorf("Verify: got %v, want the token accepted", err)
			}
			if !tt.ok {
				if !errors.Is(err, apiguard.ErrKeysUnavailable) || !errors.Is(err, urlcheck.ErrPlainHTTP) {
					t.Errorf("Verify: got %v, want keys unavailable because of urlcheck.ErrPlainHTTP", err)
				}
				if got := keys.JWKSFetches() - before; got != 0 {
					t.Errorf("got %d JWKS fetches, want 0", got)
				}
			}

			av, err := apiguard.New(apiguard.Config{Issuer: issuer, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			iv, err := introspect.New(av, introspect.Config{ClientID: "rs", ClientSecret: "secret"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = iv.Verify(context.Background(), "opaque-token")
			if tt.ok && !errors.Is(err, apiguard.ErrInvalidToken) {
				t.Errorf("introspection: got %v, want the inactive token refused", err)
			}
			if !tt.ok && (!errors.Is(err, apiguard.ErrUnavailable) || !errors.Is(err, urlcheck.ErrPlainHTTP) || introspections.Load() != 0) {
				t.Errorf("introspection: got %v after %d calls, want unavailable because of urlcheck.ErrPlainHTTP and no call", err, introspections.Load())
			}
		})
	}
}

// TestRemoteIssuerCannotSendToPlainHTTP serves the discovery document of an
// https issuer on a host that is not loopback (example.com, reached at a
// local TLS server) naming a jwks_uri on plain http at 127.0.0.1, where a
// real key set is served: it must not be fetched, though the host is
// loopback, because the issuer is not.
func TestRemoteIssuerCannotSendToPlainHTTP(t *testing.T) {
	const issuer = "https://example.com/oauth2/default"
	keys := testissuer.New(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "jwks_uri": keys.URL + "/keys"})
	}))
	defer srv.Close()
	client := srv.Client() // trusts the test certificate, valid for example.com
	tr := client.Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == "example.com:443" {
			addr = srv.Listener.Addr().String()
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	client.Transport = tr
	clk := fakeclock.New(epoch)
	v, err := apiguard.New(apiguard.Config{Issuer: issuer, HTTPClient: client, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok := testissuer.SignWith(t, "ES256", keys.Key("es256").Private, "es256", testissuer.With(keys.Claims(clk.Now()), "iss", issuer), nil)
	_, err = v.Verify(context.Background(), tok)
	if !errors.Is(err, apiguard.ErrKeysUnavailable) || !errors.Is(err, urlcheck.ErrPlainHTTP) {
		t.Errorf("Verify: got %v, want keys unavailable because of urlcheck.ErrPlainHTTP", err)
	}
	if got := keys.JWKSFetches(); got != 0 {
		t.Errorf("got %d fetches of the http jwks_uri, want 0", got)
	}
}
