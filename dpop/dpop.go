package dpop

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	jsonv2 "github.com/go-json-experiment/json"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/defaults"
	"github.com/apiguard/apiguard/internal/numericdate"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

// The reasons a proof is refused. Each wraps [apiguard.ErrInvalidToken];
// [apiguard.Reason] labels them "dpop_proof" and "dpop_nonce".
var (
	// ErrProof: the DPoP proof is missing, malformed, badly signed, for
	// another request (htm, htu, ath), too old or new (iat), or replayed
	// (jti). A middleware answers 401 error="invalid_dpop_proof".
	ErrProof = apiguard.NewReason("dpop_proof", "invalid DPoP proof")
	// ErrNonce: the server requires a nonce it issued and the proof has
	// none, or an old one. A middleware answers 401 error="use_dpop_nonce"
	// with a fresh nonce in the DPoP-Nonce header.
	ErrNonce = apiguard.NewReason("dpop_nonce", "DPoP nonce required")
)

// maxProofSize caps a DPoP proof before any decoding.
const maxProofSize = 8 << 10

// Config configures the checking of DPoP proofs.
type Config struct {
	// PublicURL is the URL clients reach this server at (scheme, host,
	// port, and a path prefix a proxy strips, if any; no user name,
	// password, query or fragment), e.g.
	// https://api.example.com. A proof's htu must equal PublicURL followed
	// by the request's path. Default: taken from the request (its Host
	// header, and https when it came over TLS); set it behind a proxy or
	// load balancer. X-Forwarded-* headers are never used.
	PublicURL string

	// Algorithms is the allowlist of proof signature algorithms, advertised
	// in challenges and metadata. Default: [apiguard.DefaultAlgorithms].
	Algorithms []string

	// Window bounds a proof's age: its iat must be within Window of now,
	// either way. Default 60s; at most 5m.
	Window time.Duration

	// ReplayCache remembers the jti of every accepted proof for twice the
	// Window, so a proof is accepted once. Default: in this process's
	// memory, up to ReplayCacheSize proofs. With several instances, use a
	// shared cache (Redis), or a proof can be replayed at another instance.
	// When the cache cannot be reached the request is refused with 503.
	ReplayCache ReplayCache

	// ReplayCacheSize bounds the in-memory replay cache. Default 1,000,000
	// proofs. When it is full of live entries, requests are refused with
	// 503 rather than forgetting a proof. A negative size is refused.
	ReplayCacheSize int

	// NonceKey, when set (32 bytes or more), makes the server require
	// nonces it issued (RFC 9449 §8): a proof without a current nonce gets
	// 401 use_dpop_nonce and a fresh nonce in the DPoP-Nonce header. The
	// nonce is derived from NonceKey and the time, so instances sharing the
	// key accept each other's nonces. Default: no nonces.
	NonceKey []byte

	// NonceLifetime is how long a nonce stays current; the previous one is
	// accepted too. Default 5m; a negative lifetime is refused.
	NonceLifetime time.Duration

	// Required refuses bearer tokens: only DPoP-bound tokens are accepted
	// (RFC 9728 dpop_bound_access_tokens_required).
	Required bool

	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// ReplayCache remembers DPoP proof ids. Implementations must be safe for
// concurrent use and, to stop replays across instances, shared by them.
type ReplayCache interface {
	// Use records key for ttl and reports whether it was new (false: a
	// replay). An error means the cache cannot tell, and the proof is
	// refused.
	Use(ctx context.Context, key string, ttl time.Duration) (fresh bool, err error)
}

// Checker checks DPoP proofs. It is an [apiguard.Binding]: set it as
// [apiguard.Middleware.Binding]. It is safe for concurrent use.
type Checker struct {
	cfg       Config
	publicURL *url.URL
	algs      []jose.SignatureAlgorithm
	algNames  string
	window    time.Duration
	replay    ReplayCache
	lifetime  time.Duration
	now       func() time.Time
}

// New validates cfg and returns a Checker.
func New(cfg Config) (*Checker, error) {
	d := &Checker{cfg: cfg, replay: cfg.ReplayCache, now: cfg.Now,
		lifetime: defaults.Or(cfg.NonceLifetime, 5*time.Minute)}
	if cfg.PublicURL != "" {
		u, err := urlcheck.Base(cfg.PublicURL)
		if err != nil {
			// Not echoed: it may hold a password.
			return nil, fmt.Errorf("dpop: Config.PublicURL: %w; want an absolute http(s) URL without credentials, query or fragment, e.g. https://api.example.com", err)
		}
		d.publicURL = u
	}
	// defaults.Or reads a negative value as unset; a negative setting is a
	// mistake to report, not to replace with the default.
	if cfg.NonceLifetime < 0 {
		return nil, fmt.Errorf("dpop: Config.NonceLifetime %s is negative; want 0 (the default, 5m) or more", cfg.NonceLifetime)
	}
	if cfg.ReplayCacheSize < 0 {
		return nil, fmt.Errorf("dpop: Config.ReplayCacheSize %d is negative; want 0 (the default, 1,000,000 proofs) or more", cfg.ReplayCacheSize)
	}
	var err error
	if d.window, err = defaults.Bounded("dpop: Config.Window", cfg.Window, 60*time.Second, 5*time.Minute); err != nil {
		return nil, err
	}
	if cfg.NonceKey != nil && len(cfg.NonceKey) < 32 {
		return nil, errors.New("dpop: Config.NonceKey must be at least 32 bytes")
	}
	if d.now == nil {
		d.now = time.Now
	}
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = apiguard.DefaultAlgorithms
	}
	for _, a := range algs {
		if !slices.Contains(apiguard.DefaultAlgorithms, a) {
			return nil, fmt.Errorf("dpop: Config.Algorithms: %q is not an allowed asymmetric algorithm", a)
		}
		d.algs = append(d.algs, jose.SignatureAlgorithm(a))
	}
	d.algNames = strings.Join(algs, " ")
	if d.replay == nil {
		d.replay = newMemoryCache(defaults.Or(cfg.ReplayCacheSize, 1_000_000), d.now)
	}
	return d, nil
}

