package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/apiguard/apiguard/devissuer"
	"github.com/apiguard/apiguard/internal/discovery"
)

// tokenConfig is the validated configuration of `apiguard token`.
type tokenConfig struct {
	issuer, tokenURL       string
	clientID, clientSecret string
	scopes                 []string
	authStyle              oauth2.AuthStyle
	json                   bool
}

// tokenSettings are the settings token reads (settingTable).
var tokenSettings = []string{"issuer", "token-url", "client-id", "client-secret", "scope", "auth", "json"}

func parseTokenConfig(args []string, stderr io.Writer) (*tokenConfig, error) {
	s := newSettings("token", stderr, tokenSettings...)
	if err := s.parse(args); err != nil {
		return nil, err
	}
	cfg := &tokenConfig{issuer: s.str("issuer"), tokenURL: s.str("token-url"), clientID: s.str("client-id"),
		clientSecret: s.str("client-secret"), scopes: s.list("scope"), json: s.bool("json"), authStyle: oauth2.AuthStyleInHeader}
	switch {
	case cfg.issuer == "" && cfg.tokenURL == "":
		return nil, s.bad("issuer", "is required (or --token-url)")
	case cfg.clientID == "":
		return nil, s.bad("client-id", "is required")
	case cfg.clientSecret == "":
		return nil, s.bad("client-secret", "is required")
	}
	if s.str("auth") == "post" {
		cfg.authStyle = oauth2.AuthStyleInParams
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
	doc, err := discovery.Fetch(ctx, discovery.HTTPGetter(client), issuer)
	var se *discovery.StatusError
	var ie *discovery.IssuerError
	var fe *discovery.FetchError
	switch {
	case errors.As(err, &se):
		return "", fmt.Errorf("failed to fetch %s: status %d; is OKTA_ISSUER (--issuer) the issuer URI of an authorization server?", se.URL, se.Status)
	case errors.As(err, &ie):
		return "", fmt.Errorf("the discovery document at %s names issuer %q, not %q: use that exact value as OKTA_ISSUER (--issuer)", ie.URL, ie.Got, ie.Want)
	case errors.As(err, &fe):
		return "", fmt.Errorf("failed to fetch %s: %w", fe.URL, fe.Err)
	case err != nil:
		return "", fmt.Errorf("failed to read the discovery document at %s: %w", discovery.URL(issuer), err)
	}
	if doc.TokenEndpoint == "" {
		return "", fmt.Errorf("the discovery document at %s has no token_endpoint", discovery.URL(issuer))
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
