package apiguard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
)

// The three-line use: a verifier for the issuer, and a handler protected by
// it with a scope policy. A local development issuer stands in for Okta so
// that the example runs; with Okta, Issuer is
// "https://example.okta.com/oauth2/default".
func Example() {
	issuer, token, stop := exampleIssuer()
	defer stop()

	v, err := apiguard.New(apiguard.Config{Issuer: issuer})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", v.Middleware(http.HandlerFunc(listOrders), apiguard.RequireScopes("orders:read")))
	// log.Fatal(http.ListenAndServe("127.0.0.1:5000", mux))

	fmt.Println(try(mux, http.MethodGet, "/orders", ""))
	fmt.Println(try(mux, http.MethodGet, "/orders", token("orders:write")))
	fmt.Println(try(mux, http.MethodGet, "/orders", token("orders:read")))
	// Output:
	// 401 Bearer realm="apiguard"
	// 403 insufficient_scope
	// 200 {"for":"example-client","orders":[]}
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
	issuer, token, stop := exampleIssuer()
	defer stop()

	v, err := apiguard.New(apiguard.Config{
		Issuer:   issuer, // e.g. https://example.okta.com/oauth2/default
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
	mux.Handle("GET /orders", guard.Handler(http.HandlerFunc(listOrders), apiguard.RequireScopes("orders:read")))
	mux.Handle("DELETE /orders/{id}", guard.Handler(http.HandlerFunc(listOrders),
		apiguard.RequireScopes("orders:write"), apiguard.RequireGroups("Admins")))

	reader := token("orders:read")
	fmt.Println(try(mux, http.MethodGet, "/orders", ""))
	fmt.Println(try(mux, http.MethodGet, "/orders", reader))
	fmt.Println(try(mux, http.MethodDelete, "/orders/7", reader))
	fmt.Println(try(mux, http.MethodGet, "/orders", "not-a-token"))
	fmt.Println(refused)
	// Output:
	// 401 Bearer realm="apiguard", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"
	// 200 {"for":"example-client","orders":[]}
	// 403 insufficient_scope
	// 401 invalid_token
	// map[forbidden:1 malformed:1 no_token:1]
}

// exampleIssuer starts a development issuer (package devissuer) on a loopback
// port with the custom scopes orders:read and orders:write and one client,
// example-client, allowed both. It returns the issuer URL, a function that
// gets an access token for a scope by client credentials, and a function
// that stops the issuer.
func exampleIssuer() (issuer string, token func(scope string) string, stop func()) {
	srv := httptest.NewUnstartedServer(nil)
	cfg := devissuer.Config{
		Issuer:  "http://" + srv.Listener.Addr().String() + "/oauth2/default",
		Scopes:  []devissuer.Scope{{Name: "orders:read"}, {Name: "orders:write"}},
		Clients: []devissuer.Client{{ID: "example-client", Secret: "example-secret"}},
	}
	iss, err := devissuer.New(cfg)
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

// try sends a request with the token (none if empty) to h and returns the
// status with the body; or, when refused, with the challenge's error code,
// or the whole challenge if it has none.
func try(h http.Handler, method, path, token string) string {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == http.StatusOK {
		body, _ := io.ReadAll(w.Body)
		return fmt.Sprint(w.Code, " ", strings.TrimSpace(string(body)))
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if m := errorParam.FindStringSubmatch(challenge); m != nil {
		return fmt.Sprint(w.Code, " ", m[1])
	}
	return fmt.Sprint(w.Code, " ", challenge)
}

var errorParam = regexp.MustCompile(`error="([^"]*)"`)
