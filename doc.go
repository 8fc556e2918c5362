// Package apiguard verifies OAuth 2.0 / OpenID Connect access tokens (JWTs)
// issued by Okta or any standards-following authorization server, and
// protects net/http handlers with them.
//
// # Use
//
//	v, err := apiguard.New(apiguard.Config{Issuer: "https://example.okta.com/oauth2/default"})
//	if err != nil { … }
//	mux.Handle("GET /orders", v.Middleware(orders, apiguard.RequireScopes("orders:read")))
//
// The handler finds the verified claims with [ClaimsFromContext].
//
// # What is checked
//
// Tokens are taken from the Authorization header only. A token must be a
// compact JWS (exactly two dots, unpadded base64url, at most [MaxTokenSize]
// bytes) signed with an allowed asymmetric algorithm by a key the issuer
// publishes at the jwks_uri of its discovery document; jku, x5u, jwk and x5c
// headers are ignored and crit, zip and nested tokens refused. iss must equal
// the configured issuer exactly, aud must contain the audience
// ("api://default" by default, as Okta's default authorization server), exp
// is required, nbf and iat are honoured with a leeway. See SECURITY.md.
//
// # Several issuers
//
// [Issuers] verifies the tokens of several authorization servers (an Okta
// org's default and custom servers, an old and a new provider during a
// migration), each with its own [Config] and a [Config.Name]:
//
//	m, err := apiguard.NewIssuers(
//		apiguard.Issuer{Config: apiguard.Config{Name: "default", Issuer: "https://example.okta.com/oauth2/default"}},
//		apiguard.Issuer{Config: apiguard.Config{Name: "partners", Issuer: "https://example.okta.com/oauth2/aus1partners", Audience: "api://partners"}},
//	)
//	mw := &apiguard.Middleware{Verifier: m}
//
// A token goes to the issuer its iss names exactly, before any key is
// fetched; a token of no configured issuer is refused with
// [ErrUnknownIssuer] and costs no issuer a request. [Claims.IssuerName] says
// which issuer verified a token, and [Issuers.Only] accepts some of them.
//
// # Errors
//
// Every refusal caused by the token wraps [ErrInvalidToken] and a specific
// reason ([ErrExpired], [ErrAudience], …). When the issuer's keys cannot be
// had, errors wrap [ErrKeysUnavailable] instead: that is the issuer's fault,
// not the token's, and the middleware answers 503 rather than 401.
//
// # Sender-constrained tokens
//
// A token bound to a key (a cnf claim) is not a bearer token: the
// middleware refuses it unless [Middleware.Binding] checks its proof of
// possession. Package dpop provides one for DPoP (RFC 9449); this package
// knows the [Binding] interface only, and a binding's refusals that need
// their own error code implement [ChallengeError].
//
// # Keys and caching
//
// Keys are fetched on first use and cached per Cache-Control (bounded),
// refreshed in the background when due, and kept while the issuer is down
// (up to [Config.MaxStale]). Unknown kids trigger at most 3 fetches per
// [Config.RefreshCooldown]. Verified tokens are cached until their exp, so a
// client reusing its token skips the signature check.
package apiguard
