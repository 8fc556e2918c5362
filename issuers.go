package apiguard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/apiguard/apiguard/internal/defaults"
)

// Issuer is one authorization server of an [Issuers]: its [Config] and,
// optionally, how its tokens are introspected.
type Issuer struct {
	// Config configures the issuer's [Verifier]: issuer URL, audience,
	// algorithms, client allowlist, leeway, … Its Name is required and
	// names the issuer in [Claims.IssuerName], gateway rules, metrics and
	// readiness reports.
	Config Config

	// Introspect, when set, makes the verifier this issuer's tokens go
	// through, from the issuer's own Verifier: package introspect's New,
	//
	//	func(v *apiguard.Verifier) (apiguard.TokenVerifier, error) { return introspect.New(v, icfg) }
	//
	// The issuer's JWTs are then verified by it (so its Always mode holds),
	// and opaque tokens may go to it (see [Issuers.Verify]).
	Introspect func(v *Verifier) (TokenVerifier, error)
}

// Issuers verifies the tokens of several authorization servers, each with
// its own [Config]. It implements [TokenVerifier], so a [Middleware] and
// its policies work on it unchanged. It is safe for concurrent use.
//
// A JWT's issuer is chosen by its iss claim, read from the payload before
// any signature check or key fetch and compared byte for byte with the
// configured issuers (no trailing-slash or case leniency). The choice is
// not trust: the chosen issuer's Verifier then checks the token in full,
// iss included, with that issuer's keys alone. A token whose iss is none of
// the configured issuers is refused with [ErrUnknownIssuer] and causes no
// request to any issuer.
type Issuers struct {
	list   []issuerEntry
	byIss  map[string]int // iss → index in list, of every configured issuer
	allow  []bool         // by index: accepted by this view (see Only)
	opaque []int          // accepted issuers with introspection, in order
	cache  *tokenCache    // shared by the issuers' verifiers; nil when all have theirs off
	clock  func() time.Time
}

type issuerEntry struct {
	name   string
	v      *Verifier
	tv     TokenVerifier // v, or the introspecting verifier made from it
	intros bool
}

// NewIssuers returns a verifier over issuers, in the order given: that
// order is the order opaque tokens are introspected in. Names and issuer
// URLs must be unique. Like [New] it contacts no issuer.
func NewIssuers(issuers ...Issuer) (*Issuers, error) {
	if len(issuers) == 0 {
		return nil, errors.New("apiguard: NewIssuers needs at least one issuer")
	}
	m := &Issuers{byIss: make(map[string]int, len(issuers))}
	names := make(map[string]bool, len(issuers))
	sameClock := true
	for i, is := range issuers {
		cfg := is.Config
		where := fmt.Sprintf("apiguard: issuers[%d]", i)
		switch {
		case cfg.Name == "":
			return nil, fmt.Errorf("%s: Config.Name is required", where)
		case names[cfg.Name]:
			return nil, fmt.Errorf("%s: Config.Name %q is used twice", where, cfg.Name)
		}
		if _, dup := m.byIss[cfg.Issuer]; dup {
			return nil, fmt.Errorf("%s (%s): Config.Issuer %q is configured twice", where, cfg.Name, cfg.Issuer)
		}
		v, err := New(cfg)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", where, cfg.Name, err)
		}
		v.slot = uint32(i)
		e := issuerEntry{name: cfg.Name, v: v, tv: v}
		if is.Introspect != nil {
			tv, err := is.Introspect(v)
			if err != nil {
				return nil, fmt.Errorf("%s (%s): introspection: %w", where, cfg.Name, err)
			}
			if tv == nil {
				return nil, fmt.Errorf("%s (%s): Introspect returned no verifier", where, cfg.Name)
			}
			e.tv, e.intros = tv, true
		}
		names[cfg.Name] = true
		m.byIss[cfg.Issuer] = i
		m.list = append(m.list, e)
		sameClock = sameClock && cfg.Now == nil
	}
	if sameClock {
		m.clock = time.Now
	}
	// One verified-token cache for all, of their sizes together: a token
	// seen before is then one look-up away whichever issuer verified it.
	// An entry counts only for the verifier that made it (verifyJWT checks
	// Claims.slot, the verifier's index here), so sharing lets no issuer
	// accept another's token.
	size, bytes := 0, int64(0)
	for _, e := range m.list {
		if !e.v.cfg.DisableCache {
			n := defaults.Or(e.v.cfg.CacheSize, defaults.CacheSize)
			size += n
			bytes += defaults.Or(e.v.cfg.CacheBytes, int64(n)*cacheEntryBytes)
		}
	}
	if size > 0 {
		m.cache = newTokenCache(size)
		m.cache.maxBytes = bytes
		for _, e := range m.list {
			if e.v.cache != nil {
				e.v.cache = m.cache
			}
		}
	}
	all := make([]string, len(m.list))
	for i, e := range m.list {
		all[i] = e.name
	}
	m.restrict(all)
	return m, nil
}

