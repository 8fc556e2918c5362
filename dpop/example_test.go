package dpop_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/dpop"
	"github.com/apiguard/apiguard/internal/example"
)

// Sender-constrained tokens: accept DPoP-bound tokens (RFC 9449) with a
// proof for the URL clients use, behind a load balancer. Bearer tokens keep
// working unless Required is set. With several instances, set
// Config.ReplayCache to a shared cache (Redis) so that a proof cannot be
// replayed at another instance. A local development issuer stands in for
// Okta here.
func Example() {
	iss := example.StartIssuer()
	defer iss.Close()

	v, err := apiguard.New(apiguard.Config{Issuer: iss.URL}) // e.g. https://example.okta.com/oauth2/default
	if err != nil {
		log.Fatal(err)
	}
	d, err := dpop.New(dpop.Config{PublicURL: "https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	m := &apiguard.Middleware{Verifier: v, Binding: d}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", m.Handler(http.HandlerFunc(example.ListOrders)))

	tok := iss.Token("orders:read")
	r := httptest.NewRequest(http.MethodGet, "https://api.example.com/orders", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))

	// A bearer token sent with the DPoP scheme is refused: it is bound to
	// no key. The challenges offer both schemes.
	r = httptest.NewRequest(http.MethodGet, "https://api.example.com/orders", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	fmt.Print(w.Code)
	for _, c := range w.Header().Values("WWW-Authenticate") {
		scheme, _, _ := strings.Cut(c, " ")
		fmt.Print(" ", scheme)
	}
	fmt.Println()
	// Output:
	// 200 {"for":"example-client","orders":[]}
	// 401 Bearer DPoP
}
