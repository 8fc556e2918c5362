package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/apiguard/apiguard"
)

// rule is one compiled Route.
type rule struct {
	name           string
	pat            pattern
	methods        uint16 // 0: any method
	public         bool
	policies       []apiguard.Policy
	upstream       *url.URL // nil: no upstream, decisions only
	forwardToken   bool
	forwardCookies bool
}

// ruleset is an immutable compiled configuration; reloads swap whole sets.
type ruleset struct {
	cfg   *Config
	rules []rule
}

// errMethodSpelling refuses a method that differs from its canonical
// spelling where the gateway cannot send the canonical one upstream.
var errMethodSpelling = errors.New("method is not in canonical form")

// resolve returns the rule for a request with the given method (as the
// client sent it) and routed path (from routePath), the canonical method the
// rule was chosen for, or an error for a request that must be refused with
// 400 because its spelling could reach an upstream handler under another rule.
// A nil rule and nil error means no route matches (404).
func (rs *ruleset) resolve(method, path string) (*rule, string, error) {
	return rs.match(method, path), method, nil
}

// match returns the first rule for method and the cleaned path, or nil.
// It does not allocate.
func (rs *ruleset) match(method, path string) *rule {
	bit := methodBit(method)
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.methods != 0 && r.methods&bit == 0 {
			continue
		}
		if r.pat.match(path) {
			return r
		}
	}
	return nil
}

// compile validates cfg and compiles its routes.
func compile(cfg *Config) (*ruleset, error) {
	if err := checkAddr("listen", cfg.Listen); err != nil {
		return nil, err
	}
	if err := checkAddr("admin_listen", cfg.AdminListen); err != nil {
		return nil, err
	}
	if cfg.AdminListen != "" && cfg.AdminListen == cfg.Listen {
		return nil, errors.New("admin_listen must differ from listen")
	}
	if cfg.Issuer != "" {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("issuer %q: want an absolute http(s) URL", cfg.Issuer)
		}
	}
	if err := checkTokenSettings(cfg); err != nil {
		return nil, err
	}
	for _, id := range cfg.ClientIDs {
		if !validName(id) {
			return nil, fmt.Errorf("client_ids: bad client id %q", id)
		}
	}
	var defUpstream *url.URL
	if cfg.Upstream != "" {
		u, err := parseUpstream(cfg.Upstream)
		if err != nil {
			return nil, err
		}
		defUpstream = u
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("routes: at least one route is required")
	}
	rs := &ruleset{cfg: cfg, rules: make([]rule, 0, len(cfg.Routes))}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		wrap := func(err error) error { return &routeError{Index: i, Path: r.Path, Err: err} }
		if err := checkRoute(r); err != nil {
			return nil, wrap(err)
		}
		pat, err := compilePattern(r.Path)
		if err != nil {
			return nil, wrap(err)
		}
		cr := rule{
			name:           r.Name,
			pat:            pat,
			public:         r.Public,
			upstream:       defUpstream,
			forwardToken:   r.ForwardToken,
			forwardCookies: r.ForwardCookies,
		}
		if cr.name == "" {
			cr.name = defaultName(r)
		}
		for _, m := range r.Methods {
			cr.methods |= methodBit(strings.ToUpper(m))
		}
		if cr.methods&methodBit("GET") != 0 {
			cr.methods |= methodBit("HEAD")
		}
		if r.Upstream != "" {
			u, err := parseUpstream(r.Upstream)
			if err != nil {
				return nil, wrap(err)
			}
			cr.upstream = u
		}
		for j := range rs.rules {
			if prev := &rs.rules[j]; prev.pat.src == pat.src && covers(prev.methods, cr.methods) {
				return nil, wrap(fmt.Errorf("never matches: routes[%d] has the same path and takes all its methods first", j))
			}
		}
		if len(r.Scopes) > 0 {
			cr.policies = append(cr.policies, apiguard.RequireScopes(r.Scopes...))
		}
		if len(r.Groups) > 0 {
			cr.policies = append(cr.policies, apiguard.RequireGroups(r.Groups...))
		}
		names := make([]string, 0, len(r.Claims))
		for name := range r.Claims {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			cr.policies = append(cr.policies, apiguard.RequireClaim(name, r.Claims[name]...))
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs, nil
}
