package login

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/apiguard/apiguard/internal/urlcheck"
)

// maxDiscoveryBytes caps the discovery document's size.
const maxDiscoveryBytes = 1 << 20

// provider is the part of the issuer's discovery document the flow uses.
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
	u := strings.TrimSuffix(d.issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("failed to build discovery request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("failed to fetch discovery document: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("failed to fetch discovery document: %s answered %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDiscoveryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read discovery document: %w", err)
	}
	if len(body) > maxDiscoveryBytes {
		return nil, fmt.Errorf("failed to read discovery document: larger than %d bytes", maxDiscoveryBytes)
	}
	var p provider
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("failed to decode discovery document: %w", err)
	}
	if p.Issuer != d.issuer {
		return nil, fmt.Errorf("discovery document names issuer %q, want %q", p.Issuer, d.issuer)
	}
	for name, e := range map[string]string{"authorization_endpoint": p.AuthorizationURL, "token_endpoint": p.TokenURL} {
		if e == "" {
			return nil, fmt.Errorf("discovery document has no %s", name)
		}
	}
	for name, e := range map[string]string{
		"authorization_endpoint": p.AuthorizationURL, "token_endpoint": p.TokenURL,
		"end_session_endpoint": p.EndSessionURL, "revocation_endpoint": p.RevocationURL,
	} {
		if e != "" {
			if _, err := urlcheck.Discovered(d.issuer, e, d.insecure); err != nil {
				return nil, fmt.Errorf("discovery document's %s %q: %w", name, e, err)
			}
		}
	}
	return &p, nil
}

// checkEndpoint accepts https URLs, and http ones on loopback hosts or when
// insecure is set (the rule of internal/urlcheck, shared with the verifier).
func checkEndpoint(raw string, insecure bool) error {
	if _, err := urlcheck.Check(raw, insecure); err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	return nil
}
