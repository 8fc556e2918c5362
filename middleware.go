package apiguard

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

var (
	// errNoToken: the request carries no bearer credentials (RFC 6750 §3.1:
	// a challenge with no error code).
	errNoToken = errors.New("a bearer token is required")
	// errBadRequest: the credentials are malformed or sent in a way that is
	// not accepted (RFC 6750 §3.1 invalid_request).
	errBadRequest = errors.New("invalid request")
)

// BearerToken returns the bearer token of r's Authorization header. The
// scheme is case-insensitive. Tokens anywhere else are not accepted: a
// request with an access_token query parameter, or with two Authorization
// headers, is a bad request; a request with no bearer credentials gets an
// error that maps to a plain 401 challenge.
func BearerToken(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	// Parse the query only when it may hold a token: most requests have none.
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", badRequest("tokens are accepted in the Authorization header only")
	}
	switch len(values) {
	case 0:
		return "", errNoToken
	case 1:
	default:
		return "", badRequest("more than one Authorization header")
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", errNoToken
	}
	token := strings.Trim(rest, " ")
	if token == "" {
		return "", badRequest("empty bearer token")
	}
	if strings.Contains(token, " ") {
		return "", badRequest("bearer token contains a space")
	}
	return token, nil
}

func badRequest(detail string) error {
	return &requestError{detail: detail}
}

type requestError struct{ detail string }

func (e *requestError) Error() string { return "invalid request: " + e.detail }
func (e *requestError) Unwrap() error { return errBadRequest }

// TokenVerifier verifies tokens for a [Middleware]: a [*Verifier], or one
// that also asks the issuer about tokens, as package introspect's Verifier.
// Implementations must be safe for concurrent use.
type TokenVerifier interface {
	// Verify checks token and returns its claims, which must not be
	// modified. Refusals caused by the token wrap [ErrInvalidToken]; a
	// service it needs and cannot reach is an error wrapping
	// [ErrKeysUnavailable] or [ErrUnavailable].
	Verify(ctx context.Context, token string) (*Claims, error)

	// Ready returns nil once tokens can be verified (the issuer's keys are
	// loaded), as [Verifier.Ready]; for readiness probes.
	Ready(ctx context.Context) error
}

// Middleware protects handlers with a [TokenVerifier] and answers refusals
// as RFC 6750 describes. Its zero value is not usable: set Verifier.
type Middleware struct {
	// Verifier checks the tokens. Required.
	Verifier TokenVerifier

	// Realm is the realm of WWW-Authenticate challenges. Default "apiguard".
	Realm string

	// ResourceMetadata is the URL of the protected resource metadata
	// (RFC 9728), sent as resource_metadata in every challenge when set.
	ResourceMetadata string

	// OnRefuse, when set, is called for every refused request with the
	// reason (see [Reason]); for metrics and logs. It must not block.
	OnRefuse func(r *http.Request, err error)

	// Binding, when set, accepts tokens bound to a key the client holds
	// (sender-constrained tokens) with the binding's authorization scheme
	// and a proof it checks, and adds its challenges. Package dpop's
	// Checker is one (RFC 9449). When nil, tokens bound to a key (a cnf
	// claim) are refused: they are not bearer tokens.
	Binding Binding
}

// Binding checks sender-constrained tokens for a [Middleware]: tokens bound
// to a key (a cnf claim, [Claims.Confirmed]) that are presented with their
// own authorization scheme and a proof of possession of the key, as DPoP
// (RFC 9449). The middleware reads the scheme, verifies the token, decides
// which scheme a token needs, and calls Check for the proof. Implementations
// must be safe for concurrent use.
type Binding interface {
	// Scheme returns the authorization scheme of bound tokens ("DPoP"),
	// the parameters of its WWW-Authenticate challenge (`algs="ES256"`),
	// and whether only bound tokens are accepted (bearer tokens refused).
	Scheme() (name, params string, required bool)

	// Check checks the proof of a request r made with the scheme, for
	// token and its verified claims c, which are bound to a key. Its
	// refusals wrap [ErrInvalidToken] (those with their own error code
	// implement [ChallengeError]); an unreachable service it needs is an
	// [UnavailableError].
	Check(r *http.Request, token string, c *Claims) error
}

// Middleware returns next protected by v with the default [Middleware]
// settings and the given policies.
func (v *Verifier) Middleware(next http.Handler, policies ...Policy) http.Handler {
	m := &Middleware{Verifier: v}
	return m.Handler(next, policies...)
}

