package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/sync/singleflight"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/defaults"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

// Mode says which tokens are checked at the issuer's introspection
// endpoint.
type Mode int

const (
	// Opaque introspects tokens that are not JWTs (anything but
	// three base64url parts); JWTs are verified locally as usual. A revoked
	// JWT stays valid until its exp.
	Opaque Mode = iota
	// Always verifies JWTs locally and then introspects them too,
	// and introspects opaque tokens: a token revoked at the issuer is
	// refused once its cached introspection result ends
	// ([Config.MaxCacheTTL]; at once with no cache).
	Always
)

// DefaultCacheTTL is how long an introspection result is reused when
// [Config.MaxCacheTTL] is zero.
const DefaultCacheTTL = time.Minute

// maxIntrospectionBody caps the introspection response.
const maxIntrospectionBody = 64 << 10

// Config configures token introspection (RFC 7662).
type Config struct {
	// ClientID and ClientSecret authenticate apiguard at the introspection
	// endpoint (client_secret_basic). Both required. With Okta: a client
	// of the authorization server, e.g. the app's OKTA_CLIENT_ID.
	ClientID     string
	ClientSecret string

	// Endpoint is the introspection endpoint. Default: the
	// introspection_endpoint of the issuer's discovery document.
	Endpoint string

	// Mode chooses the tokens introspected. Default [Opaque].
	Mode Mode

	// MaxCacheTTL is the longest an introspection result is reused: active
	// results until the earlier of the token's exp and MaxCacheTTL, inactive
	// ones for MaxCacheTTL. Default [DefaultCacheTTL]. Negative:
	// nothing is cached, and every request asks the issuer (a revoked token
	// is refused at once, at the cost of one call to the issuer per request).
	MaxCacheTTL time.Duration

	// Cache holds introspection results. Default: in this process's memory,
	// up to the verifier's Config.CacheSize entries. A shared cache (Redis) lets N
	// instances ask the issuer once per token. When the cache cannot be
	// read or written, the issuer is asked: a cache outage never lets a
	// token through that the issuer would refuse.
	Cache Cache

	// Timeout bounds one introspection request. Default 5s.
	Timeout time.Duration

	// OnRequest, when set, is called after each call to the introspection
	// endpoint, with its duration and outcome: for metrics. Results from
	// the cache make no call; concurrent checks of one token share one
	// call, and one event. It is called on the request's goroutine: it must
	// be quick and safe for concurrent use.
	OnRequest func(RequestEvent)
}

// RequestEvent describes one call to the introspection endpoint.
// [Config.OnRequest] receives one per call.
type RequestEvent struct {
	// Endpoint is the introspection endpoint called; "" when it could
	// not be discovered (Err says why).
	Endpoint string
	// Duration is how long the call took, from the request (or the
	// endpoint's discovery) to the end of the answer.
	Duration time.Duration
	// Active reports that the issuer answered that the token is active.
	// The result may still be refused (a refresh token, another
	// audience); an inactive token is a successful call too.
	Active bool
	// Err is nil when the endpoint answered with a JSON result, active or
	// not; otherwise the [*apiguard.UnavailableError] the check returns
	// (unreachable, timed out, an answer other than 200 with a JSON object).
	Err error
}

