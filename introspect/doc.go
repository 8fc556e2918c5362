// Package introspect checks access tokens at the issuer's token
// introspection endpoint (RFC 7662), for the apiguard middleware: opaque
// tokens, which cannot be verified locally, and, if asked, JWTs too, so
// that a token revoked at the issuer is refused.
//
// # Use
//
//	v, err := apiguard.New(apiguard.Config{Issuer: issuer})
//	if err != nil { … }
//	iv, err := introspect.New(v, introspect.Config{ClientID: id, ClientSecret: secret})
//	if err != nil { … }
//	m := &apiguard.Middleware{Verifier: iv}
//	mux.Handle("GET /orders", m.Handler(orders))
//
// A [Verifier] is an [apiguard.TokenVerifier]. JWTs (three base64url
// parts) are verified by the [apiguard.Verifier] as usual; in [Always] mode
// they are then introspected too. Anything else is introspected. The
// endpoint is [Config.Endpoint], or the introspection_endpoint of the
// issuer's discovery document.
//
// # What is checked
//
// The issuer must answer 200 with a JSON object with unique member names:
// active must be true, token_type must name an access token (Bearer, DPoP
// or access_token), token_use and typ, where given, must not name another
// kind of token; then the claims of the answer get every claim check of
// [apiguard.Verifier.CheckClaims] (issuer, audience, exp, nbf, iat, client).
//
// # Caching
//
// Results are kept in a [Cache] under the SHA-256 of the issuer and the
// token (never the token): active ones until the earlier of the token's
// exp and [Config.MaxCacheTTL], inactive ones for MaxCacheTTL. By default
// the cache is in memory; a shared one (Redis) lets several instances ask
// the issuer once per token. A cache that cannot be used is bypassed.
//
// # Metrics
//
// [Config.OnRequest] is told of each call to the introspection endpoint
// (results from the cache make none) in a [RequestEvent]: the endpoint,
// how long the call took, whether the token is active, and the error when
// the endpoint could not be used. An inactive token is a successful call.
// `apiguard serve` and `apiguard gateway` count these calls as
// apiguard_introspection_requests_total{issuer,outcome} and
// apiguard_introspection_request_duration_seconds{issuer}.
//
// # Errors
//
// An inactive token is refused with [ErrInactive]; other refusals wrap
// [apiguard.ErrType] or the claim check's reason. All wrap
// [apiguard.ErrInvalidToken], which the middleware answers with 401
// invalid_token. When the endpoint cannot be reached or answers anything
// but a JSON result, the error is an [*apiguard.UnavailableError] wrapping
// [apiguard.ErrUnavailable] (503 with Retry-After).
package introspect
