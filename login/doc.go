// Package login signs browser users in with OpenID Connect and keeps them in
// server-side sessions.
//
// # Flow
//
// A [Service] registers six routes (see [Service.Register]):
//
//	GET  /login            start: PKCE (S256), state and nonce, then the issuer's form
//	GET  /login/callback   the issuer comes back: state, code exchange, ID token, session
//	GET  /profile          the user's name, email, groups and access-token scopes
//	GET  /logout           a page with the logout button (the form POST /logout takes)
//	POST /logout           CSRF-checked; ends the session, then the issuer's session
//	GET  /logout/callback  "you are logged out", with a link to log in again
//
// The issuer's endpoints come from its discovery document. The redirect
// URIs are built from [Config.PublicURL] and must be registered at the
// issuer exactly: PublicURL + "/login/callback" (sign-in) and PublicURL +
// "/logout/callback" (sign-out).
//
// # Security
//
// Each login attempt gets its own PKCE verifier, state and nonce, kept in
// the browser's (pre-login) session, so a callback is accepted only in the
// browser that started it, once. The ID token is verified by an apiguard
// Verifier in its ID-token profile (aud = client id) and its nonce compared
// in constant time. At login the session id is rotated. return_to must be a
// path on this site. Logout is a POST carrying the session's CSRF token and
// passing [net/http.CrossOriginProtection]. Tokens are kept in the session
// only (encrypted in Redis, see package session); pages never show them and
// logs never print them.
//
// Access tokens are refreshed with the refresh token shortly before they
// expire ([Config.RefreshBefore]), so [Service.Claims] can let an API route
// accept the browser session as well as a bearer token.
//
// # Errors
//
// Pages answer with the fitting status: 400 for a forged, replayed or
// unknown state and for a bad return_to, 401 for an expired session, 403 for
// access_denied and refused CSRF checks, 502 when the issuer fails, and 503
// (with Retry-After) when the session store is unreachable.
package login
