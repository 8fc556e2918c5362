package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultListen is the address the gateway listens on when neither the file
// nor a flag names one.
const DefaultListen = "127.0.0.1:8080"

// Config is the gateway's configuration file. It is decoded strictly: an
// unknown field is an error naming the field and its line.
type Config struct {
	// Listen is the proxy's address, host:port. Default DefaultListen.
	// Changing it needs a restart.
	Listen string `yaml:"listen"`
	// AdminListen, when set, is a separate address for /healthz, /readyz,
	// /metrics and /auth; the main listener then proxies every path. When
	// empty those four exact paths are served on Listen and never proxied.
	// Changing it needs a restart.
	AdminListen string `yaml:"admin_listen"`
	// Upstream is the default upstream base URL (http or https, no query).
	// It may be empty when every route names its own upstream, or when the
	// gateway only answers /auth decisions for nginx or Traefik.
	Upstream string `yaml:"upstream"`
	// Issuer is the token issuer; the OKTA_ISSUER environment variable
	// overrides it. Changing it needs a restart.
	Issuer string `yaml:"issuer"`
	// Audience is the expected aud; OKTA_AUDIENCE overrides it. Default
	// "api://default". Changing it needs a restart.
	Audience string `yaml:"audience"`
	// ClientIDs, when set, is the allowlist of clients (cid, client_id or
	// azp) whose tokens are accepted; OKTA_CLIENT_ID overrides it with a
	// single client. Changing it needs a restart.
	ClientIDs []string `yaml:"client_ids"`
	// PublicURL is the URL clients reach the API at, e.g.
	// https://api.example.com: the gateway's own address, or, when the
	// gateway answers /auth for nginx or Traefik, the site they serve. A
	// DPoP proof's htu must be PublicURL followed by the request's path
	// (at /auth, the path of the URI header AuthProxy names).
	// APIGUARD_PUBLIC_URL overrides it.
	// Default: http:// and the listen address. Changing it needs a restart.
	PublicURL string `yaml:"public_url"`
	// Introspection says which tokens are checked at the issuer's
	// introspection endpoint (RFC 7662): "off", "opaque" (tokens that are
	// not JWTs) or "always" (every token, so a revocation is seen).
	// APIGUARD_INTROSPECTION overrides it. Default "off". Changing it needs
	// a restart.
	Introspection string `yaml:"introspection"`
	// IntrospectionCacheTTL is the longest an introspection result is
	// reused, a duration such as "30s"; "0" asks the issuer on every
	// request. APIGUARD_INTROSPECTION_CACHE_TTL overrides it. Default "1m".
	// Changing it needs a restart.
	IntrospectionCacheTTL string `yaml:"introspection_cache_ttl"`
	// DPoP says how DPoP-bound tokens (RFC 9449) are treated: "on"
	// (accepted with a valid proof, beside bearer tokens), "required"
	// (only DPoP-bound tokens) or "off" (refused). APIGUARD_DPOP overrides
	// it. Default "on". Changing it needs a restart.
	DPoP string `yaml:"dpop"`
	// DPoPNonce, when true, requires DPoP proofs to carry a nonce the
	// gateway issued. APIGUARD_DPOP_NONCE overrides it. Default false.
	// Changing it needs a restart.
	DPoPNonce *bool `yaml:"dpop_nonce"`
	// AuthProxy names the proxy that asks /auth for decisions, and so the
	// one pair of headers that describes the request being decided:
	// "nginx" (the default) X-Original-Method and X-Original-URI,
	// "traefik" or "caddy" X-Forwarded-Method and X-Forwarded-Uri. A
	// decision request without both headers of that pair, with two values
	// of one, or with any header of the other pair is refused with 400.
	// With nginx, /auth refusals carry their challenges and JSON body in
	// X-Apiguard-* headers instead of WWW-Authenticate (HeaderAuthError),
	// for nginx to answer the client with. APIGUARD_AUTH_PROXY overrides
	// it (Options.AuthProxy). Changing it needs a restart.
	AuthProxy string `yaml:"auth_proxy"`
	// Routes are tried in order; the first match wins. A request matching no
	// route is refused with 404.
	Routes []Route `yaml:"routes"`
}

// Route is one rule. A request matches when its path matches Path and its
// method is in Methods.
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
	// Upstream overrides Config.Upstream for this route.
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

