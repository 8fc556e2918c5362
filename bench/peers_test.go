package bench

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/bench/internal/fixture"
	"github.com/apiguard/apiguard/internal/floor"
	"github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"
	jwtverifier "github.com/okta/okta-jwt-verifier-golang/v2"
)

// leeway is the clock skew every verifier is given (apiguard's default).
const leeway = time.Minute

// verifier is one contender: it verifies a token with the shared checks
// (alg allowlist, key by kid, iss, aud, exp) and returns an error if the
// token is refused.
type verifier struct {
	name   string
	verify func(ctx context.Context, token string) error
}

// verifiers returns every contender for tokens signed with alg, in report
// order, each with its keys fetched already.
func verifiers(tb testing.TB, iss *fixture.Issuer, alg string) []verifier {
	tb.Helper()
	ctx := context.Background()
	keys := iss.Keys()
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}

	newApiguard := func(disable bool) *apiguard.Verifier {
		v, err := apiguard.New(apiguard.Config{Issuer: iss.URL, DisableCache: disable, Algorithms: []string{alg}})
		must(err)
		must(v.Ready(ctx))
		return v
	}
	cold, cached := newApiguard(true), newApiguard(false)

	// golang-jwt/v5: a Parser with the checks as options, MapClaims as in
	// its README, the key by kid from an in-memory map.
	gjParser := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithIssuer(iss.URL),
		jwt.WithAudience(fixture.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
	gjKey := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown kid %q", kid)
	}

	// go-jose/v4: the jwt subpackage with the key set (it picks by kid).
	var joseSet jose.JSONWebKeySet
	must(json.Unmarshal(iss.JWKS(), &joseSet))
	joseAlgs := []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)}

	// lestrrat-go/jwx/v3: the key set parsed from the issuer's JWKS. jwx
	// takes the algorithm from each key's alg, so the allowlist is the set
	// cut down to the keys of the allowed algorithm.
	fullSet, err := jwk.Parse(iss.JWKS())
	must(err)
	jwxSet := jwk.NewSet()
	for i := range fullSet.Len() {
		k, _ := fullSet.Key(i)
		if a, ok := k.Algorithm(); ok && a.String() == alg {
			must(jwxSet.AddKey(k))
		}
	}

	// coreos/go-oidc/v3: a StaticKeySet (it has no kid lookup: it is given
	// the one key for alg), the audience as ClientID.
	oidcVerifier := oidc.NewVerifier(iss.URL, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{iss.Public(alg)}}, &oidc.Config{
		ClientID:             fixture.Audience,
		SupportedSigningAlgs: []string{alg},
	})

	// okta-jwt-verifier-golang/v2: discovery and keys over HTTP from the
	// loopback issuer, cached by the library; warmed up below.
	oktaV, err := (&jwtverifier.JwtVerifier{
		Issuer:           iss.URL,
		ClaimsToValidate: map[string]string{"aud": fixture.Audience},
		Client:           iss.Client(),
	}).New()
	must(err)
	oktaV.SetLeeway(leeway.String())

	// auth0/go-jwt-middleware/v2: its validator with its caching JWKS
	// provider (discovery and keys over HTTP, fetched once below).
	issURL, err := url.Parse(iss.URL)
	must(err)
	provider := jwks.NewCachingProvider(issURL, time.Hour, jwks.WithCustomClient(iss.Client()))
	auth0V, err := validator.New(provider.KeyFunc, validator.SignatureAlgorithm(alg), iss.URL, []string{fixture.Audience},
		validator.WithAllowedClockSkew(leeway))
	must(err)

	vs := []verifier{
		{"floor", func(_ context.Context, token string) error {
			return floor.Verify(token, keys, alg, iss.URL, fixture.Audience, time.Now())
		}},
		{"apiguard-cold", func(ctx context.Context, token string) error {
			_, err := cold.Verify(ctx, token)
			return err
		}},
		{"apiguard-cached", func(ctx context.Context, token string) error {
			_, err := cached.Verify(ctx, token)
			return err
		}},
		{"golang-jwt", func(_ context.Context, token string) error {
			_, err := gjParser.Parse(token, gjKey)
			return err
		}},
		{"go-jose", func(_ context.Context, token string) error {
			t, err := josejwt.ParseSigned(token, joseAlgs)
			if err != nil {
				return err
			}
			var c josejwt.Claims
			if err := t.Claims(&joseSet, &c); err != nil {
				return err
			}
			if c.Expiry == nil {
				return errors.New("no exp")
			}
			return c.ValidateWithLeeway(josejwt.Expected{Issuer: iss.URL, AnyAudience: josejwt.Audience{fixture.Audience}, Time: time.Now()}, leeway)
		}},
		{"jwx", func(_ context.Context, token string) error {
			_, err := jwxjwt.Parse([]byte(token),
				jwxjwt.WithKeySet(jwxSet),
				jwxjwt.WithIssuer(iss.URL),
				jwxjwt.WithAudience(fixture.Audience),
				jwxjwt.WithRequiredClaim("exp"),
				jwxjwt.WithAcceptableSkew(leeway),
			)
			return err
		}},
		{"go-oidc", func(ctx context.Context, token string) error {
			_, err := oidcVerifier.Verify(ctx, token)
			return err
		}},
		{"auth0", func(ctx context.Context, token string) error {
			_, err := auth0V.ValidateToken(ctx, token)
			return err
		}},
	}
	// okta-jwt-verifier-golang supports RS256 only.
	if alg == "RS256" {
		vs = append(vs, verifier{"okta", func(_ context.Context, token string) error {
			_, err := oktaV.VerifyAccessToken(token)
			return err
		}})
	}
	// Warm every verifier (fetches, and apiguard's cache entry) with a
	// token of its own, before any timer.
	warm, err := iss.Token(alg, time.Now(), -1)
	must(err)
	for _, v := range vs {
		if err := v.verify(ctx, warm); err != nil {
			tb.Fatalf("%s %s: warm-up verification failed: %v", alg, v.name, err)
		}
	}
	return vs
}