// Cache stores introspection results. Keys are the hex SHA-256
// of a token (never the token); values are opaque bytes. Implementations
// must be safe for concurrent use.
type Cache interface {
	// Get returns the value stored under key, or nil and no error when
	// there is none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// ErrInactive: the issuer's introspection endpoint says the token is not
// active (revoked, expired, unknown, or not an access token). It wraps
// [apiguard.ErrInvalidToken], so the middleware answers 401 invalid_token.
var ErrInactive = apiguard.NewReason("inactive", "token not active")

// Verifier verifies tokens as an [apiguard.Verifier] does, and asks the
// issuer's introspection endpoint about opaque tokens (and, in [Always]
// mode, about JWTs too). It implements [apiguard.TokenVerifier], for
// [apiguard.Middleware]. It is safe for concurrent use.
type Verifier struct {
	v       *apiguard.Verifier
	cfg     Config
	issuer  string
	client  *http.Client
	log     *slog.Logger
	cache   Cache // nil: no caching
	ttl     time.Duration
	timeout time.Duration
	flight  singleflight.Group
}

// New returns a Verifier that checks JWTs with v and introspects tokens as
// cfg says, with v's HTTP client, logger, clock and claim checks. v must
// verify access tokens, not ID tokens. New does not contact the issuer.
func New(v *apiguard.Verifier, cfg Config) (*Verifier, error) {
	if v == nil {
		return nil, errors.New("introspect: New needs an apiguard.Verifier")
	}
	vc := v.Config()
	switch {
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("introspect: Config needs ClientID and ClientSecret")
	case cfg.Mode != Opaque && cfg.Mode != Always:
		return nil, fmt.Errorf("introspect: Config.Mode %d is not Opaque or Always", cfg.Mode)
	case cfg.Timeout < 0:
		return nil, errors.New("introspect: Config.Timeout must not be negative")
	case vc.IDToken:
		return nil, errors.New("introspect: introspection is for access tokens, not with apiguard.Config.IDToken")
	}
	if cfg.Endpoint != "" {
		if err := checkURL(cfg.Endpoint, vc.InsecureAllowHTTP); err != nil {
			return nil, err
		}
	}
	// The verifier's client and logger, as it makes them up when unset.
	in := &Verifier{v: v, cfg: cfg, issuer: vc.Issuer,
		client: defaults.HTTPClient(vc.HTTPClient), log: defaults.Logger(vc.Logger),
		ttl: cfg.MaxCacheTTL, timeout: defaults.Or(cfg.Timeout, 5*time.Second)}
	if in.ttl == 0 {
		in.ttl = DefaultCacheTTL
	}
	if in.ttl > 0 {
		in.cache = cfg.Cache
		if in.cache == nil {
			in.cache = newMemoryCache(defaults.Or(vc.CacheSize, defaults.CacheSize), v.Now)
		}
	}
	return in, nil
}

// checkURL refuses a configured endpoint that is not https (except http on
// loopback hosts, or anywhere with insecure set), or has a query or
// fragment: the rule the verifier applies to its own URLs.
func checkURL(raw string, insecure bool) error {
	u, err := urlcheck.Check(raw, insecure)
	if err == nil && u.RawQuery != "" {
		err = errors.New("must not have a query")
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, urlcheck.ErrPlainHTTP):
		return fmt.Errorf("introspect: Config.Endpoint %q: %w (set InsecureAllowHTTP only for development)", raw, err)
	}
	return fmt.Errorf("introspect: Config.Endpoint %q: %w", raw, err)
}

// Verifier returns the verifier JWTs are checked with.
func (in *Verifier) Verifier() *apiguard.Verifier { return in.v }

// Ready returns nil once the issuer's keys are loaded, as
// [apiguard.Verifier.Ready].
func (in *Verifier) Ready(ctx context.Context) error { return in.v.Ready(ctx) }

// Verify checks token and returns its claims: a JWT with the
// [apiguard.Verifier] (and at the issuer too in [Always] mode), anything
// else at the issuer's introspection endpoint. Refusals wrap
// [apiguard.ErrInvalidToken] ([ErrInactive] when the issuer says the token
// is not active); when the endpoint cannot be reached, or answers anything
// but a JSON result, the error is an [*apiguard.UnavailableError] (wrapping
// [apiguard.ErrUnavailable]). The returned Claims must not be modified.
func (in *Verifier) Verify(ctx context.Context, token string) (*apiguard.Claims, error) {
	if len(token) > apiguard.MaxTokenSize {
		return nil, apiguard.Refuse(apiguard.ErrMalformed, fmt.Sprintf("token longer than %d bytes", apiguard.MaxTokenSize))
	}
	if strings.Count(token, ".") == 2 {
		c, err := in.v.Verify(ctx, token)
		if err != nil || in.cfg.Mode != Always {
			return c, err
		}
		if _, err := in.introspect(ctx, token); err != nil {
			return nil, err
		}
		return c, nil
	}
	if err := checkOpaque(token); err != nil {
		return nil, err
	}
	return in.introspect(ctx, token)
}

