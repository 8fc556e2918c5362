package introspect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/introspect"
)

// Opaque tokens, and revocation that takes effect: introspect every token at
// Okta's introspection endpoint (found by discovery), authenticating as a
// client of the authorization server, and reuse each answer for at most 30
// seconds. With several instances, set Config.Cache to a shared cache
// (Redis) so that they ask Okta once per token. A local development issuer
// stands in for Okta here.
func Example() {
	issuer, token, stop := exampleIssuer()
	defer stop()

	v, err := apiguard.New(apiguard.Config{
		Issuer: issuer, // e.g. https://example.okta.com/oauth2/default
	})
	if err != nil {
		log.Fatal(err)
	}
	iv, err := introspect.New(v, introspect.Config{
		ClientID:     "example-client",
		ClientSecret: "example-secret", // from the environment
		Mode:         introspect.Always,
		MaxCacheTTL:  30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	guard := &apiguard.Middleware{Verifier: iv}
	mux := http.NewServeMux()
	mux.Handle("GET /orders", guard.Handler(http.HandlerFunc(listOrders)))

	kept, revoked := token("orders:read"), token("orders:read")
	revoke(issuer, revoked) // as when the user logs out or an admin revokes it
	fmt.Println(try(mux, http.MethodGet, "/orders", kept))
	fmt.Println(try(mux, http.MethodGet, "/orders", revoked))
	// Output:
	// 200 {"for":"example-client","orders":[]}
	// 401 invalid_token
}

func listOrders(w http.ResponseWriter, r *http.Request) {
	claims, _ := apiguard.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": []string{}, "for": claims.Subject})
}

// exampleIssuer starts a development issuer on loopback with the client
// example-client, and returns its URL, a function getting an access token
// for a scope with client credentials, and a function stopping it.
func exampleIssuer() (issuer string, token func(scope string) string, stop func()) {
	srv := httptest.NewUnstartedServer(nil)
	cfg := devissuer.Config{
		Issuer:  "http://" + srv.Listener.Addr().String() + "/oauth2/default",
		Scopes:  []devissuer.Scope{{Name: "orders:read"}},
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

// try sends a request with the token to h and returns the status with the
// body; or, when refused, with the challenge's error code.
func try(h http.Handler, method, path, token string) string {
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code == http.StatusOK {
		body, _ := io.ReadAll(w.Body)
		return fmt.Sprint(w.Code, " ", strings.TrimSpace(string(body)))
	}
	if m := regexp.MustCompile(`error="([^"]*)"`).FindStringSubmatch(w.Header().Get("WWW-Authenticate")); m != nil {
		return fmt.Sprint(w.Code, " ", m[1])
	}
	return fmt.Sprint(w.Code, " ", w.Header().Get("WWW-Authenticate"))
}
