package apiguard_test

import (
	"encoding/json"
	"log"
	"net/http"

	"github.com/apiguard/apiguard"
)

// The three-line use: a verifier for the issuer, and a handler protected by
// it with a scope policy.
func Example() {
	v, err := apiguard.New(apiguard.Config{Issuer: "https://example.okta.com/oauth2/default"})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("GET /orders", v.Middleware(http.HandlerFunc(listOrders), apiguard.RequireScopes("orders:read")))
	// log.Fatal(http.ListenAndServe("127.0.0.1:5000", nil))
}

func listOrders(w http.ResponseWriter, r *http.Request) {
	claims, _ := apiguard.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": []string{}, "for": claims.Subject})
}

// Protect your own handler: a Middleware with the RFC 9728 resource
// metadata URL in its challenges, routes with different policies, and a
// hook that counts refusals by reason.
func ExampleMiddleware() {
	v, err := apiguard.New(apiguard.Config{
		Issuer:   "https://example.okta.com/oauth2/default",
		Audience: "api://default",
	})
	if err != nil {
		log.Fatal(err)
	}
	guard := &apiguard.Middleware{
		Verifier:         v,
		ResourceMetadata: "https://api.example.com/.well-known/oauth-protected-resource",
		OnRefuse: func(r *http.Request, err error) {
			log.Printf("refused %s %s: %s", r.Method, r.URL.Path, apiguard.Reason(err))
		},
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", guard.Handler(http.HandlerFunc(listOrders), apiguard.RequireScopes("orders:read")))
	mux.Handle("DELETE /orders/{id}", guard.Handler(http.HandlerFunc(listOrders),
		apiguard.RequireScopes("orders:write"), apiguard.RequireGroups("Admins")))
	_ = mux
}
