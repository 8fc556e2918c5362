package apiguard

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/apiguard/apiguard/internal/defaults"
	"github.com/apiguard/apiguard/internal/discovery"
	"github.com/apiguard/apiguard/internal/metriclabel"
	"github.com/apiguard/apiguard/internal/urlcheck"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"
)

// DefaultAudience is the audience of Okta's default authorization server.
const DefaultAudience = "api://default"

// DefaultAlgorithms are the signature algorithms accepted when
// [Config.Algorithms] is empty: every asymmetric JWS algorithm in use.
var DefaultAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// MaxTokenSize is the largest token Verify looks at; longer ones are
// refused before any decoding.
const MaxTokenSize = 8 << 10

// Config configures a [Verifier]. The zero value of every field but Issuer
// is the secure default.
type Config struct {
	// Name names the issuer: [Claims.IssuerName] of the tokens it
	// verifies, and its key in an [Issuers], gateway rules, metrics and
	// readiness reports. Letters, digits and "._-", at most 63, starting
	// with a letter or digit. Optional for a lone Verifier; required in an
	// [Issuers].
	Name string

	// Issuer is the authorization server's issuer identifier, e.g.
	// https://example.okta.com/oauth2/default. Required. Tokens' iss must
	// equal it exactly. It must be https, or http on a loopback host.
	Issuer string

	// Audience must be contained in the token's aud. Default: "api://default"
	// (Okta's default authorization server) for access tokens. With IDToken
	// set it is the OIDC client id, and required.
	Audience string

	// Algorithms is the allowlist of JWS algorithms. Default:
	// [DefaultAlgorithms]. Only asymmetric algorithms may be named.
	Algorithms []string

	// Leeway is the clock skew tolerated for exp, nbf and iat. Default 60s.
	Leeway time.Duration

	// ClientIDs, when not empty, is the allowlist of clients (cid, client_id
	// or azp) whose tokens are accepted.
	ClientIDs []string

	// RequireType, when set (e.g. "at+jwt", RFC 9068), must match the
	// token's typ header. Okta's access tokens carry no typ, so it is off by
	// default.
	RequireType string

	// IDToken switches to verifying OpenID Connect ID tokens: Audience is
	// the client id, and the checks that refuse ID tokens used as access
	// tokens are off. Callers check the nonce themselves.
	IDToken bool

	// JWKSURL overrides the jwks_uri from the issuer's discovery document.
	JWKSURL string

	// HTTPClient fetches discovery and keys. Default: a client with a 10s
	// timeout. Fetches are also bounded by FetchTimeout.
	HTTPClient *http.Client

	// FetchTimeout bounds one fetch of discovery plus keys. Default 10s.
	// A request waits for a fetch at most 3s (or FetchTimeout if shorter),
	// then gets ErrKeysUnavailable while the fetch goes on.
	FetchTimeout time.Duration

	// RefreshCooldown is the window over which key fetches caused by
	// unknown kids are limited: at most 3 per cooldown, so a flood of
	// made-up kids costs the issuer at most 3 fetches per cooldown. A fetch
	// that finds the kid it was made for (a key rotated in) does not count,
	// nor do fetches at start-up or when the set is due. An unknown kid is
	// refused as unknown only once a fetch made after it arrived shows the
	// issuer does not publish it; when no fetch may be made (the limit is
	// spent, or the issuer is down) it gets [ErrKeysUnavailable] with a
	// RetryAfter, never a bad-token error. Default 10s.
	RefreshCooldown time.Duration

	// MaxStale is how long past its refresh time a key set keeps being used
	// while the issuer cannot be reached. Default 12h.
	MaxStale time.Duration

	// CacheSize is the number of verified tokens kept so that a token seen
	// again skips the signature check. Default 100,000. Entries never outlive
	// the token's exp, nor the key that signed it. Once the cache holds
	// 1/16 of CacheSize, a token is stored on its second sighting rather
	// than its first, so tokens used once (a flood of fresh tokens) do not
	// fill it: a reused token then costs one more signature check in its
	// life.
	CacheSize int

	// CacheBytes bounds the cache by an estimate of the heap its entries
	// take (the token, its claims, and about 530 bytes of overhead each),
	// so that long tokens cannot take CacheSize times their size. Default
	// CacheSize × 2,560 bytes (256 MB for the default count), which
	// ordinary access tokens (about 1,250 to 1,500 bytes each by this
	// estimate, a little above what they take) do not reach.
	CacheBytes int64

	// DisableCache turns the verified-token cache off.
	DisableCache bool

	// OnFetch, when set, is called after every attempt to fetch keys (for
	// metrics). It must not block.
	OnFetch func(FetchEvent)

	// Now is the clock. Default time.Now.
	Now func() time.Time

	// Logger receives key-fetch events. Default: discard. Tokens are never
	// logged.
	Logger *slog.Logger

	// InsecureAllowHTTP allows http:// issuer and JWKS URLs on hosts that
	// are not loopback. Never set it in production.
	InsecureAllowHTTP bool
}

