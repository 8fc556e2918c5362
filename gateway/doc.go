// Package gateway puts apiguard's token checks in front of any upstream REST
// API: a reverse proxy with per-route rules, and a decision endpoint for
// nginx auth_request and Traefik ForwardAuth. `apiguard gateway` runs it.
//
// # Rules
//
// A [Config] (YAML, decoded strictly) lists routes; the first whose path glob
// and methods match a request decides it, and a request no route matches is
// refused with 404. Globs work on path segments: "*" is one non-empty
// segment, "**" any number (including none, so "/a/**" matches "/a").
// Matching is case-sensitive. A route is public, or requires a valid token
// plus all of its scopes, one of its groups and each of its claims.
// Refusals are apiguard's RFC 6750 answers: 401 (with WWW-Authenticate),
// 403 insufficient_scope, 503 while the issuer's keys cannot be had.
//
// Request paths that an upstream could read differently from the gateway
// are refused with 400 before any rule is tried: dot segments (also
// "..;"), empty segments, backslashes and encoded slashes. The path that was
// matched is the path the upstream receives.
//
// # Proxying
//
// Allowed requests go to the route's upstream through
// [net/http/httputil.ReverseProxy] with a Rewrite function. Every inbound
// X-Auth-*, X-Forwarded-*, X-Original-*, X-Real-Ip and Forwarded header is
// removed (names compared case-insensitively, "_" read as "-"), then
// X-Forwarded-For/-Host/-Proto are set from the connection and the identity
// of a verified token is added: X-Auth-Subject, X-Auth-Client-Id,
// X-Auth-Scopes (space-separated) and X-Auth-Groups (comma-separated). The
// gateway must therefore be the first hop that clients reach.
//
// The Authorization, DPoP and Cookie headers are removed unless the route
// sets forward_token (Authorization and DPoP) or forward_cookies. Responses of unknown length and
// text/event-stream responses are flushed as they arrive; WebSocket upgrades
// and large bodies pass through; an unreachable upstream is answered with
// 502 {"error":"bad_gateway",…}.
//
// # DPoP and introspection
//
// The gateway decides with the [apiguard.Middleware] it is given, so DPoP
// (set Middleware.DPoP) and token introspection (the Verifier's
// Config.Introspection) work as they do anywhere else. Set
// DPoPConfig.PublicURL to the URL clients reach the API at: a proof's htu
// is checked against it plus the request path.
//
// At /auth the request decided is the one described by the forwarded
// method and URI, not GET /auth: a DPoP proof must name that method
// (htm) and PublicURL plus the forwarded path (htu), and its DPoP header
// is read from the decision request, which nginx and Traefik copy from the
// client's. X-Forwarded-Proto and X-Forwarded-Host are never used for htu:
// /auth may be reachable by clients, who could set them.
//
// # Reserved paths
//
// /healthz, /readyz, /metrics and /auth are answered by the gateway itself,
// on exact paths only. Without admin_listen they share the main listener
// and those four paths are never proxied; with admin_listen they move to
// that address ([Gateway.AdminHandler]) and the main listener proxies every
// path.
//
// # Reloading
//
// [Gateway.Watch] reloads the file when it changes (it watches the
// directory, so editors' and Kubernetes' file replacements are seen) and on
// SIGHUP. A bad file is logged and the running rules stay; good rules are
// swapped in atomically. Listen addresses, issuer, audience, client ids,
// public_url and the introspection and DPoP settings need a restart.
//
// # Metrics
//
// apiguard_gateway_requests_total{handler,route,status,reason},
// apiguard_gateway_upstream_duration_seconds{route} (time to response
// headers) and apiguard_gateway_config_reloads_total{result}, in the
// gateway's own registry.
package gateway
