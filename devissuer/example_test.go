package devissuer_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard/devissuer"
)

// Mount the development issuer on a server and get a token from it by
// client credentials, as the tutorial's step 5.2 does from Okta.
func Example() {
	srv := httptest.NewUnstartedServer(nil)
	defer srv.Close()
	base := "http://" + srv.Listener.Addr().String()

	cfg, _, err := devissuer.DefaultConfig(devissuer.Defaults{ClientID: "my-client", ClientSecret: "my-secret"})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Issuer = base + "/oauth2/default"
	iss, err := devissuer.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth2/default/", iss)
	srv.Config.Handler = mux
	srv.Start()

	cc := clientcredentials.Config{
		ClientID:     "my-client",
		ClientSecret: "my-secret",
		TokenURL:     iss.URL() + "/v1/token",
	}
	tok, err := cc.Token(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.TokenType, tok.Extra("scope"))
	// Output: Bearer api:read
}
