// Package oidctest holds what the interop tests do the same way against
// every third-party provider: a client-credentials token, a verifier for
// the provider, and a look inside a token.
package oidctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ClientCredentials gets an access token with cfg (client secret in the
// Authorization header), failing the test on an error.
func ClientCredentials(t *testing.T, cfg clientcredentials.Config) string {
	t.Helper()
	cfg.AuthStyle = oauth2.AuthStyleInHeader
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := cfg.Token(ctx)
	if err != nil {
		t.Fatalf("failed to get a token by client credentials: %v", err)
	}
	return tok.AccessToken
}

// NewVerifier returns a verifier for cfg after the mutations, failing the
// test on an error.
func NewVerifier(t *testing.T, cfg apiguard.Config, mutate ...func(*apiguard.Config)) *apiguard.Verifier {
	t.Helper()
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := apiguard.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// Parts decodes a token's header and payload without verifying it, to show
// what the provider sends. hint is added to the failure for a token that is
// not a compact JWS.
func Parts(t *testing.T, tok, hint string) (header, payload map[string]any) {
	t.Helper()
	segs := strings.Split(tok, ".")
	if len(segs) != 3 {
		t.Fatalf("got a token of %d parts, want a compact JWS%s", len(segs), hint)
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(segs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}