// ParseConfig decodes and validates a configuration file's contents.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty")
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			// One line per problem, "line N: field x not found in type …".
			return nil, fmt.Errorf("failed to decode config: %s", strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("failed to decode config: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config must hold exactly one YAML document")
	}
	if _, err := compile(&cfg); err != nil {
		return nil, withLine(data, err)
	}
	return &cfg, nil
}

// LoadConfig reads and validates the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("failed to read gateway config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("invalid gateway config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate reports the first problem in c, naming the setting.
func (c *Config) Validate() error {
	_, err := compile(c)
	return err
}

// routeError is a validation error in routes[Index].
type routeError struct {
	Index int
	Path  string
	Err   error
}

func (e *routeError) Error() string {
	return fmt.Sprintf("routes[%d] (%s): %v", e.Index, e.Path, e.Err)
}

func (e *routeError) Unwrap() error { return e.Err }

// withLine prefixes a route error with the line of the route in data.
func withLine(data []byte, err error) error {
	var re *routeError
	if !errors.As(err, &re) {
		return err
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return err
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "routes" && re.Index < len(root.Content[i+1].Content) {
			return fmt.Errorf("line %d: %w", root.Content[i+1].Content[re.Index].Line, err)
		}
	}
	return err
}

// IntrospectionModes are the values of Config.Introspection (any letter
// case; empty means "off").
func IntrospectionModes() []string { return []string{"off", "opaque", "always"} }

// DPoPModes are the values of Config.DPoP (any letter case; empty means
// "on").
func DPoPModes() []string { return []string{"on", "off", "required"} }

// AuthProxies are the values of Config.AuthProxy (any letter case; empty
// means AuthProxyNginx).
func AuthProxies() []string { return []string{AuthProxyNginx, AuthProxyTraefik, AuthProxyCaddy} }

// checkTokenSettings validates the introspection, DPoP and auth_proxy
// settings.
func checkTokenSettings(c *Config) error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return fmt.Errorf("public_url %q: want an absolute http(s) URL without credentials, query or fragment", c.PublicURL)
		}
	}
	if v := strings.ToLower(c.Introspection); v != "" && !slices.Contains(IntrospectionModes(), v) {
		return fmt.Errorf("introspection %q: want off, opaque or always", c.Introspection)
	}
	if c.IntrospectionCacheTTL != "" {
		if d, err := time.ParseDuration(c.IntrospectionCacheTTL); err != nil || d < 0 {
			return fmt.Errorf("introspection_cache_ttl %q: want a duration like 30s or 5m", c.IntrospectionCacheTTL)
		}
	}
	if v := strings.ToLower(c.DPoP); v != "" && !slices.Contains(DPoPModes(), v) {
		return fmt.Errorf("dpop %q: want on, off or required", c.DPoP)
	}
	if c.DPoPNonce != nil && *c.DPoPNonce && strings.EqualFold(c.DPoP, "off") {
		return errors.New("dpop_nonce: needs dpop on or required")
	}
	if _, err := authPairFor(c.AuthProxy); err != nil {
		return fmt.Errorf("auth_proxy %q: %w", c.AuthProxy, err)
	}
	return nil
}

// methodBits maps the methods a route may name to bits of a mask.
func methodBit(m string) uint16 {
	switch m {
	case "GET":
		return 1 << 0
	case "HEAD":
		return 1 << 1
	case "POST":
		return 1 << 2
	case "PUT":
		return 1 << 3
	case "PATCH":
		return 1 << 4
	case "DELETE":
		return 1 << 5
	case "OPTIONS":
		return 1 << 6
	case "CONNECT":
		return 1 << 7
	case "TRACE":
		return 1 << 8
	}
	return 0
}

func checkAddr(name, addr string) error {
	if addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s %q: want host:port: %w", name, addr, err)
	}
	return nil
}

// parseUpstream validates an upstream base URL.
func parseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("upstream %q: scheme must be http or https", s)
	case u.Host == "" || u.Opaque != "":
		return nil, fmt.Errorf("upstream %q: missing host", s)
	case u.User != nil:
		return nil, fmt.Errorf("upstream %q: must not contain credentials", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("upstream %q: must not contain a query or fragment", s)
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
	if r.Public && (len(r.Scopes) > 0 || len(r.Groups) > 0 || len(r.Claims) > 0) {
		return errors.New("a public route must not name scopes, groups or claims")
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
