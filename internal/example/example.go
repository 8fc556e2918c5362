// Package example holds what the runnable examples of apiguard's packages
// (their Example functions) share, so that each example shows only the code
// it is about: a development issuer standing in for Okta on a loopback
// port, the API handler the examples protect, and a one-line account of a
// response for their Output.
//
// An example has no testing.T to hand devissuertest, so a failure here ends
// the program with log.Fatal, as an example's own code does.
package example

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

	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/devissuer"
)

// The one client the issuer knows, a confidential one.
const (
	ClientID     = "example-client"
	ClientSecret = "example-secret"
)

// Issuer is a development issuer (package devissuer) answering on a
// loopback port.
type Issuer struct {
	// URL is the issuer URL, at the path of Okta's default authorization
	// server: http://127.0.0.1:port/oauth2/default.
	URL string
	srv *httptest.Server
}

// StartIssuer starts an issuer with the custom scopes orders:read and
// orders:write and the client [ClientID], allowed both. Each of apps, an
// application's base URL, is registered for the client's sign-in and
// sign-out redirects (/login/callback and /logout/callback).
func StartIssuer(apps ...string) *Issuer {
	srv := httptest.NewUnstartedServer(nil)
	client := devissuer.Client{ID: ClientID, Secret: ClientSecret}
	for _, app := range apps {
		client.RedirectURIs = append(client.RedirectURIs, app+"/login/callback")
		client.PostLogoutRedirectURIs = append(client.PostLogoutRedirectURIs, app+"/logout/callback")
	}
	iss, err := devissuer.New(devissuer.Config{
		Issuer:  "http://" + srv.Listener.Addr().String() + "/oauth2/default",
		Scopes:  []devissuer.Scope{{Name: "orders:read"}, {Name: "orders:write"}},
		Clients: []devissuer.Client{client},
	})
	if err != nil {
		srv.Close()
		log.Fatal(err)
	}
	srv.Config.Handler = iss
	srv.Start()
	return &Issuer{URL: iss.URL(), srv: srv}
}

// Close stops the issuer.
func (i *Issuer) Close() { i.srv.Close() }

// Token gets an access token for scope by client credentials, as a
// service calling the API would.
func (i *Issuer) Token(scope string) string {
	cc := clientcredentials.Config{ClientID: ClientID, ClientSecret: ClientSecret,
		TokenURL: i.URL + "/v1/token", Scopes: []string{scope}}
	tok, err := cc.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	return tok.AccessToken
}

// Revoke revokes token at the issuer (RFC 7009) as [ClientID], as when the
// user logs out or an administrator revokes it.
func (i *Issuer) Revoke(token string) {
	// client_secret_post: the client authenticates in the form itself.
	resp, err := http.PostForm(i.URL+"/v1/revoke", url.Values{
		"token": {token}, "client_id": {ClientID}, "client_secret": {ClientSecret}})
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		log.Fatalf("revoke: %s", resp.Status)
	}
}

// ListOrders is the API handler the examples protect: it answers the
// caller's orders (none), naming the caller from the verified claims the
// middleware put in the request's context.
func ListOrders(w http.ResponseWriter, r *http.Request) {
	claims, _ := apiguard.ClaimsFromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"orders": []string{}, "for": claims.Subject})
}

// Try sends h a request with token as a bearer token (none if empty) and
// returns the status with the body; or, when refused, with the
// challenge's error code, or the whole challenge if it has none.
func Try(h http.Handler, method, path, token string) string {
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if status := w.Code; status == http.StatusOK {
		body, _ := io.ReadAll(w.Body)
		return fmt.Sprint(status, " ", strings.TrimSpace(string(body)))
	}
	challenge := w.Header().Get("WWW-Authenticate")
	if m := errorParam.FindStringSubmatch(challenge); m != nil {
		return fmt.Sprint(w.Code, " ", m[1])
	}
	return fmt.Sprint(w.Code, " ", challenge)
}

var errorParam = regexp.MustCompile(`error="([^"]*)"`)
