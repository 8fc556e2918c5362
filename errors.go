package apiguard

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrInvalidToken is wrapped by every error caused by the token itself: a
// middleware maps it to 401 with error="invalid_token". Each specific reason
// below wraps it too, so callers can test for the class or for the reason.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable is wrapped by errors that mean the issuer's signing keys
// could not be had (issuer down, discovery failed, keys never loaded). It says
// nothing about the token: a middleware maps it to 503, never to 401.
var ErrKeysUnavailable = errors.New("signing keys unavailable")

// ErrFetchLimit is the cause in a [KeysError] (so it comes with
// [ErrKeysUnavailable]) when a token's kid is not in the issuer's key set
// and the key fetches that unknown kids may cause are spent (see
// [Config.RefreshCooldown]): whether the issuer publishes the kid cannot be
// checked before the error's RetryAfter.
var ErrFetchLimit = errors.New("too many key fetches for unknown kids")

// ErrUnavailable is wrapped by errors that mean a service a check needs
// could not be reached: the issuer's introspection endpoint, or the shared
// store of introspection results and DPoP proof ids. Like
// [ErrKeysUnavailable] it says nothing about the token: a middleware maps it
// to 503, never to 401, and never lets the request through.
var ErrUnavailable = errors.New("service unavailable")

// ErrForbidden is wrapped by policy refusals: the token is valid but lacks a
// scope, group or claim the route requires. A middleware maps it to 403
// insufficient_scope.
var ErrForbidden = errors.New("insufficient privileges")

