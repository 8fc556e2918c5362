// Package session keeps browser sessions on the server side.
//
// A [Manager] hands out sessions named by an opaque, random id that travels in
// a cookie; everything else stays in a [Store]. Sessions end after an idle
// timeout and after an absolute timeout, their id is rotated when the user
// logs in ([Manager.Rotate]) and they are deleted from the store at logout
// ([Manager.Destroy]).
//
// # Cookie
//
// The cookie is HttpOnly, SameSite=Lax and Path=/. When [Config.Secure] is set
// (the service is reached over https) it is also Secure and its name carries
// the __Host- prefix, so a sibling subdomain or a plain-http page cannot set
// or overwrite it. Its value is 256 bits from crypto/rand, base64url encoded.
//
// # Stores
//
// [MemoryStore] keeps sessions in process memory: bounded, expiring, for one
// instance. [RedisStore] keeps them in Redis (single node, Sentinel or
// Cluster through go-redis's UniversalClient) so that many instances behind a
// load balancer share them. The Redis store encrypts every session with
// AES-256-GCM under a key derived (HKDF-SHA-256) from a configured secret,
// with the session id as additional data, and names its keys by a hash of the
// id: a copy of the Redis data set gives neither session contents nor cookie
// values, and a blob copied under another session's key does not open.
//
// # Errors
//
// [ErrNoSession] means the request carries no session cookie;
// [ErrExpired] means it carries one that names no live session (expired,
// logged out, or never issued). [ErrUnavailable] means the store cannot be
// reached: callers answer 503, never "logged out".
package session
