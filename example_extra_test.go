package apiguard_test

import (
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
)

// Opaque tokens, and revocation that takes effect: introspect every token at
// Okta's introspection endpoint (found by discovery), authenticating as a
// client of the authorization server, and reuse each answer for at most 30
// seconds. With several instances, set IntrospectionConfig.Cache to a shared
// cache (Redis) so that they ask Okta once per token. A local development
// issuer stands in for Okta here.
func ExampleIntrospectionConfig() {
	issuer, token, stop := exampleIssuer()
	defer stop()

	v, err := apiguard.New(apiguard.Config{
		Issuer: issuer, // e.g. https://example.okta.com/oauth2/default
		Introspection: &apiguard.IntrospectionConfig{
			ClientID:     "example-client",
			ClientSecret: "example-secret", // from the environment
			Mode:         apiguard.IntrospectAlways,
			MaxCacheTTL:  30 * time.Second,
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Middleware(http.HandlerFunc(listOrders)))

	kept, revoked := token("orders:read"), token("orders:read")
	revoke(issuer, revoked) // as when the user logs out or an admin revokes it
	fmt.Println(try(mux, http.MethodGet, "/orders", kept))
	fmt.Println(try(mux, http.MethodGet, "/orders", revoked))
	// Output:
	// 200 {"for":"example-client","orders":[]}
	// 401 invalid_token
}

// revoke revokes token at the issuer (RFC 7009) as example-client.
func revoke(issuer, token string) {
	req, err := http.NewRequest(http.MethodPost, issuer+"/v1/revoke", strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("example-client", "example-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("revoke: %s", resp.Status)
	}
}