// checkOpaque refuses opaque tokens outside RFC 6750's b64token syntax.
func checkOpaque(token string) error {
	if token == "" {
		return apiguard.Refuse(apiguard.ErrMalformed, "empty token")
	}
	i := 0
	for ; i < len(token); i++ {
		c := token[i]
		ok := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
		if !ok {
			break
		}
	}
	// RFC 6750's b64token is 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" /
	// "+" / "/") *"=": padding alone is no token.
	if i == 0 && token[0] == '=' {
		return apiguard.Refuse(apiguard.ErrMalformed, "token starts with \"=\": padding needs at least one character before it")
	}
	for ; i < len(token) && token[i] == '='; i++ {
	}
	if i != len(token) {
		return apiguard.Refuse(apiguard.ErrMalformed, fmt.Sprintf("character %q at offset %d is not allowed in a token", token[i], i))
	}
	return nil
}

// key is the cache key of token: the hex SHA-256 of the
// issuer and the token, so the token itself is never stored and two
// issuers sharing one cache cannot see each other's results.
func (in *Verifier) key(token string) string {
	h := sha256.New()
	h.Write([]byte(in.issuer))
	h.Write([]byte{0})
	_, _ = io.WriteString(h, token)
	return hex.EncodeToString(h.Sum(nil))
}

// introspect returns the claims of an active token, from the cache or the
// issuer.
func (in *Verifier) introspect(ctx context.Context, token string) (*apiguard.Claims, error) {
	key := in.key(token)
	mem, _ := in.cache.(*memoryCache)
	if mem != nil {
		// The in-process cache keeps results decoded: a hit costs a map
		// look-up, as for a JWT. Entries end no later than the token's exp.
		if e, ok := mem.entry(key); ok {
			if e.claims == nil {
				return nil, apiguard.Refuse(ErrInactive, "the issuer says the token is not active")
			}
			return e.claims, nil
		}
	} else if in.cache != nil {
		b, err := in.cache.Get(ctx, key)
		switch {
		case err != nil:
			in.log.Warn("introspection cache unavailable; asking the issuer", "error", err)
		case b != nil:
			c, _, err := in.parse(b, in.v.Now())
			return c, err
		}
	}
	res, err, _ := in.flight.Do(key, func() (any, error) {
		start := time.Now()
		body, endpoint, err := in.fetch(ctx, token)
		if err != nil {
			in.report(RequestEvent{Endpoint: endpoint, Duration: time.Since(start), Err: err})
			return nil, err
		}
		now := in.v.Now()
		c, ttl, perr := in.parse(body, now)
		ev := RequestEvent{Endpoint: endpoint, Duration: time.Since(start), Active: !errors.Is(perr, ErrInactive)}
		if errors.As(perr, new(*apiguard.UnavailableError)) {
			ev.Active, ev.Err = false, perr // not a JSON result
		}
		in.report(ev)
		// Active tokens and inactive ones are cached; other refusals (a
		// token not valid yet, say) may change, and are not.
		switch {
		case ttl <= 0 || in.cache == nil || (perr != nil && !errors.Is(perr, ErrInactive)):
		case mem != nil:
			mem.setClaims(key, c, ttl)
		default:
			if err := in.cache.Set(ctx, key, body, ttl); err != nil {
				in.log.Warn("failed to store an introspection result", "error", err)
			}
		}
		return introspection{c, perr}, nil
	})
	if err != nil {
		return nil, err
	}
	r := res.(introspection)
	return r.claims, r.err
}