// Verifier verifies access tokens (or ID tokens) of one issuer. It is safe
// for concurrent use.
type Verifier struct {
	cfg      Config
	algs     map[string]jwt.SigningMethod
	keys     *keySet
	cache    *tokenCache
	leeway   time.Duration
	now      func() time.Time
	typ      string
	clients  []string
	audience string
	slot     uint32 // its index in the Issuers that made it, 0 alone; see Claims.slot
}

// New returns a Verifier for cfg. It does not contact the issuer: keys are
// fetched on first use (or by [Verifier.Ready]), so New succeeds while the
// issuer is down and Verify reports [ErrKeysUnavailable] until keys arrive.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("apiguard: Config.Issuer is required")
	}
	if err := checkURL("Issuer", cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
		return nil, err
	}
	if cfg.Name != "" && !metriclabel.IssuerName(cfg.Name) {
		return nil, fmt.Errorf("apiguard: Config.Name %q: use letters, digits and ._- (at most 63, the first a letter or digit)", cfg.Name)
	}
	if cfg.JWKSURL != "" {
		if err := checkURL("JWKSURL", cfg.JWKSURL, cfg.InsecureAllowHTTP); err != nil {
			return nil, err
		}
	}
	v := &Verifier{cfg: cfg, audience: cfg.Audience, now: cfg.Now, clients: cfg.ClientIDs}
	if v.audience == "" {
		if cfg.IDToken {
			return nil, errors.New("apiguard: Config.Audience (the client id) is required with IDToken")
		}
		v.audience = DefaultAudience
	}
	var err error
	if v.leeway, err = defaults.Bounded("apiguard: Config.Leeway", cfg.Leeway, 60*time.Second, 5*time.Minute); err != nil {
		return nil, err
	}
	if v.now == nil {
		v.now = time.Now
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	v.algs = make(map[string]jwt.SigningMethod, len(algs))
	for _, a := range algs {
		if !knownAlgorithm(a) {
			return nil, fmt.Errorf("apiguard: Config.Algorithms: %q is not an allowed asymmetric algorithm", a)
		}
		v.algs[a] = jwt.GetSigningMethod(a)
	}
	if t := cfg.RequireType; t != "" {
		v.typ = normalizeType(t)
	}
	v.keys = &keySet{
		issuer:     cfg.Issuer,
		jwksURL:    cfg.JWKSURL,
		client:     defaults.HTTPClient(cfg.HTTPClient),
		now:        v.now,
		log:        defaults.Logger(cfg.Logger),
		onFetch:    cfg.OnFetch,
		checkURL:   func(setting, raw string) error { return checkDiscoveredURL(setting, raw, &cfg) },
		timeout:    defaults.Or(cfg.FetchTimeout, 10*time.Second),
		maxWait:    min(defaults.Or(cfg.FetchTimeout, 10*time.Second), 3*time.Second),
		cooldown:   defaults.Or(cfg.RefreshCooldown, 10*time.Second),
		minTTL:     time.Minute,
		maxTTL:     24 * time.Hour,
		maxStale:   defaults.Or(cfg.MaxStale, 12*time.Hour),
		maxBody:    1 << 20,
		unknownTTL: time.Minute,
	}
	if cfg.CacheBytes < 0 {
		return nil, fmt.Errorf("apiguard: Config.CacheBytes %d is negative (0 means the default)", cfg.CacheBytes)
	}
	if !cfg.DisableCache {
		v.cache = newTokenCache(defaults.Or(cfg.CacheSize, defaults.CacheSize))
		if cfg.CacheBytes > 0 {
			v.cache.maxBytes = cfg.CacheBytes
		}
	}
	return v, nil
}

// knownAlgorithm reports whether alg is one of the asymmetric algorithms
// apiguard can verify. none and HS* are not.
func knownAlgorithm(alg string) bool { return slices.Contains(DefaultAlgorithms, alg) }

func normalizeType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// checkURL refuses configured URLs that are not https, except http on
// loopback hosts (or anywhere with insecure set), and URLs with a query or
// fragment. The rule is urlcheck's, shared with the login flow.
func checkURL(setting, raw string, insecure bool) error {
	u, err := urlcheck.Check(raw, insecure)
	if err == nil && u.RawQuery != "" {
		err = errors.New("must not have a query")
	}
	return urlError(setting, raw, err)
}

