package introspect_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/example"
	"github.com/apiguard/apiguard/introspect"
)

// Opaque tokens, and revocation that takes effect: introspect every token at
// Okta's introspection endpoint (found by discovery), authenticating as a
// client of the authorization server, and reuse each answer for at most 30
// seconds. With several instances, set Config.Cache to a shared cache
// (Redis) so that they ask Okta once per token. A local development issuer
// stands in for Okta here.
func Example() {
	iss := example.StartIssuer()
	defer iss.Close()

	v, err := apiguard.New(apiguard.Config{
		Issuer: iss.URL, // e.g. https://example.okta.com/oauth2/default
	})
	if err != nil {
		log.Fatal(err)
	}
	iv, err := introspect.New(v, introspect.Config{
		ClientID:     "example-client", // a client of the authorization server
		ClientSecret: "example-secret", // from the environment
		Mode:         introspect.Always,
		MaxCacheTTL:  30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	guard := &apiguard.Middleware{Verifier: iv}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", guard.Handler(http.HandlerFunc(example.ListOrders)))

	kept, revoked := iss.Token("orders:read"), iss.Token("orders:read")
	iss.Revoke(revoked) // as when the user logs out or an admin revokes it
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", kept))
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", revoked))
	// Output:
	// 200 {"for":"example-client","orders":[]}
	// 401 invalid_token
}
