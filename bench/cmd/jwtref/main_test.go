package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/bench/internal/fixture"
)

// TestHandler: the reference server answers a valid token of each
// algorithm with its claims, and refuses what apiguard refuses.
func TestHandler(t *testing.T) {
	iss, err := fixture.New()
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	jwksURL, err := discover(ctx, iss.URL)
	if err != nil {
		t.Fatal(err)
	}
	if jwksURL != iss.JWKSURL() {
		t.Fatalf("discovered %q, want %q", jwksURL, iss.JWKSURL())
	}
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		t.Fatal(err)
	}
	h := handler(kf.Keyfunc, iss.URL, fixture.Audience)
	get := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/secure-data", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	now := time.Now()
	for _, alg := range fixture.Algorithms {
		tok, err := iss.Token(alg, now, 1)
		if err != nil {
			t.Fatal(err)
		}
		rec := get("Bearer " + tok)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"sub":"jane.doe@example.com"`) {
			t.Errorf("%s: got %d %q, want 200 with the claims", alg, rec.Code, rec.Body)
		}
	}
	sign := func(mutate func(jwt.MapClaims)) string {
		c := iss.Claims(now, 2)
		mutate(c)
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["kid"] = fixture.KID("ES256")
		s, err := tk.SignedString(iss.Signer("ES256"))
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	good, _ := iss.Token("ES256", now, 3)
	for name, auth := range map[string]string{
		"no token":       "",
		"basic":          "Basic Zm9vOmJhcg==",
		"bad signature":  "Bearer " + good[:len(good)-4] + "AAAA",
		"other audience": sign(func(c jwt.MapClaims) { c["aud"] = "api://other" }),
		"other issuer":   sign(func(c jwt.MapClaims) { c["iss"] = "https://other.example" }),
		"expired":        sign(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }),
		"no exp":         sign(func(c jwt.MapClaims) { delete(c, "exp") }),
	} {
		if rec := get(auth); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: got %d, want 401", name, rec.Code)
		}
	}
}

func TestRunLoopbackOnly(t *testing.T) {
	if err := run(context.Background(), "0.0.0.0:0", "http://127.0.0.1:1", "a", nil); err == nil || !strings.Contains(err.Error(), "-addr") {
		t.Errorf("got %v, want an error naming -addr", err)
	}
}