// checkDiscoveredURL checks an endpoint the issuer's discovery document
// gave: https, unless the issuer is on a loopback host and so is the
// endpoint (or InsecureAllowHTTP is set); no query or fragment.
func checkDiscoveredURL(setting, raw string, cfg *Config) error {
	u, err := urlcheck.Discovered(cfg.Issuer, raw, cfg.InsecureAllowHTTP)
	if err == nil && u.RawQuery != "" {
		err = errors.New("must not have a query")
	}
	return urlError(setting, raw, err)
}

func urlError(setting, raw string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, urlcheck.ErrPlainHTTP):
		return fmt.Errorf("apiguard: %s %q: %w (set InsecureAllowHTTP only for development)", setting, raw, err)
	}
	return fmt.Errorf("apiguard: %s %q: %w", setting, raw, err)
}

// Issuer returns the configured issuer.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Audience returns the audience tokens must carry.
func (v *Verifier) Audience() string { return v.audience }

// Ready returns nil once the issuer's keys are loaded, fetching them if
// needed; otherwise an error wrapping [ErrKeysUnavailable].
func (v *Verifier) Ready(ctx context.Context) error { return v.keys.ready(ctx) }

// KeyCount returns the number of keys in the current key set.
func (v *Verifier) KeyCount() int { return v.keys.count() }

// Verify checks token and returns its claims. Every refusal caused by the
// token wraps [ErrInvalidToken] and one specific reason ([ErrExpired],
// [ErrAudience], …); when the issuer's keys cannot be had, the error wraps
// [ErrKeysUnavailable] instead. The returned Claims must not be modified.
//
// Verify accepts only JWTs: package introspect checks opaque tokens (and,
// if asked, JWTs too) at the issuer's introspection endpoint.
//
// Verify does not check sender constraints: a token bound to a key (its
// Claims.Confirmed is true) must be presented with a proof of possession,
// which [Middleware] checks and callers of Verify must check themselves.
//
// With the verified-token cache on, a copy of a verified token (its own
// bytes, not the string it is a slice of) is kept until it expires or is
// evicted.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, refuse(ErrMalformed, "token longer than %d bytes", MaxTokenSize)
	}
	return v.verifyJWT(ctx, token)
}

// Now returns the current time on the verifier's clock ([Config.Now]).
func (v *Verifier) Now() time.Time { return v.now() }

// Config returns the configuration v was made with, as given to [New]
// (defaults not filled in). Its slices are copies.
func (v *Verifier) Config() Config {
	cfg := v.cfg
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	cfg.ClientIDs = slices.Clone(cfg.ClientIDs)
	return cfg
}

// CheckClaims decodes payload, a JSON object of claims from another source
// than a JWT the verifier checked (an RFC 7662 introspection response, say),
// and applies to it every claim check [Verifier.Verify] applies to a JWT's
// payload: issuer, audience, exp (required), nbf, iat, client and token
// type. Its refusals are those of Verify.
func (v *Verifier) CheckClaims(payload []byte) (*Claims, error) {
	c, w, err := decodeClaims(bytes.Clone(payload)) // a copy: the Claims keep it, and payload is the caller's
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c, w, v.now()); err != nil {
		return nil, err
	}
	return c, nil
}

// IntrospectionEndpoint returns the introspection_endpoint of the issuer's
// discovery document (fetched as for the keys, and checked like the
// issuer's URL), for package introspect. Its errors say why none can be
// had.
func (v *Verifier) IntrospectionEndpoint(ctx context.Context) (string, error) {
	return v.keys.discoveredURL(ctx, "introspection_endpoint", func(d *discovery.Document) string { return d.IntrospectionEndpoint })
}

// verifyJWT verifies token as a JWT signed by the issuer, with the
// verified-token cache.
func (v *Verifier) verifyJWT(ctx context.Context, token string) (*Claims, error) {
	now := v.now()
	if v.cache == nil {
		c, _, err := v.verify(ctx, token, now)
		return c, err
	}
	h := v.cache.hash(token) // once: a miss looks the token up and then stores it
	if c := v.cached(h, token, now); c != nil {
		return c, nil
	}
	c, k, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	v.cache.offer(h, token, c, k, now)
	return c, nil
}