// restrict sets the view's accepted issuers to names, which exist.
func (m *Issuers) restrict(names []string) {
	m.allow = make([]bool, len(m.list))
	m.opaque = nil
	for i, e := range m.list {
		for _, n := range names {
			if n == e.name {
				m.allow[i] = true
			}
		}
		if m.allow[i] && e.intros {
			m.opaque = append(m.opaque, i)
		}
	}
}

// Only returns a view of m that accepts the tokens of the named issuers
// only, sharing their verifiers, keys and caches. A token of another
// configured issuer is refused with [ErrIssuer] ("not accepted here")
// before any key fetch or signature check; an unknown name is an error.
func (m *Issuers) Only(names ...string) (*Issuers, error) {
	if len(names) == 0 {
		return nil, errors.New("apiguard: Issuers.Only needs at least one issuer name")
	}
	for _, n := range names {
		if m.index(n) < 0 {
			return nil, fmt.Errorf("apiguard: no issuer is named %q (the issuers are %s)", n, strings.Join(m.Names(), ", "))
		}
	}
	view := *m
	view.restrict(names)
	return &view, nil
}

func (m *Issuers) index(name string) int {
	for i, e := range m.list {
		if e.name == name {
			return i
		}
	}
	return -1
}

// Names returns the names of the issuers this view accepts, in order.
func (m *Issuers) Names() []string {
	var out []string
	for i, e := range m.list {
		if m.allow[i] {
			out = append(out, e.name)
		}
	}
	return out
}

// Verifier returns the Verifier of the issuer called name (for its
// readiness, key count, URL or metadata), or nil if there is none.
func (m *Issuers) Verifier(name string) *Verifier {
	if i := m.index(name); i >= 0 {
		return m.list[i].v
	}
	return nil
}

// Ready returns nil once every accepted issuer's keys are loaded. Otherwise
// it returns an error naming each issuer that is not ready, joining their
// errors (so it wraps [ErrKeysUnavailable]). Issuers are checked at the
// same time: one that is down does not delay the report on the others.
func (m *Issuers) Ready(ctx context.Context) error {
	errs := m.readiness(ctx)
	for i, err := range errs {
		if err != nil {
			errs[i] = fmt.Errorf("issuer %s (%s): %w", m.list[i].name, m.list[i].v.Issuer(), err)
		}
	}
	return errors.Join(errs...)
}

// NotReady returns the names of the accepted issuers whose keys are not
// loaded (fetching them if needed, as Ready), in order; none when all are
// ready. For readiness endpoints that say which issuer is not ready
// without showing why.
func (m *Issuers) NotReady(ctx context.Context) []string {
	var out []string
	for i, err := range m.readiness(ctx) {
		if err != nil {
			out = append(out, m.list[i].name)
		}
	}
	return out
}

// readiness asks every accepted issuer's verifier whether it is ready, all
// at once, and returns their errors by index.
func (m *Issuers) readiness(ctx context.Context) []error {
	errs := make([]error, len(m.list))
	var wg sync.WaitGroup
	for i, e := range m.list {
		if m.allow[i] {
			wg.Go(func() { errs[i] = e.tv.Ready(ctx) })
		}
	}
	wg.Wait()
	return errs
}

