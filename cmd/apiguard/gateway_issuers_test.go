package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestGatewayCommandIssuers runs `apiguard gateway` with the issuer setting
// and a second development issuer from the file's issuers mapping, with
// routes restricted to one or the other.
func TestGatewayCommandIssuers(t *testing.T) {
	gwClearEnv(t)
	staff, partners := gwDevIssuer(t), gwDevIssuer(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Issuer", r.Header.Get("X-Auth-Issuer"))
	}))
	t.Cleanup(up.Close)
	path := writeGatewayConfig(t, `
upstream: `+up.URL+`
issuers:
  partners:
    issuer: `+partners+`
    audience: api://default
    client_ids: [svc]
routes:
  - path: /partners/**
    issuers: [partners]
  - path: /staff/**
    issuers: [default]
  - path: /any/**
`)
	t.Setenv("OKTA_ISSUER", staff)
	g := startGateway(t, "--config", path, "--addr", "127.0.0.1:0")
	base := "http://" + g.addr
	gwEventually(t, "readiness of both issuers", func() bool {
		resp, _ := gwGet(t, base+"/readyz", "")
		return resp.StatusCode == 200
	})
	staffTok, partnerTok := gwToken(t, staff, "orders:read"), gwToken(t, partners, "orders:read")
	for _, tc := range []struct {
		path, who, token string
		status           int
		issuer           string
	}{
		{"/partners/x", "partners", partnerTok, 200, partners},
		{"/partners/x", "staff", staffTok, 401, ""},
		{"/staff/x", "staff", staffTok, 200, staff},
		{"/staff/x", "partners", partnerTok, 401, ""},
		{"/any/x", "staff", staffTok, 200, staff},
		{"/any/x", "partners", partnerTok, 200, partners},
	} {
		resp, body := gwGet(t, base+tc.path, tc.token)
		if resp.StatusCode != tc.status {
			t.Errorf("%s with a %s token: %d %s, want %d", tc.path, tc.who, resp.StatusCode, body, tc.status)
			continue
		}
		if got := resp.Header.Get("X-Seen-Issuer"); tc.status == 200 && got != tc.issuer {
			t.Errorf("%s with a %s token: upstream saw X-Auth-Issuer %q, want %q", tc.path, tc.who, got, tc.issuer)
		}
		if tc.status == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "is not accepted here") {
			t.Errorf("%s with a %s token: challenge %q", tc.path, tc.who, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// The verifier metrics are by issuer, as serve's, with the names of
	// the setting and the file.
	checkIssuerLabels(t, scrape(t, base+"/metrics"), "default", "partners")
}

func TestGatewayIssuersFileErrors(t *testing.T) {
	const routes = "routes:\n  - path: /**\n"
	for _, tc := range []struct {
		name, file string
		want       []string
	}{
		{"not a mapping", "issuers: [a]\n" + routes, []string{"line 1", "issuers: want a mapping"}},
		{"unknown key", "issuers:\n  p:\n    issuer: https://p.example\n    secret: x\n" + routes, []string{"line 4", "issuers.p.secret", "unknown key"}},
		{"no issuer", "issuers:\n  p:\n    audience: x\n" + routes, []string{"line 2", "issuers.p", "issuer is required"}},
		{"default", "issuers:\n  default:\n    issuer: https://p.example\n" + routes, []string{"line 2", `"default" names the issuer setting`}},
		{"bad name", "issuers:\n  p q:\n    issuer: https://p.example\n" + routes, []string{"line 2", "bad name"}},
		{"bad client id", "issuers:\n  p:\n    issuer: https://p.example\n    client_ids: [\"a,b\"]\n" + routes, []string{"line 4", `bad client id "a,b"`}},
		{"route names an unknown issuer", "issuers:\n  p:\n    issuer: https://p.example\nroutes:\n  - path: /**\n    issuers: [q]\n",
			[]string{"line 5", `no issuer is named "q"`, "default, p"}},
		{"route names issuers, file has none", "routes:\n  - path: /**\n    issuers: [default]\n", []string{"line 2", "no issuers mapping"}},
		{"same issuer twice", "issuers:\n  p:\n    issuer: https://example.okta.com/oauth2/default\n" + routes, []string{"issuers in", "configured twice"}},
		{"bad issuer URL", "issuers:\n  p:\n    issuer: http://p.example\n" + routes, []string{"issuers in", "(p)", "http://p.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gwClearEnv(t)
			t.Setenv("OKTA_ISSUER", "https://example.okta.com/oauth2/default")
			path := writeGatewayConfig(t, tc.file)
			err := runGateway(context.Background(), []string{"--config", path, "--addr", "127.0.0.1:0"}, &syncBuffer{}, &syncBuffer{})
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to mention %q", err, w)
				}
			}
		})
	}
}
