package apiguard_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/example"
)

// The three-line use: a verifier for the issuer, and a handler protected by
// it with a scope policy. A local development issuer stands in for Okta so
// that the example runs; with Okta, Issuer is
// "https://example.okta.com/oauth2/default".
func Example() {
	iss := example.StartIssuer() // scopes orders:read and orders:write
	defer iss.Close()

	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Middleware(http.HandlerFunc(example.ListOrders), apiguard.RequireScopes("orders:read")))
	// log.Fatal(http.ListenAndServe("127.0.0.1:5000", mux))

	fmt.Println(example.Try(mux, http.MethodGet, "/orders", ""))
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", iss.Token("orders:write")))
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", iss.Token("orders:read")))
	// Output:
	// 401 Bearer realm="apiguard"
	// 403 insufficient_scope
	// 200 {"for":"example-client","orders":[]}
}

// A handler behind the middleware reads the token's verified claims from
// its request's context.
func ExampleClaimsFromContext() {
	iss := example.StartIssuer()
	defer iss.Close()
	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL})
	if err != nil {
		log.Fatal(err)
	}

	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, ok := apiguard.ClaimsFromContext(r.Context()) // ok is always true behind the middleware
		if !ok {
			http.Error(w, "not behind apiguard", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "hello %s, granted %v", claims.ClientID, claims.Scopes)
	})
	fmt.Println(example.Try(v.Middleware(hello), http.MethodGet, "/", iss.Token("orders:read")))
	// Output: 200 hello example-client, granted [orders:read]
}

// Protect your own handler: a Middleware with the RFC 9728 resource
// metadata URL in its challenges, routes with different policies, and a
// hook that counts refusals by reason.
func ExampleMiddleware() {
	iss := example.StartIssuer()
	defer iss.Close()

	v, err := apiguard.New(apiguard.Config{
		Issuer:   iss.URL, // e.g. https://example.okta.com/oauth2/default
		Audience: "api://default",
	})
	if err != nil {
		log.Fatal(err)
	}
	refused := map[string]int{}
	guard := &apiguard.Middleware{
		Verifier:         v,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource",
		OnRefuse: func(r *http.Request, err error) {
			refused[apiguard.Reason(err)]++ // a metrics counter in real life
		},
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", guard.Handler(http.HandlerFunc(example.ListOrders), apiguard.RequireScopes("orders:read")))
	mux.Handle("DELETE /orders/{id}", guard.Handler(http.HandlerFunc(example.ListOrders),
		apiguard.RequireScopes("orders:write"), apiguard.RequireGroups("Admins")))

	reader := iss.Token("orders:read")
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", ""))
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", reader))
	fmt.Println(example.Try(mux, http.MethodDelete, "/orders/7", reader))
	fmt.Println(example.Try(mux, http.MethodGet, "/orders", "not-a-token"))
	fmt.Println(refused)
	// Output:
	// 401 Bearer realm="apiguard", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"
	// 200 {"for":"example-client","orders":[]}
	// 403 insufficient_scope
	// 401 invalid_token
	// map[forbidden:1 malformed:1 no_token:1]
}
