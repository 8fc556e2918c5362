package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/apiguard/apiguard/internal/urlcheck"
)

// Rules are what a Gateway enforces: its routes and their default
// upstream. [New] takes them and [Gateway.Reload] replaces them at run
// time. The yaml tags name their keys in the file of `apiguard gateway`,
// which holds them beside its own settings.
type Rules struct {
	// Upstream is the default upstream base URL: http (to any host: the
	// upstreams are usually internal services) or https, with an optional
	// path prefix, and without credentials, query or fragment. It may be
	// empty when every route names its own upstream, or when the gateway
	// only answers /auth decisions for nginx, Traefik or Caddy.
	Upstream string `yaml:"upstream"`
	// Routes are tried in order; the first match wins. A request matching
	// no route is refused with 404. At least one is required.
	Routes []Route `yaml:"routes"`
}

// Route is one rule. A request matches when its path matches Path and its
// method is in Methods. The yaml tags name a route's keys in the file of
// `apiguard gateway`.
type Route struct {
	// Name labels the route in metrics and logs. Default: the methods and
	// path, e.g. "GET /orders/**".
	Name string `yaml:"name"`
	// Path is a glob over path segments: "*" matches exactly one non-empty
	// segment, "**" any number of segments (including none, so "/a/**"
	// matches "/a"). Literal segments hold only ASCII letters, digits and
	// "-._~". A request path is also read as upstream frameworks may read
	// it (ignoring case, without ";" parameters, with or without a trailing
	// "/"); when those readings pick different routes it is refused with
	// 400 (see the package documentation).
	Path string `yaml:"path"`
	// Methods restricts the route to these methods; empty means any. GET
	// implies HEAD. A request's method is matched in upper case ("post" is
	// POST, and is sent upstream as POST); extension methods (PROPFIND, …)
	// match only routes without Methods.
	Methods []string `yaml:"methods"`
	// Public routes are proxied without any token check and without
	// identity headers. A public route must not name scopes, groups or
	// claims.
	Public bool `yaml:"public"`
	// Scopes must all be granted to the token.
	Scopes []string `yaml:"scopes"`
	// Groups: the token must be in at least one of them.
	Groups []string `yaml:"groups"`
	// Claims maps a claim name to its allowed values: the claim must equal
	// (or, for an array claim, contain) one of them. Every listed claim
	// must be satisfied.
	Claims map[string][]string `yaml:"claims"`
	// Issuers restricts the route to tokens of these issuers, by their
	// names (apiguard.Config.Name): a valid token of another issuer is
	// refused with 401 invalid_token ("wrong issuer: issuer employees is not
	// accepted here") before any key fetch from its issuer. Empty: every
	// issuer of the gateway's verifier. Naming issuers needs the
	// Middleware's Verifier to be an *apiguard.Issuers that has them.
	Issuers []string `yaml:"issuers"`
	// Upstream overrides Rules.Upstream for this route.
	Upstream string `yaml:"upstream"`
	// ForwardToken sends the client's Authorization header upstream. By
	// default it is removed.
	ForwardToken bool `yaml:"forward_token"`
	// ForwardCookies sends the client's Cookie header upstream. By default
	// it is removed, so a session cookie for another application on the same
	// site never reaches the upstream.
	ForwardCookies bool `yaml:"forward_cookies"`
	// MethodOverride keeps the method-override headers
	// (X-HTTP-Method-Override, X-HTTP-Method, X-Method-Override) and allows
	// a _method query parameter, for upstreams that need them. By default
	// the headers are removed and the parameter is refused with 400, since
	// the upstream would run another method than the one the rules checked.
	// A route with MethodOverride must take every method (no Methods).
	MethodOverride bool `yaml:"method_override"`
}

// Validate reports the first problem in r, as New and Reload would: a
// problem in a route is a *RouteError.
func (r Rules) Validate() error {
	_, err := compile(r)
	return err
}

// RouteError is a problem in Rules.Routes[Index], whose Path it names, so
// that a caller reading the rules from a file can say where the route is.
type RouteError struct {
	Index int
	Path  string
	Err   error
}

func (e *RouteError) Error() string {
	return fmt.Sprintf("routes[%d] (%s): %v", e.Index, e.Path, e.Err)
}

func (e *RouteError) Unwrap() error { return e.Err }

// AuthProxies are the values of Options.AuthProxy (any letter case; empty
// means AuthProxyNginx).
func AuthProxies() []string { return []string{AuthProxyNginx, AuthProxyTraefik, AuthProxyCaddy} }

// methodBit maps a method a route may name to its bit of a mask, its index
// in methodNames; 0 for any other method.
func methodBit(m string) uint16 {
	for i, name := range methodNames {
		if m == name {
			return 1 << i
		}
	}
	return 0
}

// parseUpstream validates an upstream base URL: urlcheck's rule with plain
// http allowed to any host (upstreams are internal services), and nothing
// a path cannot be appended to or that would be echoed with a secret.
func parseUpstream(s string) (*url.URL, error) {
	shown := s // with any password hidden
	if u, err := url.Parse(s); err == nil {
		shown = u.Redacted()
	}
	// Upstreams are internal services: plain http to any host is fine.
	u, err := urlcheck.Base(s)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", shown, err)
	}
	return u, nil
}

// defaultName is the metrics label of a route without a name.
func defaultName(r *Route) string {
	if len(r.Methods) == 0 {
		return r.Path
	}
	return strings.ToUpper(strings.Join(r.Methods, ",")) + " " + r.Path
}

// covers reports whether an earlier route with mask a always wins over a
// later one with mask b on the same path.
func covers(a, b uint16) bool {
	return a == 0 || (b != 0 && a&b == b)
}

func validName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n")
}

func checkRoute(r *Route) error {
	if r.Path == "" {
		return errors.New("path is required")
	}
	if r.Public && (len(r.Scopes) > 0 || len(r.Groups) > 0 || len(r.Claims) > 0 || len(r.Issuers) > 0) {
		return errors.New("a public route must not name scopes, groups, claims or issuers")
	}
	for i, name := range r.Issuers {
		if strings.TrimSpace(name) == "" {
			return errors.New("issuers: empty issuer name")
		}
		if slices.Contains(r.Issuers[:i], name) {
			return fmt.Errorf("issuers: %q is named twice", name)
		}
	}
	for _, m := range r.Methods {
		if methodBit(strings.ToUpper(m)) == 0 {
			return fmt.Errorf("unknown method %q", m)
		}
	}
	if r.MethodOverride && len(r.Methods) > 0 {
		return errors.New("method_override: the route must take every method (no methods), since the upstream may run any of them")
	}
	for _, s := range r.Scopes {
		if !validName(s) {
			return fmt.Errorf("bad scope %q: must be non-empty without spaces", s)
		}
	}
	for _, g := range r.Groups {
		if strings.TrimSpace(g) == "" {
			return errors.New("empty group name")
		}
	}
	for name, values := range r.Claims {
		if !validName(name) {
			return fmt.Errorf("bad claim name %q", name)
		}
		if len(values) == 0 {
			return fmt.Errorf("claims.%s: needs at least one allowed value", name)
		}
		if slices.Contains(values, "") {
			return fmt.Errorf("claims.%s: empty value", name)
		}
	}
	return nil
}