// Verify checks token with the issuer it names and returns its claims;
// [Claims.IssuerName] says which issuer that was. The returned Claims must
// not be modified.
//
// A JWT goes to the issuer whose URL equals its iss exactly, and to no
// other: a token whose iss is not configured is refused with
// [ErrUnknownIssuer], and one of an issuer this view does not accept (see
// [Issuers.Only]) with [ErrIssuer], both before any key fetch. A token that
// one of the issuers verified before is found in that issuer's cache
// first, as [Verifier.Verify] would.
//
// Any other token (an opaque token) goes to the issuers that introspect,
// one after the other in the order given to [NewIssuers], until one
// answers for it: active and acceptable (its claims are the result), or
// active but refused (a refresh token, another audience: that refusal is
// the result, as the token is that issuer's). An issuer that says "not
// active" (package introspect's ErrInactive, reason "inactive") passes the
// token on to the next. When no issuer answers for it and one could not be
// asked (its endpoint unavailable), the error is that unavailability (503):
// an issuer that is down never turns into a refusal of its tokens, and
// another issuer's answer counts only when it is about its own token. When
// all say "not active", the token is refused as such. With no issuer
// introspecting, opaque tokens are refused as [ErrMalformed]. Note that an
// opaque token is thus shown to each introspecting issuer before the one
// that knows it: configure introspection only for issuers that may see each
// other's tokens.
func (m *Issuers) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, refuse(ErrMalformed, "token longer than %d bytes", MaxTokenSize)
	}
	if len(m.opaque) > 0 && strings.Count(token, ".") != 2 {
		return m.verifyOpaque(ctx, token)
	}
	var h uint64
	if m.cache != nil {
		h = m.cache.hash(token)
	}
	if m.cache != nil && m.clock != nil {
		// A token verified before is in the shared cache: one hash, one
		// look-up, no parsing. The entry's issuer must be accepted here,
		// and must not introspect (its Always mode asks the issuer again).
		// (With verifiers on clocks of their own, verifyHashed looks.)
		now := m.clock()
		// The entry's slot names its verifier, one of m's: no search.
		if c := m.cache.get(h, token, now); c != nil {
			if i := int(c.slot); i < len(m.list) && m.allow[i] {
				if e := &m.list[i]; !e.intros && e.v.keys.usable(now) {
					return c, nil
				}
			}
		}
	}
	// The token is decoded once, for the choice and for the checks: the
	// header and claims do not depend on the issuer, only their checks do.
	var p parsed
	if err := p.parseHeader(token); err != nil {
		return nil, err
	}
	if err := p.parsePayload(); err != nil {
		return nil, err
	}
	iss := p.c.Issuer
	i, ok := m.byIss[iss]
	switch {
	case iss == "":
		return nil, refuse(ErrUnknownIssuer, "the token has no iss claim")
	case !ok:
		return nil, refuse(ErrUnknownIssuer, "iss %q is not one of the accepted issuers", truncate(iss, 100))
	case !m.allow[i]:
		return nil, refuse(ErrIssuer, "issuer %s is not accepted here", m.list[i].name)
	}
	e := &m.list[i]
	switch {
	case e.intros:
		return e.tv.Verify(ctx, token)
	case e.v.cache != nil:
		return e.v.verifyParsedCached(ctx, token, h, &p)
	}
	method, err := e.v.checkHeader(p.h)
	if err != nil {
		return nil, err
	}
	c, _, err := e.v.verifyParsed(ctx, token, &p, method, e.v.now())
	return c, err
}

// verifyOpaque asks the introspecting issuers about token, in order, until
// one says it is active, or that it is its own and refused (see Verify).
func (m *Issuers) verifyOpaque(ctx context.Context, token string) (*Claims, error) {
	var inactive, unavailable error
	for _, i := range m.opaque {
		c, err := m.list[i].tv.Verify(ctx, token)
		switch {
		case err == nil:
			return c, nil
		case errors.Is(err, ErrInvalidToken) && Reason(err) == inactiveReason:
			if inactive == nil {
				inactive = err
			}
		case errors.Is(err, ErrInvalidToken):
			// Active at this issuer but refused (a refresh token, another
			// audience): the token is this issuer's, and no other's word
			// can make it acceptable.
			return nil, err
		default:
			if unavailable == nil {
				unavailable = err
			}
		}
	}
	if unavailable != nil {
		return nil, unavailable
	}
	return nil, inactive
}

// inactiveReason is the [Reason] label of package introspect's ErrInactive:
// the issuer does not know the token as an active one, so another issuer
// may.
const inactiveReason = "inactive"

// verifyParsedCached is verifyJWT for a token already parsed, whose hash
// in v's cache (shared by an Issuers) is h.
func (v *Verifier) verifyParsedCached(ctx context.Context, token string, h uint64, p *parsed) (*Claims, error) {
	now := v.now()
	if c := v.cached(h, token, now); c != nil {
		return c, nil
	}
	method, err := v.checkHeader(p.h)
	if err != nil {
		return nil, err
	}
	c, k, err := v.verifyParsed(ctx, token, p, method, now)
	if err != nil {
		return nil, err
	}
	v.cache.offer(h, token, c, k, now)
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// RequireIssuers allows tokens verified by one of the named issuers of an
// [Issuers] (their [Claims.IssuerName]); others are refused as
// [ErrIssuer], a 401 invalid_token, not a 403: the token is not one this
// route accepts at all. [Issuers.Only] does the same before any key fetch,
// and is the better choice where the verifier can be chosen per route.
func RequireIssuers(names ...string) Policy {
	return func(c *Claims) error {
		for _, n := range names {
			if c.IssuerName == n && n != "" {
				return nil
			}
		}
		return refuse(ErrIssuer, "issuer %s is not accepted here", c.IssuerName)
	}
}
