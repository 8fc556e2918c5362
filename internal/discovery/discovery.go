// Package discovery fetches an OpenID Connect issuer's discovery document
// (OpenID Connect Discovery 1.0 §4, RFC 8414) for the verifier's key set,
// the login flow and the token command, so that they read it one way.
//
// # What is checked
//
// The document is fetched from the issuer's
// /.well-known/openid-configuration with a size cap ([MaxSize]), decoded as
// JSON, and refused unless its issuer equals the configured issuer exactly.
// [Document.Endpoint] returns an endpoint the document names, checked by
// internal/urlcheck: https, or http when the issuer and the endpoint are
// both on loopback hosts (or insecure is set).
//
// # Timeouts
//
// Fetch is bounded by its context and by the caller's http.Client; it sets
// no timeout of its own.
package discovery

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/apiguard/apiguard/internal/urlcheck"
)

// MaxSize caps a discovery document.
const MaxSize = 1 << 20

// Document is what apiguard reads of a discovery document.
type Document struct {
	Issuer                string   `json:"issuer"`
	JWKSURI               string   `json:"jwks_uri"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	EndSessionEndpoint    string   `json:"end_session_endpoint"`
	RevocationEndpoint    string   `json:"revocation_endpoint"`
	IntrospectionEndpoint string   `json:"introspection_endpoint"`
	CodeChallengeMethods  []string `json:"code_challenge_methods_supported"`
}

// URL returns the address of issuer's discovery document.
func URL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// Getter GETs a URL and returns the body of a 200 answer.
type Getter func(ctx context.Context, url string) ([]byte, error)

// StatusError is the error of a GET answered with a status other than 200.
type StatusError struct {
	URL    string
	Status int
}

func (e *StatusError) Error() string { return fmt.Sprintf("GET %s: status %d", e.URL, e.Status) }

// HTTPGetter is a Getter with client, asking for JSON, with the body
// capped at MaxSize.
func HTTPGetter(client *http.Client) Getter {
	return func(ctx context.Context, url string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, &StatusError{URL: url, Status: resp.StatusCode}
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
		if len(body) > MaxSize {
			return nil, fmt.Errorf("GET %s: body larger than %d bytes", url, MaxSize)
		}
		return body, nil
	}
}

// FetchError: the discovery document at URL could not be had (a network
// error, a [StatusError], a body too large…).
type FetchError struct {
	URL string
	Err error
}

func (e *FetchError) Error() string { return "failed to discover the issuer: " + e.Err.Error() }
func (e *FetchError) Unwrap() error { return e.Err }

// IssuerError: the discovery document at URL names issuer Got, not the
// configured Want.
type IssuerError struct {
	URL, Got, Want string
}

func (e *IssuerError) Error() string {
	return fmt.Sprintf("discovery document names issuer %q, want %q", e.Got, e.Want)
}

// Fetch gets issuer's discovery document with get and checks that it names
// issuer exactly.
func Fetch(ctx context.Context, get Getter, issuer string) (*Document, error) {
	body, err := get(ctx, URL(issuer))
	if err != nil {
		return nil, &FetchError{URL: URL(issuer), Err: err}
	}
	doc := new(Document)
	if err := json.Unmarshal(body, doc); err != nil {
		return nil, fmt.Errorf("failed to decode the discovery document: %w", err)
	}
	if doc.Issuer != issuer {
		return nil, &IssuerError{URL: URL(issuer), Got: doc.Issuer, Want: issuer}
	}
	return doc, nil
}

// Endpoint checks an endpoint URL the document gave under name: present,
// and https unless the issuer is on a loopback host and so is the endpoint
// (or insecure is set). The error names the endpoint.
func (d *Document) Endpoint(name, raw string, insecure bool) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("discovery document has no %s", name)
	}
	if _, err := urlcheck.Discovered(d.Issuer, raw, insecure); err != nil {
		return "", fmt.Errorf("discovery document's %s %q: %w", name, raw, err)
	}
	return raw, nil
}
