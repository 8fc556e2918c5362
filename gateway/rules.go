package gateway

import (
	"errors"
	"fmt"
	"math/bits"
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
	methodOverride bool                 // keep method-override headers and a _method query parameter
	issuers        []string             // the route's issuers; nil: any
	mw             *apiguard.Middleware // the gateway's, with a verifier of issuers only (bind)
}

// middleware returns the Middleware that checks r's tokens: its own when
// the route names issuers, else def.
func (r *rule) middleware(def *apiguard.Middleware) *apiguard.Middleware {
	if r.mw != nil {
		return r.mw
	}
	return def
}

// ruleset is an immutable compiled Rules; reloads swap whole sets.
type ruleset struct {
	rules []rule
	// foldLits is set when a literal has an upper-case letter, so that
	// case-insensitive readings can differ even for a lower-case path.
	foldLits bool
}

// errMethodSpelling refuses a method that differs from its canonical
// spelling where the gateway cannot send the canonical one upstream.
var errMethodSpelling = errors.New("method is not in canonical form")

// errBadMethod refuses a method that is not an HTTP token.
var errBadMethod = errors.New("method is not a valid HTTP token")

// errAmbiguousPath is wrapped by the error for a path that upstreams could
// route to different rules depending on how they read it.
var errAmbiguousPath = errors.New("path is ambiguous")

// ambiguousError says which two readings of a path picked different rules.
type ambiguousError struct {
	asSent, other *rule // nil: no route
	reading       reading
	either        bool // the other reading also took the path with its trailing "/" toggled
}

func (e *ambiguousError) Error() string {
	var how []string
	if e.reading.fold {
		how = append(how, "ignoring case")
	}
	if e.reading.strip {
		how = append(how, "without ; parameters")
	}
	if e.either {
		how = append(how, "with or without a trailing /")
	}
	return fmt.Sprintf("%v: as sent it matches %s, read %s it matches %s",
		errAmbiguousPath, ruleLabel(e.asSent), strings.Join(how, " and "), ruleLabel(e.other))
}

func (e *ambiguousError) Unwrap() error { return errAmbiguousPath }

func ruleLabel(r *rule) string {
	if r == nil {
		return "no route"
	}
	return fmt.Sprintf("route %q", r.name)
}

// resolve returns the rule for a request with the given method (as the
// client sent it) and routed path (from routePath), the canonical method the
// rule was chosen for, or an error for a request that must be refused with
// 400 because its spelling could reach an upstream handler under another rule.
// A nil rule and nil error means no route matches (404).
//
// Methods: a standard method in any case ("post", "Delete") is read as its
// upper-case form, which the proxy then sends upstream; other methods are
// extension methods, matched only by routes that take any method. A method
// that is not an HTTP token is refused.
//
// Paths: the rules stand for the upstream's handlers, and the rule picked
// for the path as sent must be the one every common way of routing picks,
// or the request is refused (no route counts as a rule). The ways are
// combinations of: literals compared ignoring case (as .NET, Java and
// express compare; see foldEqual); ";" parameters cut off each segment
// (Tomcat, Spring, Jetty); and a trailing "/" that does not matter, so that
// a rule matches when the path with or without it does (express, ASP.NET,
// Spring before 6; Flask and Go's ServeMux route exactly and redirect).
// Ways that cannot differ from the exact one are skipped: folding when
// neither the path nor any literal has an upper-case or non-ASCII letter,
// stripping when the path has no ";".
func (rs *ruleset) resolve(method, path string) (*rule, string, error) {
	canon, ok := canonicalMethod(method)
	if !ok {
		return nil, method, errBadMethod
	}
	bit := methodBit(canon)
	first := rs.pick(bit, path, reading{}, false)
	folds := rs.foldLits || needsFold(path)
	strips := strings.IndexByte(path, ';') >= 0
	for i := 1; i < 8; i++ {
		rd, either := reading{fold: i&1 != 0, strip: i&2 != 0}, i&4 != 0
		if (rd.fold && !folds) || (rd.strip && !strips) {
			continue
		}
		if r := rs.pick(bit, path, rd, either); r != first {
			return nil, canon, &ambiguousError{asSent: first, other: r, reading: rd, either: either}
		}
	}
	return first, canon, nil
}

// match returns the first rule for a canonical method and the path as sent,
// or nil. It does not allocate.
func (rs *ruleset) match(method, path string) *rule {
	return rs.pick(methodBit(method), path, reading{}, false)
}

