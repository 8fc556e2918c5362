// Command jwtref is the reference server of issue 16's fresh-token goal: a
// minimal API written the way the golang-jwt documentation suggests, with
// github.com/golang-jwt/jwt/v5 verifying bearer tokens against keys that
// github.com/MicahParks/keyfunc/v3 fetches from the issuer's JWK set. It
// serves GET /secure-data as `apiguard serve` does (the verified claims in
// a small JSON body) and nothing else but /readyz, and it logs nothing per
// request.
//
//	jwtref -addr 127.0.0.1:5006 -issuer URL [-audience api://default]
//
// It checks what apiguard checks for such a token: the algorithm against an
// allowlist (RS256, ES256, EdDSA), the key by kid, iss, aud and exp with a
// minute of leeway.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/urlcheck"

	"github.com/apiguard/apiguard/bench/internal/serveuntil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5006", "listen address (loopback)")
	issuer := flag.String("issuer", "", "issuer URL (its discovery document names the JWK set)")
	audience := flag.String("audience", "api://default", "audience of the tokens")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *addr, *issuer, *audience, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jwtref:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, issuer, audience string, out *os.File) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("failed to parse -addr: %w", err)
	}
	if !urlcheck.IsLoopback(host) {
		return fmt.Errorf("-addr %q: only a loopback host (localhost, 127.0.0.0/8, ::1)", addr)
	}
	if issuer == "" {
		return errors.New("-issuer is required")
	}
	jwksURL, err := discover(ctx, issuer)
	if err != nil {
		return err
	}
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		return fmt.Errorf("failed to load the JWK set: %w", err)
	}
	h := handler(kf.Keyfunc, issuer, audience)
	return serveuntil.Serve(ctx, addr, h, out, "url http://%[1]s\n")
}

// discover reads jwks_uri from the issuer's OpenID discovery document.
func discover(ctx context.Context, issuer string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("failed to fetch the discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery document: %s", resp.Status)
	}
	var doc struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.JWKSURI == "" {
		return "", fmt.Errorf("discovery document without jwks_uri (%v)", err)
	}
	return doc.JWKSURI, nil
}

// handler serves /secure-data behind a golang-jwt bearer check and /readyz.
func handler(keyFunc jwt.Keyfunc, issuer, audience string) http.Handler {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(time.Minute),
	)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /secure-data", func(w http.ResponseWriter, r *http.Request) {
		scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		claims := jwt.MapClaims{}
		if _, err := parser.ParseWithClaims(raw, claims, keyFunc); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			Message string        `json:"message"`
			User    jwt.MapClaims `json:"user"`
		}{"Secure data accessed!", claims})
	})
	return mux
}
