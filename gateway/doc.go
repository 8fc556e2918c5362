// Package gateway puts apiguard's token checks in front of any upstream REST
// API: a reverse proxy with per-route rules, and a decision endpoint for
// nginx auth_request, Traefik ForwardAuth and Caddy forward_auth.
// `apiguard gateway` runs it from a YAML file; the package itself takes
// [Rules] and an [apiguard.Middleware]:
//
//	gw, err := gateway.New(&apiguard.Middleware{Verifier: v}, gateway.Rules{
//		Upstream: "http://orders.internal:8080",
//		Routes: []gateway.Route{
//			{Path: "/public/**", Public: true},
//			{Path: "/orders/**", Methods: []string{"GET"}, Scopes: []string{"orders:read"}},
//		},
//	}, gateway.Options{})
//
// # Rules
//
// [Rules] list routes; the first whose path glob and methods match a
// request decides it, and a request no route matches is refused with 404. Globs work on path segments: "*" is one non-empty
// segment, "**" any number (including none, so "/a/**" matches "/a");
// literal segments hold only ASCII letters, digits and "-._~". A route is
// public, or requires a valid token plus all of its scopes, one of its
// groups and each of its claims. Refusals are apiguard's RFC 6750 answers:
// 401 (with WWW-Authenticate), 403 insufficient_scope, 503 while the
// issuer's keys cannot be had.
//
// # Matching fails closed
//
// Upstream frameworks disagree on which handler a path reaches, so the
// gateway matches each request the ways they route and serves it only when
// every way picks the same route (no route counts as one); otherwise it
// answers 400 "path is ambiguous". The ways combine: literals compared
// exactly or ignoring case (Unicode simple case mappings onto ASCII
// letters, as .NET and Java compare; express ignores ASCII case), ";"
// parameters kept or cut off each segment (Tomcat, Spring, Jetty), and the
// trailing "/" significant (Go's ServeMux, Flask) or ignored (express,
// ASP.NET, Spring before 6). A standard method in another case ("post") is
// matched and proxied in upper case; extension methods match only routes
// without methods. The README has a table per framework.
//
// Request paths that an upstream could decode differently from the
// gateway are refused with 400 before any rule is tried: dot segments
// (also "..;"), empty segments, backslashes, encoded slashes and
// backslashes, percent-encoded unreserved characters ("%61"), encodings
// left after decoding ("%2561"), invalid UTF-8 and control characters. The
// path that was matched is the path the upstream receives.
//
// # Proxying
//
// Allowed requests go to the route's upstream through
// [net/http/httputil.ReverseProxy] with a Rewrite function, or, for a
// request without a body to an http:// upstream with the default
// transport, through the same steps done by the gateway itself over
// kept-alive HTTP/1.1 connections (fewer allocations and no goroutine
// hand-offs per request; responses with both Content-Length and
// Transfer-Encoding are answered with 502). Every inbound
// X-Auth-*, X-Forwarded-*, X-Original-*, X-Real-Ip and Forwarded header is
// removed (names compared case-insensitively, "_" read as "-"), then
// X-Forwarded-For/-Host/-Proto are set from the connection and the identity
// of a verified token is added: X-Auth-Subject, X-Auth-Client-Id,
// X-Auth-Scopes (space-separated) and X-Auth-Groups (comma-separated), each
// value or element percent-encoded so that splitting a list can never yield a
// name the token did not carry (see [HeaderGroups]). The gateway must
// therefore be the first hop that clients reach.
//
// The URL-override headers X-Rewrite-URL, X-Override-URL and
// X-Envoy-Original-* are removed as well, and so are the method-override
// headers X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override, and a
// _method query parameter is refused with 400, unless the route sets
// MethodOverride (a _method field in a POST body cannot be seen: make POST
// rules as strict as what such upstreams turn a POST into). An Upgrade
// header naming anything but websocket (h2c among them) is refused with
// 400.
//
// The Authorization, DPoP and Cookie headers are removed unless the route
// sets ForwardToken (Authorization and DPoP) or ForwardCookies. Responses
// of unknown length and text/event-stream responses are flushed as they
// arrive; WebSocket upgrades and large bodies pass through; an unreachable
// upstream is answered with 502 {"error":"bad_gateway",…}.
//
// # DPoP and introspection
//
// The gateway decides with the [apiguard.Middleware] it is given, so DPoP
// (set Middleware.Binding to a dpop.Checker) and token introspection (set
// Middleware.Verifier to an introspect.Verifier) work as they do anywhere
// else. Set
// dpop.Config.PublicURL to the URL clients reach the API at: a proof's htu
// is checked against it plus the request path.
//
// At /auth the request decided is the one described by the header pair of
// the configured proxy (Options.AuthProxy: X-Original-Method and
// X-Original-URI for nginx, the default; X-Forwarded-Method and
// X-Forwarded-Uri for Traefik and Caddy), never GET /auth itself. A decision
// request missing one of the pair, repeating it, or carrying the other pair
// is refused with 400, as is one carrying a method- or URL-override header,
// a _method parameter or a non-WebSocket Upgrade, which the proxy would pass
// on to the API. A DPoP proof must name the described method
// (htm) and PublicURL plus the forwarded path (htu), and its DPoP header
// is read from the decision request, which nginx and Traefik copy from the
// client's. X-Forwarded-Proto and X-Forwarded-Host are never used for htu:
// /auth may be reachable by clients, who could set them.
//
// # Reserved paths
//
// /healthz, /readyz, /metrics and /auth are answered by the gateway itself,
// on exact paths only. By default they share the main handler and those
// four paths are never proxied; with [Options].SeparateAdmin they move to
// [Gateway.AdminHandler], for an address of their own, and the main handler
// proxies every path.
//
// # Reloading
//
// [Gateway.Reload] swaps in new Rules atomically; requests in flight keep
// the rules they started with, and bad rules are an error while the
// running ones stay. Options are fixed for the Gateway's life.
// `apiguard gateway` reloads its file when it changes and on SIGHUP.
//
// # Metrics
//
// apiguard_gateway_requests_total{handler,route,status,reason} and
// apiguard_gateway_upstream_duration_seconds{route} (time to response
// headers), in [Options].Registry.
package gateway