// pick returns the first rule for the method bit (0: an extension method,
// matched only by routes taking any method) whose pattern matches path read
// as rd, or with either, matches it with or without its trailing "/".
func (rs *ruleset) pick(bit uint16, path string, rd reading, either bool) *rule {
	// other is path with its trailing "/" toggled: removed, or added by
	// reading it with addSlash. "/" has no other spelling.
	other, ord := path, rd
	switch {
	case !either || path == "/":
		either = false
	case path[len(path)-1] == '/':
		other = path[:len(path)-1]
	default:
		ord.addSlash = true
	}
	for i := range rs.rules {
		r := &rs.rules[i]
		if r.methods != 0 && r.methods&bit == 0 {
			continue
		}
		if r.pat.matchAs(path, rd) || (either && r.pat.matchAs(other, ord)) {
			return r
		}
	}
	return nil
}

// needsFold reports whether path has a byte that case folding may change:
// an ASCII upper-case letter or any non-ASCII byte.
func needsFold(path string) bool {
	for i := 0; i < len(path); i++ {
		if c := path[i]; ('A' <= c && c <= 'Z') || c >= 0x80 {
			return true
		}
	}
	return false
}

// methodNames are the methods methodBit knows, by bit number.
var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}

// canonicalMethod returns the upper-case spelling of a standard method in
// any case, m itself for an extension method, and false when m is not an
// HTTP token (RFC 9110 section 5.6.2).
func canonicalMethod(m string) (string, bool) {
	if m == "" {
		return "", false
	}
	for i := 0; i < len(m); i++ {
		if !tokenChar(m[i]) {
			return "", false
		}
	}
	if methodBit(m) != 0 || len(m) > len("OPTIONS") {
		return m, true
	}
	var buf [len("OPTIONS")]byte
	for i := 0; i < len(m); i++ {
		c := m[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	if bit := methodBit(string(buf[:len(m)])); bit != 0 {
		return methodNames[bits.TrailingZeros16(bit)], true
	}
	return m, true
}

// tokenChar reports whether c may appear in an HTTP token.
func tokenChar(c byte) bool {
	return unreserved(c) || strings.IndexByte("!#$%&'*+^`|", c) >= 0
}

// compile validates rules and compiles them.
func compile(rules Rules) (*ruleset, error) {
	var defUpstream *url.URL
	if rules.Upstream != "" {
		u, err := parseUpstream(rules.Upstream)
		if err != nil {
			return nil, err
		}
		defUpstream = u
	}
	if len(rules.Routes) == 0 {
		return nil, errors.New("routes: at least one route is required")
	}
	rs := &ruleset{rules: make([]rule, 0, len(rules.Routes))}
	for i := range rules.Routes {
		r := &rules.Routes[i]
		wrap := func(err error) error { return &RouteError{Index: i, Path: r.Path, Err: err} }
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
			methodOverride: r.MethodOverride,
			issuers:        slices.Clone(r.Issuers),
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
		// The policies get copies: the caller keeps its Rules and may
		// change them while these are in force.
		if len(r.Scopes) > 0 {
			cr.policies = append(cr.policies, apiguard.RequireScopes(slices.Clone(r.Scopes)...))
		}
		if len(r.Groups) > 0 {
			cr.policies = append(cr.policies, apiguard.RequireGroups(slices.Clone(r.Groups)...))
		}
		names := make([]string, 0, len(r.Claims))
		for name := range r.Claims {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			cr.policies = append(cr.policies, apiguard.RequireClaim(name, slices.Clone(r.Claims[name])...))
		}
		for _, s := range pat.segs {
			if s.kind == segLiteral && needsFold(s.lit) {
				rs.foldLits = true
			}
		}
		rs.rules = append(rs.rules, cr)
	}
	return rs, nil
}

// bind gives each rule of rs that names issuers a copy of mw whose
// verifier accepts those issuers only, so a token of another issuer is
// refused before its issuer is asked for keys. A route naming issuers
// needs mw's Verifier to be an *apiguard.Issuers that has them.
func bind(rs *ruleset, mw *apiguard.Middleware) error {
	for i := range rs.rules {
		r := &rs.rules[i]
		if len(r.issuers) == 0 {
			continue
		}
		all, ok := mw.Verifier.(*apiguard.Issuers)
		if !ok {
			return &RouteError{Index: i, Path: r.pat.src, Err: errors.New("issuers: the gateway verifies the tokens of one issuer; naming issuers needs an apiguard.Issuers")}
		}
		view, err := all.Only(r.issuers...)
		if err != nil {
			return &RouteError{Index: i, Path: r.pat.src, Err: fmt.Errorf("issuers: %w", err)}
		}
		m := *mw
		m.Verifier = view
		r.mw = &m
	}
	return nil
}
