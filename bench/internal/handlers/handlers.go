// Package handlers builds the HTTP routes the benchmarks and the load run
// compare: one small JSON handler, public and behind each middleware.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/bench/internal/fixture"
	"github.com/golang-jwt/jwt/v5"
)

// Route is one way of serving the handler.
type Route struct {
	Name      string // public, apiguard, apiguard-nocache, golang-jwt, apiguard-small-cache
	Path      string // where cmd/loadserver mounts it
	Protected bool   // needs a bearer token
	LoadOnly  bool   // served by cmd/loadserver only, not benchmarked in process
	Handler   http.Handler
}

// hello is the handler behind every route: a small JSON body, as the
// public route of apiguard serve answers.
func hello(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"message":"Public API endpoint"}` + "\n"))
}

// New returns the routes for tokens of iss (RS256), with keys fetched.
func New(iss *fixture.Issuer) ([]Route, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	newV := func(disable bool, size int) (*apiguard.Verifier, error) {
		v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, DisableCache: disable, CacheSize: size})
		if err != nil {
			return nil, fmt.Errorf("failed to create the verifier: %w", err)
		}
		if err := v.Ready(ctx); err != nil {
			return nil, fmt.Errorf("failed to fetch the keys: %w", err)
		}
		return v, nil
	}
	cached, err := newV(false, 0)
	if err != nil {
		return nil, err
	}
	cold, err := newV(true, 0)
	if err != nil {
		return nil, err
	}
	small, err := newV(false, SmallCache)
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(hello)
	return []Route{
		{Name: "public", Path: "/", Handler: h},
		{Name: "apiguard", Path: "/secure-data", Protected: true, Handler: cached.Middleware(h)},
		{Name: "apiguard-nocache", Path: "/secure-data-nocache", Protected: true, Handler: cold.Middleware(h)},
		{Name: "golang-jwt", Path: "/golang-jwt/secure-data", Protected: true, Handler: GolangJWT(iss, h)},
		{Name: "apiguard-small-cache", Path: "/secure-data-small-cache", Protected: true, LoadOnly: true, Handler: small.Middleware(h)},
	}, nil
}

// SmallCache is the cache size of the apiguard-small-cache route. A load
// run that cycles through many more distinct tokens than this gets no cache
// hits there: each request pays what a fresh token costs (verification,
// insertion and eviction), without minting a token per request.
const SmallCache = 1024

// GolangJWT is a plain bearer-token middleware built on golang-jwt/v5, as
// one would write it by hand: the checks every contender has (RS256 only,
// key by kid from memory, iss, aud, exp with a minute of leeway), claims in
// the request context, 401 otherwise.
func GolangJWT(iss *fixture.Issuer, next http.Handler) http.Handler {
	keys := iss.Keys()
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(iss.URL),
		jwt.WithAudience(fixture.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	)
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}
	type ctxKey struct{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		t, err := parser.Parse(token, keyFunc)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t.Claims)))
	})
}