// Algorithms returns the accepted proof algorithms, for metadata
// (dpop_signing_alg_values_supported).
func (d *Checker) Algorithms() []string { return strings.Fields(d.algNames) }

// Required reports whether only DPoP-bound tokens are accepted.
func (d *Checker) Required() bool { return d.cfg.Required }

// Scheme implements [apiguard.Binding]: the DPoP scheme, its challenge
// parameter algs (RFC 9449 §7.1), and whether bearer tokens are refused.
func (d *Checker) Scheme() (name, params string, required bool) {
	return "DPoP", `algs="` + d.algNames + `"`, d.cfg.Required
}

// Check implements [apiguard.Binding]: it checks the proof of a request
// made with the DPoP scheme for token, whose verified claims c are bound to
// a key. A token bound by another confirmation method than DPoP (cnf
// without jkt) is refused with [apiguard.ErrTokenBinding].
func (d *Checker) Check(r *http.Request, token string, c *apiguard.Claims) error {
	if c.JKT == "" {
		return apiguard.Refuse(apiguard.ErrTokenBinding, "the token is bound by a confirmation method other than DPoP (cnf without jkt)")
	}
	return d.CheckProof(r, token, c.JKT)
}

// Nonce returns a current server nonce for the DPoP-Nonce header, or "" when
// nonces are off.
func (d *Checker) Nonce() string {
	if d.cfg.NonceKey == nil {
		return ""
	}
	return d.nonce(d.now().UnixNano() / int64(d.lifetime))
}

