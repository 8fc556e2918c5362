package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard/devissuer"
)

// tokenConfig is the validated configuration of `apiguard token`.
type tokenConfig struct {
	issuer, tokenURL       string
	clientID, clientSecret string
	scopes                 []string
	authStyle              oauth2.AuthStyle
	json                   bool
}

func parseTokenConfig(args []string, stderr io.Writer) (*tokenConfig, error) {
	s := newSettings("token", stderr)
	issuer := s.add("issuer", "OKTA_ISSUER", "", "issuer URL, e.g. https://your-okta-domain/oauth2/default")
	tokenURL := s.add("token-url", "", "", "token endpoint (default: from the issuer's discovery document)")
	clientID := s.add("client-id", "OKTA_CLIENT_ID", "", "client id")
	clientSecret := s.add("client-secret", "OKTA_CLIENT_SECRET", "", "client secret")
	scope := s.add("scope", "", "", `space-separated scopes, e.g. "api:read api:write" (default: the issuer's default scopes)`)
	auth := s.add("auth", "", "basic", "client authentication: basic (client_secret_basic) or post (client_secret_post)")
	asJSON := s.fs.Bool("json", false, "print the whole token response as JSON instead of the access token")
	if err := s.parse(args); err != nil {
		return nil, err
	}
	cfg := &tokenConfig{issuer: *issuer, tokenURL: *tokenURL, clientID: *clientID, clientSecret: *clientSecret,
		scopes: strings.Fields(*scope), json: *asJSON}
	switch {
	case cfg.issuer == "" && cfg.tokenURL == "":
		return nil, s.bad(issuer, "is required (or --token-url)")
	case cfg.issuer != "" && strings.Contains(cfg.issuer, "your-okta-domain"):
		return nil, s.bad(issuer, "%q is the tutorial's placeholder: put your Okta domain there", cfg.issuer)
	case cfg.clientID == "":
		return nil, s.bad(clientID, "is required")
	case cfg.clientSecret == "":
		return nil, s.bad(clientSecret, "is required")
	}
	if cfg.issuer != "" {
		if err := checkHTTPURL(cfg.issuer); err != nil {
			return nil, s.bad(issuer, "%v", err)
		}
	}
	if cfg.tokenURL != "" {
		if err := checkHTTPURL(cfg.tokenURL); err != nil {
			return nil, s.bad(tokenURL, "%v", err)
		}
	}
	switch *auth {
	case "basic":
		cfg.authStyle = oauth2.AuthStyleInHeader
	case "post":
		cfg.authStyle = oauth2.AuthStyleInParams
	default:
		return nil, s.bad(auth, "%q is not basic or post", *auth)
	}
	return cfg, nil
}

// runToken gets an access token by client credentials and prints it.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseTokenConfig(args, stderr)
	if err != nil {
		return err
	}
	capture := &captureTransport{base: http.DefaultTransport}
	client := &http.Client{Transport: capture, Timeout: 30 * time.Second}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)

	tokenURL := cfg.tokenURL
	if tokenURL == "" {
		if tokenURL, err = discoverTokenURL(ctx, client, cfg.issuer); err != nil {
			return err
		}
	}
	cc := clientcredentials.Config{
		ClientID:     cfg.clientID,
		ClientSecret: cfg.clientSecret,
		TokenURL:     tokenURL,
		Scopes:       cfg.scopes,
		AuthStyle:    cfg.authStyle,
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		return explainTokenError(err, cfg)
	}
	if !cfg.json {
		fmt.Fprintln(stdout, tok.AccessToken)
		return nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, capture.body(), "", "  "); err != nil {
		return fmt.Errorf("failed to format the token response: %w", err)
	}
	out.WriteByte('\n')
	_, err = stdout.Write(out.Bytes())
	return err
}

// discoverTokenURL reads the token endpoint from the issuer's OpenID
// Connect discovery document, checking that it names the same issuer.
func discoverTokenURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("failed to build the discovery request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("failed to fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("failed to fetch %s: status %d; is OKTA_ISSUER (--issuer) the issuer URI of an authorization server?", u, resp.StatusCode)
	}
	var doc struct {
		Issuer        string `json:"issuer"`
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return "", fmt.Errorf("failed to read the discovery document at %s: %w", u, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("the discovery document at %s names issuer %q, not %q: use that exact value as OKTA_ISSUER (--issuer)", u, doc.Issuer, issuer)
	}
	if doc.TokenEndpoint == "" {
		return "", fmt.Errorf("the discovery document at %s has no token_endpoint", u)
	}
	return doc.TokenEndpoint, nil
}

// explainTokenError turns a refusal into one line with the issuer's error
// code and description, and a hint for the common Okta mistakes. It never
// includes the client secret.
func explainTokenError(err error, cfg *tokenConfig) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return fmt.Errorf("failed to get a token: %w", err)
	}
	if re.ErrorCode == "" {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("failed to get a token: the token endpoint answered status %d without an OAuth error", status)
	}
	msg := fmt.Sprintf("the issuer refused the request: %s", re.ErrorCode)
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	if hint := tokenErrorHint(re.ErrorCode, cfg); hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(msg)
}

func tokenErrorHint(code string, cfg *tokenConfig) string {
	switch code {
	case "invalid_client":
		return "check OKTA_CLIENT_ID (--client-id) and OKTA_CLIENT_SECRET (--client-secret); try --auth post if the app expects credentials in the body"
	case "unauthorized_client":
		return "allow the Client Credentials grant for this app (Okta: Applications > your app > General > Grant type)"
	case "invalid_scope":
		for _, s := range cfg.scopes {
			if devissuer.IsOIDCScope(s) {
				return "the client credentials grant takes custom scopes only: drop " + s
			}
		}
		if len(cfg.scopes) == 0 {
			return "name a scope with --scope, or mark one as a default scope (Okta: Security > API > Authorization Servers > Scopes)"
		}
		return "create the scope on the authorization server and allow it for this app (Okta: Security > API > Authorization Servers > Scopes and Access Policies)"
	}
	return ""
}

// captureTransport keeps the body of the last response, so --json prints
// the token response exactly as the issuer sent it.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	last []byte
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.last = body
	c.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func (c *captureTransport) body() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}