// The reasons a token is refused, in three groups: its form and signature,
// its time, and whom it is for and how it was presented. Each wraps
// [ErrInvalidToken]; [Reason] returns the label given with it.
var (
	// ErrMalformed: not a compact JWS, bad base64url or JSON, a claim of the
	// wrong type, too large, or a header the verifier refuses (zip, crit).
	ErrMalformed = newReason("malformed", "malformed token")
	// ErrAlgorithm: the alg is not allowed or does not fit the key.
	ErrAlgorithm = newReason("algorithm", "algorithm not allowed")
	// ErrUnknownKey: the issuer publishes no usable key for the token's kid.
	ErrUnknownKey = newReason("unknown_key", "unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = newReason("signature", "invalid signature")
)

// The reasons about a token's time; the verifier allows Config.Leeway of
// clock skew either way.
var (
	// ErrExpired: exp is missing or in the past.
	ErrExpired = newReason("expired", "token expired")
	// ErrNotYetValid: nbf is in the future.
	ErrNotYetValid = newReason("not_yet_valid", "token not yet valid")
	// ErrIssuedInFuture: iat is in the future.
	ErrIssuedInFuture = newReason("issued_in_future", "token issued in the future")
)

// The reasons about whom a token is from and for, and how it was
// presented.
var (
	// ErrIssuer: iss is not the configured issuer.
	ErrIssuer = newReason("issuer", "wrong issuer")
	// ErrUnknownIssuer: the token's iss is none of the issuers of an
	// [Issuers] (or the token has no iss). It is decided before any key
	// fetch or signature check, so it costs no issuer a request.
	ErrUnknownIssuer = newReason("unknown_issuer", "issuer not accepted")
	// ErrAudience: aud does not contain the configured audience.
	ErrAudience = newReason("audience", "wrong audience")
	// ErrClient: the client id is not in the configured allowlist.
	ErrClient = newReason("client", "client not allowed")
	// ErrType: the typ header is not the required one, or the token is of
	// the wrong kind (an ID token where an access token is expected).
	ErrType = newReason("type", "wrong token type")
	// ErrTokenBinding: the token and the way it was presented do not fit:
	// a token bound to a key (cnf) sent as a bearer token or with no
	// [Middleware.Binding] to check its proof, a bearer token sent with
	// the binding's scheme, a proof signed by a key other than the one the
	// token is bound to, or a bearer token where only bound tokens are
	// accepted.
	ErrTokenBinding = newReason("binding", "token binding not satisfied")
)

// NewReason returns a new reason for refusing a token, for checks made
// outside this package (a [Binding], say). It wraps [ErrInvalidToken];
// [Reason] returns label for it and for errors made from it with
// [Refuse], and message starts their error_description.
func NewReason(label, message string) error { return newReason(label, message) }

// Refuse returns an error wrapping reason (one of the reasons above, or one
// made with [NewReason]) with a detail for logs and the client's
// error_description. The detail must not contain key material or the token.
func Refuse(reason error, detail string) error {
	if re, ok := reason.(*reasonError); ok {
		return &tokenError{reason: re, detail: detail}
	}
	return fmt.Errorf("%w: %s", reason, detail)
}

// ChallengeError is implemented by token refusals that the middleware
// answers with their own error code instead of invalid_token, such as
// RFC 9449's invalid_dpop_proof and use_dpop_nonce. The error must also
// wrap [ErrInvalidToken].
type ChallengeError interface {
	error
	// ErrorCode returns the error code of the challenge, and may add
	// headers to the response's h (a fresh DPoP-Nonce, say).
	ErrorCode(h http.Header) string
}

// reasonError is a specific reason for refusing a token. It matches
// ErrInvalidToken in errors.Is.
type reasonError struct {
	label string
	msg   string
}

func newReason(label, msg string) *reasonError { return &reasonError{label: label, msg: msg} }

func (e *reasonError) Error() string { return e.msg }

// Is reports whether target is ErrInvalidToken, so every reason is also an
// invalid-token error.
func (e *reasonError) Is(target error) bool { return target == ErrInvalidToken }

// refuse returns an error wrapping reason with a detail for logs and the
// client's error_description. Details never contain key material or the token.
func refuse(reason *reasonError, format string, args ...any) error {
	return &tokenError{reason: reason, detail: fmt.Sprintf(format, args...)}
}

// tokenError carries a reason and a detail.
type tokenError struct {
	reason *reasonError
	detail string
}

func (e *tokenError) Error() string { return e.reason.msg + ": " + e.detail }
func (e *tokenError) Unwrap() error { return e.reason }

// KeysError reports that signing keys could not be had. It wraps
// [ErrKeysUnavailable] and the underlying cause.
type KeysError struct {
	// Err is the cause: a network error, a bad discovery document, …
	Err error
	// RetryAfter is a hint for clients, used in the Retry-After header.
	RetryAfter time.Duration
}

func (e *KeysError) Error() string {
	if e.Err == nil {
		return ErrKeysUnavailable.Error()
	}
	return ErrKeysUnavailable.Error() + ": " + e.Err.Error()
}

// Unwrap returns both ErrKeysUnavailable and the cause.
func (e *KeysError) Unwrap() []error { return []error{ErrKeysUnavailable, e.Err} }

// UnavailableError reports that a service a check needs could not be
// reached. It wraps [ErrUnavailable] and the underlying cause.
type UnavailableError struct {
	// Service names what was unavailable, for messages: "introspection
	// endpoint", "replay cache", …
	Service string
	// Err is the cause.
	Err error
	// RetryAfter is a hint for clients, used in the Retry-After header.
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	msg := "the " + e.Service + " is unavailable"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns both ErrUnavailable and the cause.
func (e *UnavailableError) Unwrap() []error { return []error{ErrUnavailable, e.Err} }

// ForbiddenError is a policy refusal. It wraps [ErrForbidden].
type ForbiddenError struct {
	// Scopes lists the missing scopes when a scope policy refused; it goes
	// into the challenge's scope parameter.
	Scopes []string
	// Detail says what was missing, for the error_description.
	Detail string
}

func (e *ForbiddenError) Error() string { return ErrForbidden.Error() + ": " + e.Detail }
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// Reason returns a short, stable label for err, for metrics and logs:
// "expired", "audience", "signature", …; "keys_unavailable" for key-source
// failures, "unavailable" for other services a check needs, "forbidden" for
// policy refusals, "invalid" for other token errors, and "error" for
// anything else.
func Reason(err error) string {
	var re *reasonError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &re):
		return re.label
	}
	for _, c := range errorClasses {
		if errors.Is(err, c.err) {
			return c.label
		}
	}
	return "error"
}

// errorClasses are the labels [Reason] gives errors that are not one
// specific reason, the narrower classes first: ErrInvalidToken, which the
// others may come with, last.
var errorClasses = []struct {
	err   error
	label string
}{
	{ErrKeysUnavailable, "keys_unavailable"},
	{ErrUnavailable, "unavailable"},
	{ErrForbidden, "forbidden"},
	{errNoToken, "no_token"},
	{errBadRequest, "invalid_request"},
	{ErrInvalidToken, "invalid"},
}

// describe returns the public error_description for err: the reason and its
// detail, which never include key material or the token.
func describe(err error) string {
	var te *tokenError
	if errors.As(err, &te) {
		return te.Error()
	}
	var re *reasonError
	if errors.As(err, &re) {
		return re.msg
	}
	return ""
}
