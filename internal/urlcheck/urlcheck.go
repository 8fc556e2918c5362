// Package urlcheck is apiguard's one rule for the URLs it talks to: an
// issuer, its endpoints, a public URL. They must be https, except plain
// http to this machine (a loopback host) for development, or anywhere when
// the caller explicitly allows insecure http.
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

// The reasons a URL is refused; the errors of [Check] and [Discovered] are
// or wrap one of them, and do not repeat the URL (callers name it).
var (
	// ErrNotAbsolute: the URL does not parse or has no scheme and host.
	ErrNotAbsolute = errors.New("not an absolute URL")
	// ErrScheme: the scheme is neither https nor http.
	ErrScheme = errors.New("not an https URL")
	// ErrPlainHTTP: http where only https is allowed.
	ErrPlainHTTP = errors.New("plain http where https is required")
	// ErrFragment: the URL has a fragment, which no endpoint may have.
	ErrFragment = errors.New("URL has a fragment")
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
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if insecure || IsLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%w: the host is not loopback", ErrPlainHTTP)
	}
	return nil, ErrScheme
}

// Discovered checks an endpoint URL that the issuer's discovery document
// gave (jwks_uri, token_endpoint, …), for the issuer at issuer: it must be
// https, unless the issuer is on a loopback host (a development issuer) and
// so is the endpoint, or insecure is set. An issuer elsewhere cannot send
// apiguard to plain http, not even on a loopback host.
func Discovered(issuer, raw string, insecure bool) (*url.URL, error) {
	u, err := parse(raw)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if insecure {
			return u, nil
		}
		iss, err := url.Parse(issuer)
		if err == nil && IsLoopback(iss.Hostname()) && IsLoopback(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("%w: http is accepted only from an issuer on a loopback host for an endpoint on one", ErrPlainHTTP)
	}
	return nil, ErrScheme
}

func parse(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return nil, ErrNotAbsolute
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return nil, ErrFragment
	}
	return u, nil
}
