package gateway_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/gateway"
	"github.com/apiguard/apiguard/internal/example"
)

// A gateway in front of an API that checks no tokens itself: routes with
// their policies, the identity of a verified token added for the upstream,
// and the rules replaced at run time. A local development issuer stands in
// for Okta so that the example runs.
func ExampleNew() {
	iss := example.StartIssuer() // scopes orders:read and orders:write
	defer iss.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s for %q", r.URL.Path, r.Header.Get(gateway.HeaderClientID))
	}))
	defer api.Close()

	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL})
	if err != nil {
		log.Fatal(err)
	}
	gw, err := gateway.New(&apiguard.Middleware{Verifier: v}, gateway.Rules{
		Upstream: api.URL,
		Routes: []gateway.Route{
			{Path: "/status", Public: true},
			{Path: "/orders/**", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
		},
	}, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// log.Fatal(http.ListenAndServe("127.0.0.1:8080", gw))

	fmt.Println(example.Try(gw, http.MethodGet, "/status", ""))
	fmt.Println(example.Try(gw, http.MethodGet, "/orders/7", ""))
	fmt.Println(example.Try(gw, http.MethodGet, "/orders/7", iss.Token("orders:write")))
	fmt.Println(example.Try(gw, http.MethodGet, "/orders/7", iss.Token("orders:read")))

	// Bad rules are refused and the running ones stay.
	err = gw.Reload(gateway.Rules{Upstream: api.URL, Routes: []gateway.Route{{Path: "/orders/*x"}}})
	fmt.Println(err)
	fmt.Println(example.Try(gw, http.MethodGet, "/orders/7", iss.Token("orders:read")))

	// Good rules apply to the next request.
	err = gw.Reload(gateway.Rules{Upstream: api.URL, Routes: []gateway.Route{
		{Path: "/orders/**", Scopes: []string{"orders:write"}},
	}})
	fmt.Println(err, example.Try(gw, http.MethodDelete, "/orders/7", iss.Token("orders:write")))
	// Output:
	// 200 /status for ""
	// 401 Bearer realm="apiguard"
	// 403 insufficient_scope
	// 200 /orders/7 for "example-client"
	// gateway: invalid rules: routes[0] (/orders/*x): bad glob "/orders/*x": * and ** must be whole segments
	// 200 /orders/7 for "example-client"
	// <nil> 200 /orders/7 for "example-client"
}
