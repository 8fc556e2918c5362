// Package defaults holds what the verifier and the packages built on it
// (introspect, dpop, login) use for a setting left unset, so that a zero
// setting means the same in each: the HTTP client and logger the verifier
// would use, a size or duration's default, and the range check of a bounded
// duration.
package defaults

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// CacheSize is the default number of entries of the verifier's cache of
// verified tokens, and of introspection results cached in memory: one
// setting, apiguard.Config.CacheSize, sizes both.
const CacheSize = 100_000

// HTTPTimeout bounds a whole request (connection, headers and body) of the
// client [HTTPClient] makes up.
const HTTPTimeout = 10 * time.Second

// HTTPClient returns c, or, when c is nil, a client with [HTTPTimeout]:
// http.DefaultClient has no timeout, and an issuer that stops answering
// would hold a key fetch forever.
func HTTPClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: HTTPTimeout}
	}
	return c
}

// Logger returns l, or, when l is nil, a logger that drops everything: a
// library logs only when asked to.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Or returns v, or def when v is zero or negative: for sizes and durations
// whose zero means "the default" and for which a negative value means
// nothing else.
func Or[T ~int | ~int64](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Bounded returns d, or def when d is zero. A d below zero or above max is
// refused with an error that names setting ("apiguard: Config.Leeway").
func Bounded(setting string, d, def, max time.Duration) (time.Duration, error) {
	switch {
	case d < 0 || d > max:
		return 0, fmt.Errorf("%s %s is out of range (0 to %s)", setting, d, max)
	case d == 0:
		return def, nil
	}
	return d, nil
}
