// Package dpop checks DPoP proofs (RFC 9449) for the apiguard middleware:
// access tokens bound to a key the client holds, so that a stolen token is
// useless without the key.
//
// # Use
//
//	d, err := dpop.New(dpop.Config{PublicURL: "https://api.example.com"})
//	if err != nil { … }
//	m := &apiguard.Middleware{Verifier: v, Binding: d}
//	mux.Handle("GET /orders", m.Handler(orders))
//
// A [Checker] is an [apiguard.Binding]: the middleware reads tokens sent
// with the DPoP authorization scheme, verifies them as usual, and asks the
// Checker for the proof. Bearer tokens keep working unless
// [Config.Required] is set. Challenges offer both schemes.
//
// # What is checked
//
// One DPoP header holding a compact JWS with typ dpop+jwt, an allowed
// asymmetric alg and a public jwk that verifies it; htm equal to the
// request's method, htu equal to the URL the client used (see
// [Config.PublicURL]), iat within [Config.Window] of now, ath the hash of
// the access token, the server's nonce when [Config.NonceKey] is set, the
// key's thumbprint equal to the token's cnf.jkt, and a jti never seen
// before (see [Config.ReplayCache]).
//
// # Errors
//
// Refused proofs wrap [ErrProof] (the middleware answers 401
// error="invalid_dpop_proof") or [ErrNonce] (401 error="use_dpop_nonce"
// with a fresh DPoP-Nonce header); both wrap [apiguard.ErrInvalidToken].
// A proof signed by a key other than the token's wraps
// [apiguard.ErrTokenBinding]. When the replay cache cannot be used the error
// is an [apiguard.UnavailableError] (503).
package dpop
