package dpop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/dpop"
)

// Sender-constrained tokens: accept DPoP-bound tokens (RFC 9449) with a
// proof for the URL clients use, behind a load balancer. Bearer tokens keep
// working unless Required is set. With several instances, set
// Config.ReplayCache to a shared cache (Redis) so that a proof cannot be
// replayed at another instance. A local development issuer stands in for
// Okta here.
func Example() {
	issuer, token, stop := exampleIssuer()
	defer stop()

	v, err := apiguard.New(apiguard.Config{Issuer: issuer}) // e.g. https://example.okta.com/oauth2/default
	if err != nil {
		log.Fatal(err)
	}
	d, err := dpop.New(dpop.Config{PublicURL: "https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	m := &apiguard.Middleware{Verifier: v, Binding: d}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", m.Handler(http.HandlerFunc(listOrders)))

	tok := token("orders:read")
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

func listOrders(w http.ResponseWriter, r *http.Request) {
	claims, _ := apiguard.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": []string{}, "for": claims.Subject})
}

// exampleIssuer starts a development issuer (package devissuer) on a
// loopback port with the scope orders:read and one client, example-client.
// It returns the issuer URL, a function that gets an access token for a
// scope by client credentials, and a function that stops the issuer.
func exampleIssuer() (issuer string, token func(scope string) string, stop func()) {
	srv := httptest.NewUnstartedServer(nil)
	iss, err := devissuer.New(devissuer.Config{
		Issuer:  "http://" + srv.Listener.Addr().String() + "/oauth2/default",
		Scopes:  []devissuer.Scope{{Name: "orders:read"}},
		Clients: []devissuer.Client{{ID: "example-client", Secret: "example-secret"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv.Config.Handler = iss
	srv.Start()
	token = func(scope string) string {
		cc := clientcredentials.Config{ClientID: "example-client", ClientSecret: "example-secret",
			TokenURL: iss.URL() + "/v1/token", Scopes: []string{scope}}
		tok, err := cc.Token(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		return tok.AccessToken
	}
	return iss.URL(), token, srv.Close
}