// report gives e to Config.OnRequest, when set.
func (in *Verifier) report(e RequestEvent) {
	if in.cfg.OnRequest != nil {
		in.cfg.OnRequest(e)
	}
}

type introspection struct {
	claims *apiguard.Claims
	err    error
}

// parse checks an introspection response and returns the claims of an
// active token, and how long the result may be cached (0: not at all).
// Member names match exactly (RFC 7662 §2.2 names them in lower case): an
// "Active" or "Token_type" member is not active or token_type.
func (in *Verifier) parse(body []byte, now time.Time) (*apiguard.Claims, time.Duration, error) {
	var head introspectionHead
	if err := jsonv2.Unmarshal(body, &head); err != nil {
		return nil, 0, &apiguard.UnavailableError{Service: "introspection endpoint", Err: errors.New("response is not a JSON object with unique member names"), RetryAfter: 5 * time.Second}
	}
	if string(head.Active) != "true" {
		return nil, in.ttl, apiguard.Refuse(ErrInactive, "the issuer says the token is not active")
	}
	if err := head.checkAccessToken(); err != nil {
		return nil, in.ttl, err
	}
	c, err := in.v.CheckClaims(body)
	if err != nil {
		return nil, in.ttl, err
	}
	return c, min(in.ttl, c.Expiry.Sub(now)), nil
}

// introspectionHead is what an introspection response says about the token
// itself: whether it is active, and what kind of token it is.
type introspectionHead struct {
	Active jsontext.Value `json:"active"`
	// TokenType is RFC 7662's token_type: "Bearer" or "DPoP" (RFC 9449
	// §6.2) for an access token from Okta, the development issuer and
	// panva's oidc-provider; "refresh_token" for a refresh token from Okta
	// and the development issuer, and absent for one from oidc-provider.
	TokenType *string `json:"token_type"`
	// TokenUse is Ory Hydra's token_use: "access_token" or
	// "refresh_token".
	TokenUse *string `json:"token_use"`
	// Typ is Keycloak's typ: "Bearer" for an access token, "Refresh" or
	// "Offline" for a refresh token, "ID" for an ID token.
	Typ *string `json:"typ"`
}

// checkAccessToken refuses a result that is not about an access token. The
// token_type_hint of the request is only a hint (RFC 7662 §2.1): an issuer
// answers for a refresh token too, and apiguard must not accept one as an
// access token. token_type is required and must be an access token type,
// since an absent one is how oidc-provider answers for a refresh token;
// token_use and typ, where given, must not name another kind of token.
func (h *introspectionHead) checkAccessToken() error {
	switch {
	case h.TokenType == nil:
		return apiguard.Refuse(apiguard.ErrType, "the introspection result has no token_type: not known to be an access token")
	case !isAccessTokenType(*h.TokenType):
		return apiguard.Refuse(apiguard.ErrType, fmt.Sprintf("token_type %q is not an access token", *h.TokenType))
	case h.TokenUse != nil && *h.TokenUse != "access_token":
		return apiguard.Refuse(apiguard.ErrType, fmt.Sprintf("token_use %q is not an access token", *h.TokenUse))
	case h.Typ != nil && slices.ContainsFunc([]string{"refresh", "offline", "id"}, func(t string) bool { return strings.EqualFold(*h.Typ, t) }):
		return apiguard.Refuse(apiguard.ErrType, fmt.Sprintf("typ %q is not an access token", *h.Typ))
	}
	return nil
}

// isAccessTokenType reports whether an introspection result's token_type
// names an access token: the access token types Bearer and DPoP (matched
// ignoring case, RFC 6749 §5.1) or the token type hint access_token.
func isAccessTokenType(t string) bool {
	return strings.EqualFold(t, "bearer") || strings.EqualFold(t, "dpop") || t == "access_token"
}