// Check decides whether r may pass: it extracts the bearer token (or the
// bound token, with a [Binding]), verifies it, checks its binding (the
// proof of possession) and applies the policies. It writes nothing.
func (m *Middleware) Check(r *http.Request, policies ...Policy) (*Claims, error) {
	c, bound, err := m.check(r, policies)
	return c, inScheme(err, bound)
}

// check is Check; bound reports a request made with the binding's scheme,
// whose errors get the binding's challenge.
func (m *Middleware) check(r *http.Request, policies []Policy) (c *Claims, bound bool, err error) {
	token, bound, err := m.credentials(r)
	if err != nil {
		return nil, bound, err
	}
	if c, err = m.Verifier.Verify(r.Context(), token); err != nil {
		return nil, bound, err
	}
	if err := m.checkBinding(r, token, bound, c); err != nil {
		return nil, bound, err
	}
	for _, p := range policies {
		if err := p(c); err != nil {
			return c, bound, err
		}
	}
	return c, bound, nil
}

// schemeError marks an error of a request made with the binding's scheme
// (or one that needs it), so its error code goes on the binding's
// challenge.
type schemeError struct{ err error }

func (e *schemeError) Error() string { return e.err.Error() }
func (e *schemeError) Unwrap() error { return e.err }

// inScheme wraps err as a binding-scheme error (once) when bound is true.
func inScheme(err error, bound bool) error {
	var se *schemeError
	if err == nil || !bound || errors.As(err, &se) {
		return err
	}
	return &schemeError{err}
}

// credentials returns the access token of r and whether it came with the
// binding's scheme (only when m.Binding is set; otherwise only Bearer is
// read).
func (m *Middleware) credentials(r *http.Request) (token string, bound bool, err error) {
	values := r.Header.Values("Authorization")
	if m.Binding == nil || len(values) != 1 {
		token, err = BearerToken(r)
		return token, false, err
	}
	name, _, _ := m.Binding.Scheme()
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, name) {
		token, err = BearerToken(r)
		return token, false, err
	}
	switch token = strings.Trim(rest, " "); {
	case r.URL != nil && r.URL.Query().Has("access_token"):
		return "", true, badRequest("tokens are accepted in the Authorization header only")
	case token == "":
		return "", true, badRequest("empty " + name + " token")
	case strings.Contains(token, " "):
		return "", true, badRequest(name + " token contains a space")
	}
	return token, true, nil
}

// checkBinding checks that the token was presented as it must be: a token
// bound to a key (cnf) only with the binding's scheme and a valid proof for
// that key, a bearer token never with that scheme (nor at all when bound
// tokens are required).
func (m *Middleware) checkBinding(r *http.Request, token string, bound bool, c *Claims) error {
	b := m.Binding
	if b == nil {
		if c.Confirmed {
			return refuse(ErrTokenBinding, "the token is bound to a key (cnf) and this server does not check proofs of possession")
		}
		return nil
	}
	name, _, required := b.Scheme()
	switch {
	case !bound && c.Confirmed:
		return inScheme(refuse(ErrTokenBinding, "a %s-bound token must be sent with the %s scheme, not Bearer", name, name), true)
	case !bound && required:
		return inScheme(refuse(ErrTokenBinding, "only %s-bound tokens are accepted", name), true)
	case !bound:
		return nil
	case !c.Confirmed:
		return refuse(ErrTokenBinding, "the token is not %s-bound: send it with the Bearer scheme", name)
	}
	return b.Check(r, token, c)
}

