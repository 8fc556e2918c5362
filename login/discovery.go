package login

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	oidcdiscovery "github.com/apiguard/apiguard/internal/discovery"
	"github.com/apiguard/apiguard/internal/urlcheck"
)

// provider is the part of the issuer's discovery document the flow uses,
// fetched and checked by internal/discovery.
type provider struct {
	Issuer             string   `json:"issuer"`
	AuthorizationURL   string   `json:"authorization_endpoint"`
	TokenURL           string   `json:"token_endpoint"`
	EndSessionURL      string   `json:"end_session_endpoint"`
	RevocationURL      string   `json:"revocation_endpoint"`
	CodeChallengeTypes []string `json:"code_challenge_methods_supported"`
}

// discovery fetches the discovery document once and keeps it; a failed
// fetch is retried on the next call.
type discovery struct {
	issuer   string
	client   *http.Client
	insecure bool

	mu   sync.Mutex
	prov *provider
}

func (d *discovery) get(ctx context.Context) (*provider, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prov != nil {
		return d.prov, nil
	}
	p, err := d.fetch(ctx)
	if err != nil {
		return nil, err
	}
	d.prov = p
	return p, nil
}

func (d *discovery) fetch(ctx context.Context) (*provider, error) {
	doc, err := oidcdiscovery.Fetch(ctx, oidcdiscovery.HTTPGetter(d.client), d.issuer)
	if err != nil {
		return nil, err
	}
	p := &provider{Issuer: doc.Issuer, AuthorizationURL: doc.AuthorizationEndpoint, TokenURL: doc.TokenEndpoint,
		EndSessionURL: doc.EndSessionEndpoint, RevocationURL: doc.RevocationEndpoint, CodeChallengeTypes: doc.CodeChallengeMethods}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", p.AuthorizationURL}, {"token_endpoint", p.TokenURL},
	} {
		if _, err := doc.Endpoint(e.name, e.url, d.insecure); err != nil {
			return nil, err
		}
	}
	for _, e := range []struct{ name, url string }{
		{"end_session_endpoint", p.EndSessionURL}, {"revocation_endpoint", p.RevocationURL},
	} {
		if e.url != "" {
			if _, err := doc.Endpoint(e.name, e.url, d.insecure); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// checkEndpoint accepts https URLs, and http ones on loopback hosts or when
// insecure is set (the rule of internal/urlcheck, shared with the verifier).
func checkEndpoint(raw string, insecure bool) error {
	if _, err := urlcheck.Check(raw, insecure); err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	return nil
}