// fetch posts token to the introspection endpoint and returns the body of
// a 200 answer and the endpoint ("" when it could not be discovered);
// anything else is an UnavailableError.
func (in *Verifier) fetch(ctx context.Context, token string) (_ []byte, endpoint string, _ error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), in.timeout)
	defer cancel()
	unavailable := func(err error) error {
		return &apiguard.UnavailableError{Service: "introspection endpoint", Err: err, RetryAfter: 5 * time.Second}
	}
	endpoint, err := in.location(ctx)
	if err != nil {
		return nil, "", unavailable(err)
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, endpoint, unavailable(fmt.Errorf("failed to build the introspection request: %w", err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
	req.SetBasicAuth(url.QueryEscape(in.cfg.ClientID), url.QueryEscape(in.cfg.ClientSecret))
	resp, err := in.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // *url.Error repeats the URL; keep the cause
		}
		return nil, endpoint, unavailable(fmt.Errorf("failed to call the introspection endpoint: %w", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxIntrospectionBody))
		return nil, endpoint, unavailable(fmt.Errorf("introspection endpoint answered status %d", resp.StatusCode))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, endpoint, unavailable(fmt.Errorf("introspection endpoint answered content type %q, not JSON", ct))
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxIntrospectionBody+1))
	if err != nil {
		return nil, endpoint, unavailable(fmt.Errorf("failed to read the introspection response: %w", err))
	}
	if len(body) > maxIntrospectionBody {
		return nil, endpoint, unavailable(fmt.Errorf("introspection response larger than %d bytes", maxIntrospectionBody))
	}
	return body, endpoint, nil
}

// location returns the introspection endpoint, configured or from the
// discovery document the key set fetched.
func (in *Verifier) location(ctx context.Context) (string, error) {
	if in.cfg.Endpoint != "" {
		return in.cfg.Endpoint, nil
	}
	u, err := in.v.IntrospectionEndpoint(ctx)
	if err != nil {
		return "", fmt.Errorf("failed to discover the introspection endpoint: %w", err)
	}
	return u, nil
}

// memoryCache is the in-process Cache: a bounded map whose
// entries expire. When full, expired entries among a few
// visited go first, else an arbitrary one.
type memoryCache struct {
	now  func() time.Time
	size int

	mu sync.Mutex
	m  map[string]memoryEntry
}

type memoryEntry struct {
	value  []byte
	claims *apiguard.Claims // decoded introspection result; nil for an inactive token
	exp    time.Time
}

// entry returns the unexpired entry under key.
func (c *memoryCache) entry(key string) (memoryEntry, bool) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.exp) {
		return memoryEntry{}, false
	}
	return e, true
}

// setClaims stores decoded introspection claims (nil: inactive) for ttl.
func (c *memoryCache) setClaims(key string, claims *apiguard.Claims, ttl time.Duration) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(key, memoryEntry{claims: claims, exp: now.Add(ttl)}, now)
}

func newMemoryCache(size int, now func() time.Time) *memoryCache {
	return &memoryCache{now: now, size: max(1, size), m: map[string]memoryEntry{}}
}

// Get implements Cache.
func (c *memoryCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.exp) {
		return nil, nil
	}
	return e.value, nil
}

// Set implements Cache.
func (c *memoryCache) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setLocked(key, memoryEntry{value: value, exp: now.Add(ttl)}, now)
	return nil
}

func (c *memoryCache) setLocked(key string, e memoryEntry, now time.Time) {
	if _, ok := c.m[key]; !ok && len(c.m) >= c.size {
		const sample = 8
		seen, dropped := 0, false
		var victim string
		for k, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, k)
				dropped = true
			} else {
				victim = k
			}
			if seen++; seen == sample {
				break
			}
		}
		if !dropped {
			delete(c.m, victim)
		}
	}
	c.m[key] = e
}