// Handler returns next protected by m and the given policies (all must
// pass). The verified claims are in the request's context
// ([ClaimsFromContext]).
func (m *Middleware) Handler(next http.Handler, policies ...Policy) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := m.Check(r, policies...)
		if err != nil {
			if m.OnRefuse != nil {
				m.OnRefuse(r, err)
			}
			m.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// WriteError writes the response for an error from [Middleware.Check]:
//   - no credentials: 401 with a bare Bearer challenge;
//   - malformed credentials: 400 invalid_request;
//   - a refused token: 401 invalid_token, or the code of a
//     [ChallengeError] (invalid_dpop_proof or use_dpop_nonce for DPoP
//     proofs), with the [Binding]'s challenge too when one is set;
//   - a policy refusal: 403 insufficient_scope (with the missing scopes);
//   - keys or another service unavailable (introspection, replay cache):
//     503 with Retry-After;
//   - anything else: 500.
//
// Bodies are JSON {"error":…,"error_description":…}.
func (m *Middleware) WriteError(w http.ResponseWriter, err error) {
	var (
		status      int
		code        string
		description string
		scope       string
		challenge   = true
	)
	var fe *ForbiddenError
	var ke *KeysError
	var ue *UnavailableError
	var ce ChallengeError
	switch {
	case errors.Is(err, errNoToken):
		status, description = http.StatusUnauthorized, errNoToken.Error()
	case errors.Is(err, errBadRequest):
		var re *requestError
		errors.As(err, &re)
		status, code, description = http.StatusBadRequest, "invalid_request", re.detail
	case errors.As(err, &ce) && errors.Is(err, ErrInvalidToken):
		status, code, description = http.StatusUnauthorized, ce.ErrorCode(w.Header()), describe(err)
	case errors.Is(err, ErrInvalidToken):
		status, code, description = http.StatusUnauthorized, "invalid_token", describe(err)
	case errors.As(err, &fe):
		status, code, description = http.StatusForbidden, "insufficient_scope", fe.Detail
		scope = strings.Join(fe.Scopes, " ")
	case errors.Is(err, ErrForbidden):
		status, code, description = http.StatusForbidden, "insufficient_scope", ErrForbidden.Error()
	case errors.As(err, &ke):
		challenge = false
		status, code, description = http.StatusServiceUnavailable, "temporarily_unavailable", "the issuer's signing keys are unavailable; try again later"
		w.Header().Set("Retry-After", strconv.Itoa(int(max(ke.RetryAfter, time.Second)/time.Second)))
	case errors.As(err, &ue):
		challenge = false
		status, code, description = http.StatusServiceUnavailable, "temporarily_unavailable", "the "+ue.Service+" is unavailable; try again later"
		w.Header().Set("Retry-After", strconv.Itoa(int(max(ue.RetryAfter, time.Second)/time.Second)))
	default:
		challenge = false
		status, code, description = http.StatusInternalServerError, "server_error", "internal error"
	}
	if challenge {
		m.challenges(w.Header(), err, code, description, scope)
	}
	if code == "" {
		code = "unauthorized"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
}

// challenges sets the WWW-Authenticate values for an error: a Bearer
// challenge (unless the binding requires bound tokens) and, with a binding,
// one for its scheme (RFC 9449 §7.1). The error code goes on the scheme the
// request used.
func (m *Middleware) challenges(h http.Header, err error, code, description, scope string) {
	if m.Binding == nil {
		h.Set("WWW-Authenticate", m.bearerChallenge(code, description, scope))
		return
	}
	name, params, required := m.Binding.Scheme()
	var se *schemeError
	bound := errors.As(err, &se) || required
	h.Del("WWW-Authenticate")
	bearerCode, boundCode := code, ""
	if bound {
		bearerCode, boundCode = "", code
	}
	if !required {
		h.Add("WWW-Authenticate", m.bearerChallenge(bearerCode, description, scope))
	}
	h.Add("WWW-Authenticate", m.challenge(name+" "+params, boundCode, description, scope))
}

// bearerChallenge builds a WWW-Authenticate: Bearer value (RFC 6750 §3).
func (m *Middleware) bearerChallenge(code, description, scope string) string {
	realm := m.Realm
	if realm == "" {
		realm = "apiguard"
	}
	return m.challenge(`Bearer realm="`+quotable(realm)+`"`, code, description, scope)
}

// challenge builds one WWW-Authenticate value: the scheme with its first
// parameter, then error, error_description and scope when there is an error
// code, and resource_metadata (RFC 6750 §3, RFC 9449 §7.1, RFC 9728 §5.1).
func (m *Middleware) challenge(scheme, code, description, scope string) string {
	var b strings.Builder
	b.WriteString(scheme)
	if code != "" {
		b.WriteString(`, error="` + code + `"`)
		if description != "" {
			b.WriteString(`, error_description="` + quotable(description) + `"`)
		}
		if scope != "" {
			b.WriteString(`, scope="` + quotable(scope) + `"`)
		}
	}
	if m.ResourceMetadata != "" {
		b.WriteString(`, resource_metadata="` + quotable(m.ResourceMetadata) + `"`)
	}
	return b.String()
}

// quotable keeps the characters RFC 6750 §3 allows in a quoted parameter
// (%x20-21 / %x23-5B / %x5D-7E) and caps the length: descriptions can carry
// values taken from the token.
func quotable(s string) string {
	const maxLen = 200
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxLen; i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b.WriteByte(c)
		} else if c == '"' {
			b.WriteByte('\'')
		}
	}
	return b.String()
}

type claimsKey struct{}

// ContextWithClaims returns ctx carrying c.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims the middleware verified for this
// request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*Claims)
	return c, ok
}
