// Package devissuer is a development OAuth 2.0 / OpenID Connect issuer
// shaped like an Okta custom authorization server, so that apiguard and its
// users can run the whole Okta flow on a laptop, in CI and offline. It is
// not for production: users, clients and passwords come from a file or from
// defaults, and its state lives in memory, except what a command chooses to
// keep across restarts in a state file (see below).
//
// # Endpoints
//
// An [Issuer] is an [net/http.Handler] answering under the path of its
// issuer URL (Okta's "/oauth2/default" by convention):
//
//	/.well-known/openid-configuration   discovery (OpenID Connect)
//	/.well-known/oauth-authorization-server  metadata (RFC 8414)
//	/v1/keys        RS256 signing keys, with kid, use and alg, cacheable
//	/v1/token       client_credentials, authorization_code (PKCE S256), refresh_token
//	/v1/authorize   HTML login form (fields "username" and "password", plus hidden "request" and "csrf")
//	/v1/userinfo    the user's claims for an access token granted openid
//	/v1/introspect  RFC 7662, client-authenticated
//	/v1/revoke      RFC 7009, client-authenticated
//	/v1/logout      RP-initiated logout with id_token_hint
//
// # Tokens
//
// Access tokens carry Okta's claims: ver, jti ("AT.…"), iss, aud
// ("api://default" unless configured), iat, exp, cid, uid, scp (an array),
// sub (the username, or the client id for client credentials) and groups.
// ID tokens carry aud = client id, nonce, at_hash, auth_time, amr and the
// profile claims their scopes release. Errors are Okta's OAuth shape:
// {"error":"…","error_description":"…"} with status 400 or 401.
//
// As at Okta, the client credentials grant allows custom scopes only
// ("openid" is refused) and a request naming no scope gets the scopes
// marked Default. Refresh tokens are issued for "offline_access", rotated at
// every use, and a replayed one revokes its whole family. Authorization
// codes live 5 minutes, are single-use, require PKCE S256 and the exact
// redirect URI; a replayed code revokes what it was exchanged for.
//
// # Sign-in form
//
// Failed sign-ins are throttled per username (known or not) and per client
// address (an IPv4 address or an IPv6 /64; forwarding headers are not
// trusted). A username gets 5 failures and an address 20 before the first
// delay; each further failure locks the key for 1s, 2s, 4s … up to 15
// minutes. While a key is locked every attempt, right password included,
// is answered 429 with Retry-After and a message on the form, without
// looking at the password and without lengthening the lock. A successful
// sign-in clears the username's count, not the address's; a key is
// forgotten an hour after its last attempt. Each table holds at most 10000
// keys, dropping the stalest when full.
//
// The form is protected against login CSRF. Its hidden "csrf" field is an
// HMAC, under a key drawn at start, of the pending request's id and of a
// random value kept in the browser's devissuer_login cookie (HttpOnly,
// SameSite=Strict). A post is refused with 403 when the token does not
// match its request and the cookie, when Sec-Fetch-Site is neither
// same-origin nor none, or, without Sec-Fetch-Site, when an Origin header
// names another origin. A client posting the form must therefore keep
// cookies and send back the hidden fields.
//
// # Key rotation
//
// The key set always holds the signing key and the next key, published
// ahead of its use, so a verifier that cached the set before a rotation
// still knows the new signing key. [Issuer.Rotate] (or [Issuer.Run] with
// Config.RotateEvery) promotes the next key and keeps the old one published
// for Config.KeyGrace, so tokens it signed keep verifying.
//
// # Configuration
//
// [LoadConfig] reads clients, users and scopes from YAML:
//
//	scopes:
//	  - {name: "api:read", default: true}
//	  - {name: "api:write"}
//	clients:
//	  - id: my-app
//	    secret: my-secret
//	    redirect_uris: [http://localhost:5000/login/callback]
//	    post_logout_redirect_uris: [http://localhost:5000/logout/callback]
//	users:
//	  - {username: dev@example.com, password: dev, groups: [Everyone, Engineering]}
//
// [DefaultConfig] builds the configuration used when there is no file.
//
// # State file
//
// A restarted issuer with fresh keys refuses every token it issued before,
// and fresh credentials break every client configured with the old ones.
// [WriteStateFile] keeps the signing keys ([Issuer.Keys], and after each
// rotation [Config.OnRotate]) and the credentials a command generated in a
// JSON file: the keys as private JWKs, the file written to a temporary file
// of mode 0600 and renamed into place, its directory created 0700.
// [ReadStateFile] gives them back for [Config.Keys] and refuses a file that
// others may read or write, that another user owns, or that is damaged,
// saying how to fix it. Sessions, codes and refresh tokens are not kept.
package devissuer
