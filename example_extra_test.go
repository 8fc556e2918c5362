package apiguard_test

import (
	"log"
	"net/http"
	"time"

	"github.com/apiguard/apiguard"
)

// Opaque tokens, and revocation that takes effect: introspect every token at
// Okta's introspection endpoint (found by discovery), authenticating as a
// client of the authorization server, and reuse each answer for at most 30
// seconds. With several instances, set IntrospectionConfig.Cache to a shared
// cache (Redis) so that they ask Okta once per token.
func ExampleIntrospectionConfig() {
	v, err := apiguard.New(apiguard.Config{
		Issuer: "https://example.okta.com/oauth2/default",
		Introspection: &apiguard.IntrospectionConfig{
			ClientID:     "0oa-resource-server",
			ClientSecret: "secret from the environment",
			Mode:         apiguard.IntrospectAlways,
			MaxCacheTTL:  30 * time.Second,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("GET /orders", v.Middleware(http.HandlerFunc(listOrders)))
}

// Sender-constrained tokens: accept DPoP-bound tokens (RFC 9449) with a
// proof for the URL clients use, behind a load balancer. Bearer tokens keep
// working unless Required is set. With several instances, set
// DPoPConfig.ReplayCache to a shared cache (Redis) so that a proof cannot be
// replayed at another instance.
func ExampleNewDPoP() {
	v, err := apiguard.New(apiguard.Config{Issuer: "https://example.okta.com/oauth2/default"})
	if err != nil {
		log.Fatal(err)
	}
	d, err := apiguard.NewDPoP(apiguard.DPoPConfig{PublicURL: "https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	m := &apiguard.Middleware{Verifier: v, DPoP: d}
	http.Handle("GET /orders", m.Handler(http.HandlerFunc(listOrders)))
}
