// Package metriclabel turns request input into Prometheus label values
// from fixed sets, so that no client can create new time series: every
// label value a series can have is known before the first request.
package metriclabel

import (
	"net/http"
	"regexp"
	"strconv"
)

// Other is the label value of a method or status outside the fixed sets.
const Other = "other"

// Methods are the method label values besides [Other]: the methods of
// RFC 9110 and PATCH (RFC 5789).
var Methods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace,
}

// Method returns m when it is one of [Methods], spelt exactly so, and
// [Other] otherwise ("get", "PROPFIND" and an 8 KB made-up method all count
// as other).
func Method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return Other
}

// Status returns the label value of an HTTP status code: the code itself
// when net/http knows it (http.StatusText is not empty: about 60 codes),
// its class ("1xx" … "5xx") for another code from 100 to 599 (an upstream
// may answer 299 or 599), and [Other] for anything else (0, 600–999).
func Status(code int) string {
	switch {
	case http.StatusText(code) != "":
		return strconv.Itoa(code)
	case code >= 100 && code <= 599:
		return strconv.Itoa(code/100) + "xx"
	}
	return Other
}

// Statuses returns every value [Status] can return.
func Statuses() []string {
	var out []string
	for code := 100; code <= 599; code++ {
		if http.StatusText(code) != "" {
			out = append(out, strconv.Itoa(code))
		}
	}
	return append(out, "1xx", "2xx", "3xx", "4xx", "5xx", Other)
}

// issuerName is the form of an issuer's configured name.
var issuerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// IssuerName reports whether s may name an issuer (apiguard.Config.Name):
// 1 to 63 letters, digits and ._-, the first a letter or digit. The name
// becomes the issuer label of metrics and a key in the gateway's rules
// file; the library and the command's settings check it with this one
// rule.
func IssuerName(s string) bool { return issuerName.MatchString(s) }