// cached returns the claims of token, whose hash is h, from v's cache if v
// verified it before and its keys are still usable at now; nil otherwise.
// The slot check matters when an Issuers shares one cache among its
// verifiers (each with its own slot): an entry counts only for the
// verifier that made it.
func (v *Verifier) cached(h uint64, token string, now time.Time) *Claims {
	if c := v.cache.get(h, token, now); c != nil && c.slot == v.slot && v.keys.usable(now) {
		return c
	}
	return nil
}

// header is the JOSE header. Headers that could point at keys (jku, x5u,
// jwk, x5c) are not decoded: keys come only from the issuer. Parameter
// names are case-sensitive (RFC 7515 §4) and the header is decoded as the
// claims are (see wireClaims): "ALG" or "Crit" is an unknown parameter, not
// alg or crit, and a name given twice makes the token malformed.
type header struct {
	Alg  string         `json:"alg"`
	Kid  string         `json:"kid"`
	Typ  string         `json:"typ"`
	Cty  string         `json:"cty"`
	Crit jsontext.Value `json:"crit"`
	Zip  jsontext.Value `json:"zip"`
	Enc  jsontext.Value `json:"enc"`
}

var b64 = base64.RawURLEncoding.Strict()

// maxSignatureSize bounds the decoded signature, refused before decoding
// when longer. The largest RSA key go-jose accepts in a key set (4096
// bits) gives 512-byte signatures; 1 KiB leaves room, so a signature of
// 513 to 1,024 bytes is refused later, by the key (MUTATION.md explains
// why the bound's exact value is then not observable).
const maxSignatureSize = 1024

func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (*Claims, *key, error) {
	var p parsed
	if err := p.parseHeader(token); err != nil {
		return nil, nil, err
	}
	method, err := v.checkHeader(p.h)
	if err != nil {
		return nil, nil, err
	}
	// The claims: cheap checks before any signature work.
	if err := p.parsePayload(); err != nil {
		return nil, nil, err
	}
	return v.verifyParsed(ctx, token, &p, method, now)
}

// parsed is a token cut into its parts, with its header and claims
// decoded: what [Verifier.verify] and an [Issuers] decode once.
type parsed struct {
	h64, p64, s64 string
	// h is a pointer so that only the header escapes into the JSON
	// decoder, not the whole of parsed: one allocation of its size, as
	// before parsed existed.
	h *header
	c *Claims
	w *wireClaims
}

// parseHeader splits token and decodes its header, refusing headers no
// verifier accepts.
func (p *parsed) parseHeader(token string) error {
	var err error
	if p.h64, p.p64, p.s64, err = split(token); err != nil {
		return err
	}
	// The header, into a buffer of its size: it escapes into the JSON
	// decoder, so a fixed array here would be a heap allocation of its
	// full size on every call.
	hbuf := make([]byte, b64.DecodedLen(len(p.h64)))
	n, err := b64.Decode(hbuf, stringBytes(p.h64))
	if err != nil {
		return refuse(ErrMalformed, "header is not base64url")
	}
	h := new(header)
	p.h = h
	if err := jsonv2.Unmarshal(hbuf[:n], h); err != nil {
		return refuse(ErrMalformed, "header is not a JSON object of the expected types with unique names")
	}
	switch {
	case h.Crit != nil:
		return refuse(ErrMalformed, "header has crit parameters")
	case h.Zip != nil || h.Enc != nil:
		return refuse(ErrMalformed, "encrypted or compressed tokens are not accepted")
	case h.Cty != "" && strings.EqualFold(normalizeType(h.Cty), "jwt"):
		return refuse(ErrMalformed, "nested tokens are not accepted")
	}
	return nil
}

// checkHeader applies v's own header checks (algorithm allowlist, typ) and
// returns the signing method.
func (v *Verifier) checkHeader(h *header) (jwt.SigningMethod, error) {
	method, ok := v.algs[h.Alg]
	if !ok {
		return nil, refuse(ErrAlgorithm, "alg %q is not allowed", h.Alg)
	}
	if v.typ != "" && normalizeType(h.Typ) != v.typ {
		return nil, refuse(ErrType, "typ %q, want %q", h.Typ, v.typ)
	}
	return method, nil
}

// parsePayload decodes the claims.
func (p *parsed) parsePayload() error {
	payload := make([]byte, b64.DecodedLen(len(p.p64)))
	n, err := b64.Decode(payload, stringBytes(p.p64))
	if err != nil {
		return refuse(ErrMalformed, "payload is not base64url")
	}
	p.c, p.w, err = decodeClaims(payload[:n])
	return err
}