func (d *Checker) nonce(period int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(period))
	mac := hmac.New(sha256.New, d.cfg.NonceKey)
	mac.Write([]byte("apiguard dpop nonce\x00"))
	mac.Write(b[:8])
	copy(b[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validNonce reports whether n is the current or the previous nonce.
func (d *Checker) validNonce(n string) bool {
	period := d.now().UnixNano() / int64(d.lifetime)
	for _, p := range []int64{period, period - 1} {
		if subtle.ConstantTimeCompare([]byte(n), []byte(d.nonce(p))) == 1 {
			return true
		}
	}
	return false
}

// proofClaims are the claims of a DPoP proof (RFC 9449 §4.2).
type proofClaims struct {
	Jti   string            `json:"jti"`
	Htm   string            `json:"htm"`
	Htu   string            `json:"htu"`
	Iat   *numericdate.Date `json:"iat"`
	Ath   string            `json:"ath"`
	Nonce *string           `json:"nonce"`
}

// proofError is a refused proof: its error code (invalid_dpop_proof or
// use_dpop_nonce) goes on the DPoP challenge, and a nonce refusal carries
// a fresh nonce in the DPoP-Nonce header (see [apiguard.ChallengeError]).
type proofError struct {
	err   error
	code  string
	nonce string
}

func (e *proofError) Error() string { return e.err.Error() }
func (e *proofError) Unwrap() error { return e.err }

// ErrorCode implements [apiguard.ChallengeError].
func (e *proofError) ErrorCode(h http.Header) string {
	if e.nonce != "" {
		h.Set("DPoP-Nonce", e.nonce)
	}
	return e.code
}

// refuse returns a proof refusal for reason ([ErrProof]) with a detail.
func refuse(format string, args ...any) error {
	return &proofError{err: apiguard.Refuse(ErrProof, fmt.Sprintf(format, args...)), code: "invalid_dpop_proof"}
}

// CheckProof checks the DPoP proof of r (RFC 9449 §4.3, §7.1) for the
// access token, bound to the key whose SHA-256 JWK thumbprint is jkt:
// one DPoP header holding a compact JWS with typ dpop+jwt, an allowed
// asymmetric alg and a public jwk that verifies it; htm equal to the
// method, htu equal to the request's URL (see Config.PublicURL), iat
// within the window, ath the hash of token, the server nonce when
// required, the key's thumbprint equal to jkt, and a jti never seen before
// (checked last, so refused proofs use no room in the replay cache).
func (d *Checker) CheckProof(r *http.Request, token, jkt string) error {
	proofs := r.Header.Values("DPoP")
	switch {
	case len(proofs) == 0:
		return refuse("no DPoP header")
	case len(proofs) > 1:
		return refuse("more than one DPoP header")
	case len(proofs[0]) > maxProofSize:
		return refuse("proof longer than %d bytes", maxProofSize)
	case strings.Count(proofs[0], ".") != 2:
		return refuse("proof is not a compact JWS")
	}
	jws, err := jose.ParseSignedCompact(proofs[0], d.algs)
	if err != nil {
		return refuse("proof is not a JWS signed with one of %s and a public jwk", d.algNames)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != "dpop+jwt" {
		return refuse("typ %q, want \"dpop+jwt\"", typ)
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return refuse("no jwk header")
	}
	if k, ok := jwk.Key.(*rsa.PublicKey); ok && k.N.BitLen() < 2048 {
		return refuse("RSA key of %d bits, want 2048 or more", k.N.BitLen())
	}
	payload, err := jws.Verify(jwk)
	if err != nil {
		return refuse("signature does not verify with the jwk header's key")
	}
	var pc proofClaims
	// go-json-experiment/json matches member names exactly (RFC 7519 §4:
	// "HTM" is not htm) and refuses a name given twice, as the token's own
	// claims are decoded.
	if err := jsonv2.Unmarshal(payload, &pc); err != nil {
		return refuse("claims are not a JSON object of the expected types")
	}
	now := d.now()
	switch want := d.targetURI(r); {
	case pc.Jti == "" || len(pc.Jti) > 256:
		return refuse("jti missing or longer than 256 bytes")
	case pc.Htm != r.Method:
		return refuse("htm %q, want %q", pc.Htm, r.Method)
	case normalizeHTU(pc.Htu) != want || want == "":
		return refuse("htu %q, want %q", pc.Htu, want)
	case pc.Iat == nil:
		return refuse("no iat claim")
	case pc.Iat.Time().Before(now.Add(-d.window)) || pc.Iat.Time().After(now.Add(d.window)):
		return refuse("iat %s is not within %s of now", pc.Iat.Time().UTC().Format(time.RFC3339), d.window)
	case subtle.ConstantTimeCompare([]byte(pc.Ath), []byte(accessTokenHash(token))) != 1:
		return refuse("ath is not the hash of the access token")
	}
	if d.cfg.NonceKey != nil && (pc.Nonce == nil || !d.validNonce(*pc.Nonce)) {
		return &proofError{err: apiguard.Refuse(ErrNonce, "the proof must carry the nonce from the DPoP-Nonce header"),
			code: "use_dpop_nonce", nonce: d.Nonce()}
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return refuse("the jwk has no thumbprint")
	}
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(thumb)), []byte(jkt)) != 1 {
		return apiguard.Refuse(apiguard.ErrTokenBinding, "the proof's key is not the key the token is bound to (cnf.jkt)")
	}
	sum := sha256.Sum256([]byte(jkt + "\x00" + pc.Jti))
	fresh, err := d.replay.Use(r.Context(), "dpop:"+hex.EncodeToString(sum[:]), 2*d.window+time.Second)
	if err != nil {
		return &apiguard.UnavailableError{Service: "DPoP replay cache", Err: err, RetryAfter: 5 * time.Second}
	}
	if !fresh {
		return refuse("the proof was used before (jti replayed)")
	}
	return nil
}

// accessTokenHash is a proof's ath for token: base64url(SHA-256(token)).
func accessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// targetURI is the normalised URL the client sent r to, without query.
func (d *Checker) targetURI(r *http.Request) string {
	if d.publicURL != nil {
		u := *d.publicURL
		u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
		u.RawPath = ""
		return normalizeHTU(u.String())
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return normalizeHTU((&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path}).String())
}

// normalizeHTU returns raw as scheme://host[:port]/path, lower-casing the
// scheme and host, dropping default ports, query and fragment, with the
// path decoded and "/" when empty (RFC 3986 §6.2.2–6.2.3); "" when raw is
// not an absolute http(s) URL.
func normalizeHTU(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	switch {
	case scheme != "http" && scheme != "https":
		return ""
	case scheme == "http" && port == "80", scheme == "https" && port == "443":
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]"
	}
	path := u.Path
	if path == "" {
		path = "/"
	}
	return scheme + "://" + host + path
}
