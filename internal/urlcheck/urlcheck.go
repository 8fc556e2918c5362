// Package urlcheck is apiguard's one rule for the URLs it talks to: an
// issuer, its endpoints, a public URL. They must be https, except plain
// http to this machine (a loopback host) for development, or anywhere when
// the caller explicitly allows insecure http. A URL that other URLs are
// made from (a public URL, an upstream) has a rule of its own for its shape,
// [Base]: no credentials, query or fragment.
//
// Loopback is decided from the URL's host alone, without resolving it, and
// only for forms that cannot mean anything else: the name localhost, and IP
// literals in 127.0.0.0/8 or ::1. Names that merely look local
// (127.example.com, 127.0.0.1.nip.io, localhost.evil.com) are DNS names that
// anyone can point anywhere; the shorthand forms some resolvers read as
// addresses (127.1, 0x7f.1, 2130706433) are not IP literals in Go and would
// be looked up as names. All of those are not loopback.
package urlcheck

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// The reasons a URL is refused; the errors of [Check], [Discovered] and
// [Base] are or wrap one of them, and do not repeat the URL (callers name
// it).
var (
	// ErrNotAbsolute: the URL does not parse or has no scheme and host.
	ErrNotAbsolute = errors.New("not an absolute URL")
	// ErrScheme: the scheme is neither https nor http.
	ErrScheme = errors.New("not an http or https URL")
	// ErrPlainHTTP: http where only https is allowed.
	ErrPlainHTTP = errors.New("plain http where https is required")
	// ErrFragment: the URL has a fragment, which no endpoint may have.
	ErrFragment = errors.New("URL has a fragment")
	// ErrCredentials: the URL has a user name or password ([Base]).
	ErrCredentials = errors.New("URL has a user name or password")
	// ErrQuery: the URL has a query, or a bare "?" ([Base]).
	ErrQuery = errors.New("URL has a query")
)

// IsLoopback reports whether host, as [url.URL.Hostname] returns it (no
// port, no brackets), certainly names this machine: "localhost" in any
// case and with or without the trailing dot of a fully qualified name, or
// an IP literal in 127.0.0.0/8 or ::1 (also as an IPv4-mapped IPv6
// address, ::ffff:127.0.0.1, which connects to 127.0.0.1).
func IsLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	// netip, unlike some resolvers, takes only the full dotted-decimal
	// form of an IPv4 address: 127.1, 0x7f.1 and 2130706433 do not parse.
	// A zone (::1%eth0) is refused too.
	ip, err := netip.ParseAddr(host)
	if err != nil || ip.Zone() != "" {
		return false
	}
	return ip.Unmap().IsLoopback()
}

// Check parses raw and returns it if it is an absolute https URL, or an
// http URL on a loopback host or with insecure set. It refuses fragments;
// callers that refuse queries too check u.RawQuery themselves.
func Check(raw string, insecure bool) (*url.URL, error) {
	u, plain, err := parseHTTP(raw)
	if err != nil || !plain || insecure || IsLoopback(u.Hostname()) {
		return u, err
	}
	return nil, fmt.Errorf("%w: the host is not loopback", ErrPlainHTTP)
}

// Discovered checks an endpoint URL that the issuer's discovery document
// gave (jwks_uri, token_endpoint, …), for the issuer at issuer: it must be
// https, unless the issuer is on a loopback host (a development issuer) and
// so is the endpoint, or insecure is set. An issuer elsewhere cannot send
// apiguard to plain http, not even on a loopback host.
func Discovered(issuer, raw string, insecure bool) (*url.URL, error) {
	u, plain, err := parseHTTP(raw)
	if err != nil || !plain || insecure || IsLoopback(u.Hostname()) && issuerOnLoopback(issuer) {
		return u, err
	}
	return nil, fmt.Errorf("%w: http is accepted only from an issuer on a loopback host for an endpoint on one", ErrPlainHTTP)
}

func issuerOnLoopback(issuer string) bool {
	u, err := url.Parse(issuer)
	return err == nil && IsLoopback(u.Hostname())
}

// Base parses raw and returns it if it is an absolute http or https URL
// that a path can be put after: a scheme and a host, and no user name or
// password, no query (not even an empty one, a bare "?") and no fragment.
// It is the rule for the base URL of a service (a public URL, an issuer, an
// upstream), which apiguard joins with request paths and must not echo with
// credentials in it. Unlike [Check] it takes http to any host: whether a
// setting may be plain http is its caller's rule.
//
// Its errors are [ErrNotAbsolute], [ErrScheme], [ErrCredentials],
// [ErrQuery] and [ErrFragment]. A caller that names the URL in a message
// should show it with [url.URL.Redacted], or not at all when it did not
// parse.
func Base(raw string) (*url.URL, error) {
	u, _, err := parseHTTP(raw)
	switch {
	case err != nil:
		return nil, err
	case u.User != nil:
		return nil, ErrCredentials
	case u.RawQuery != "" || u.ForceQuery:
		return nil, ErrQuery
	}
	return u, nil
}

// parseHTTP parses raw as an absolute http or https URL without a fragment,
// and reports whether it is plain http.
func parseHTTP(raw string) (u *url.URL, plain bool, err error) {
	u, err = url.Parse(raw)
	switch {
	case err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "":
		return nil, false, ErrNotAbsolute
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, false, ErrFragment
	case u.Scheme == "https":
		return u, false, nil
	case u.Scheme == "http":
		return u, true, nil
	}
	return nil, false, ErrScheme
}