// verifyParsed checks a parsed token's claims, then its signature with
// v's key for its kid.
func (v *Verifier) verifyParsed(ctx context.Context, token string, p *parsed, method jwt.SigningMethod, now time.Time) (*Claims, *key, error) {
	h, c, s64 := p.h, p.c, p.s64
	if err := v.checkClaims(c, p.w, now); err != nil {
		return nil, nil, err
	}

	// The signature, with the issuer's key for kid.
	k, err := v.keys.lookup(ctx, h.Kid, h.Alg)
	if err != nil {
		return nil, nil, err
	}
	if !k.fits(h.Alg) {
		return nil, nil, refuse(ErrAlgorithm, "alg %q does not fit key %q", h.Alg, h.Kid)
	}
	// The signature buffer escapes into the JOSE library: sized to the
	// signature (256 bytes for RS256, 64 for ES256), not a fixed 1 KiB.
	if b64.DecodedLen(len(s64)) > maxSignatureSize {
		return nil, nil, refuse(ErrSignature, "signature too large")
	}
	sbuf := make([]byte, b64.DecodedLen(len(s64)))
	n, err := b64.Decode(sbuf, stringBytes(s64))
	if err != nil {
		return nil, nil, refuse(ErrMalformed, "signature is not base64url")
	}
	// The JOSE library checks the signature: PKCS#1 v1.5, PSS, ECDSA with
	// the r||s size checked against the curve, Ed25519.
	if err := method.Verify(token[:len(p.h64)+1+len(p.p64)], sbuf[:n], k.pub); err != nil {
		return nil, nil, refuse(ErrSignature, "signature does not verify")
	}
	return c, k, nil
}

// split cuts a compact JWS into its three parts, refusing anything but
// exactly two dots and the base64url alphabet (no padding, no '+' or '/',
// no whitespace, which the base64 decoder would otherwise skip).
func split(token string) (h, p, s string, err error) {
	if token == "" {
		return "", "", "", refuse(ErrMalformed, "empty token")
	}
	dots := 0
	for i := 0; i < len(token); i++ {
		switch c := token[i]; {
		case c == '.':
			dots++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return "", "", "", refuse(ErrMalformed, "character %q at offset %d is not base64url", c, i)
		}
	}
	if dots != 2 {
		return "", "", "", refuse(ErrMalformed, "a compact JWS has 2 dots, this token has %d", dots)
	}
	h, rest, _ := strings.Cut(token, ".")
	p, s, _ = strings.Cut(rest, ".")
	if h == "" || p == "" || s == "" {
		return "", "", "", refuse(ErrMalformed, "empty header, payload or signature")
	}
	return h, p, s, nil
}

// stringBytes views s as a byte slice without copying it. Only for callees
// that read their argument (the base64 decoder, SHA-256): strings are
// immutable, and []byte(s) would copy the token to the heap each time.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// checkClaims applies every claim check; any one failure refuses the token.
func (v *Verifier) checkClaims(c *Claims, w *wireClaims, now time.Time) error {
	if c.Issuer != v.cfg.Issuer {
		return refuse(ErrIssuer, "iss %q, want %q", c.Issuer, v.cfg.Issuer)
	}
	c.IssuerName, c.slot = v.cfg.Name, v.slot
	if !slices.Contains(c.Audience, v.audience) {
		return refuse(ErrAudience, "aud %q does not contain %q", c.Audience, v.audience)
	}
	if w.Exp == nil {
		return refuse(ErrExpired, "no exp claim")
	}
	if now.After(c.Expiry.Add(v.leeway)) {
		return refuse(ErrExpired, "expired at %s", c.Expiry.UTC().Format(time.RFC3339))
	}
	if w.Nbf != nil && now.Add(v.leeway).Before(c.NotBefore) {
		return refuse(ErrNotYetValid, "not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if w.Iat != nil && now.Add(v.leeway).Before(c.IssuedAt) {
		return refuse(ErrIssuedInFuture, "issued at %s", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if len(v.clients) > 0 && !slices.Contains(v.clients, c.ClientID) {
		return refuse(ErrClient, "client %q is not allowed", c.ClientID)
	}
	if v.cfg.IDToken {
		if len(c.Audience) > 1 && w.Azp != "" && w.Azp != v.audience {
			return refuse(ErrAudience, "azp %q, want %q", w.Azp, v.audience)
		}
		return nil
	}
	// An ID token carries nonce, at_hash or c_hash; an access token none of
	// them. Refuse ID tokens presented as access tokens.
	if w.Nonce != "" || w.AtHash != "" || w.CHash != "" {
		return refuse(ErrType, "an ID token is not an access token")
	}
	return nil
}
