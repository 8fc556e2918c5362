package devissuer

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/urlcheck"
	"go.yaml.in/yaml/v3"
)

// Grant types a client may be allowed to use.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
)

// DefaultAudience is the audience of Okta's default custom authorization server.
const DefaultAudience = "api://default"

// Default lifetimes, chosen to match Okta's defaults for a custom authorization server.
const (
	DefaultAccessTokenTTL  = time.Hour
	DefaultIDTokenTTL      = time.Hour
	DefaultRefreshTokenTTL = 7 * 24 * time.Hour
	DefaultKeysMaxAge      = 5 * time.Minute
	// CodeTTL is the life of an authorization code, fixed as at Okta.
	CodeTTL = 5 * time.Minute
	// loginTTL is how long a login form stays usable.
	loginTTL = 10 * time.Minute
	// sessionTTL is the life of the issuer's own browser session.
	sessionTTL = 2 * time.Hour
)

// oidcScopes returns the OpenID Connect scopes every Okta authorization
// server knows.
func oidcScopes() []string {
	return []string{"openid", "profile", "email", "address", "phone", "offline_access", "groups"}
}

// IsOIDCScope reports whether s is an OpenID Connect scope (openid,
// profile, email, address, phone, offline_access, groups) rather than a
// custom scope. Okta refuses them in client credentials requests.
func IsOIDCScope(s string) bool { return slices.Contains(oidcScopes(), s) }

// Config describes a development issuer. The zero value of every optional field
// selects the documented default; New validates the whole.
type Config struct {
	// Issuer is the exact issuer URL, for example
	// "http://127.0.0.1:5000/oauth2/default". Required. Its path is where the
	// handler answers; it is never derived from a request.
	Issuer string `yaml:"-"`

	// Audience is the "aud" of access tokens. Default DefaultAudience.
	Audience string `yaml:"audience"`

	// Scopes are the custom scopes of the authorization server. The OpenID
	// Connect scopes (openid, profile, email, address, phone, offline_access,
	// groups) are always known and must not be listed.
	Scopes []Scope `yaml:"scopes"`

	// Clients are the registered OAuth clients. At least one is required.
	Clients []Client `yaml:"clients"`

	// Users are the people who can log in through the form at /v1/authorize.
	Users []User `yaml:"users"`

	// AccessTokenTTL is the life of access tokens. Default 1h.
	AccessTokenTTL time.Duration `yaml:"access_token_ttl"`
	// IDTokenTTL is the life of ID tokens. Default 1h.
	IDTokenTTL time.Duration `yaml:"id_token_ttl"`
	// RefreshTokenTTL is the life of refresh tokens. Default 7 days.
	RefreshTokenTTL time.Duration `yaml:"refresh_token_ttl"`

	// KeyGrace is how long a key stays published after Rotate retires it, so
	// tokens it signed keep verifying. Default: the longer of AccessTokenTTL and
	// IDTokenTTL.
	KeyGrace time.Duration `yaml:"key_grace"`
	// KeysMaxAge is the Cache-Control max-age of /v1/keys. Default 5m, and never
	// more than half of RotateEvery, so that caches see the next key before it
	// is used.
	KeysMaxAge time.Duration `yaml:"keys_max_age"`
	// RotateEvery makes Run rotate the signing key at this period. Zero: keys
	// rotate only when Rotate is called.
	RotateEvery time.Duration `yaml:"rotate_every"`

	// Keys are the signing keys to start with, for example those of an
	// earlier run read with ReadStateFile, so that the tokens it issued keep
	// verifying. Default: two fresh keys (the active one and the next).
	Keys *KeySet `yaml:"-"`
	// OnRotate, when set, is called with the new key set after every
	// rotation, for example to store it with WriteStateFile.
	OnRotate func(KeySet) `yaml:"-"`

	// Now is the clock. Default time.Now.
	Now func() time.Time `yaml:"-"`
	// Rand is the source of keys, codes and identifiers. Default crypto/rand.
	Rand io.Reader `yaml:"-"`
	// Logger receives one line per refused request, never a token or secret.
	// Default: discard.
	Logger *slog.Logger `yaml:"-"`
}

// Scope is a custom scope of the authorization server.
type Scope struct {
	// Name is the scope value, e.g. "api:read".
	Name string `yaml:"name"`
	// Description is shown in the discovery document's scopes only by name;
	// it documents the configuration file.
	Description string `yaml:"description"`
	// Default marks the scope as granted when a client credentials request
	// names no scope, as Okta's "default scope" setting does.
	Default bool `yaml:"default"`
}

// Client is a registered OAuth client.
type Client struct {
	// ID is the client_id. Required.
	ID string `yaml:"id"`
	// Secret is the client secret. Empty makes a public client, which
	// authenticates with its id alone and may not use client credentials.
	Secret string `yaml:"secret"`
	// Name is shown on the login form.
	Name string `yaml:"name"`
	// RedirectURIs are the sign-in redirect URIs, matched exactly.
	RedirectURIs []string `yaml:"redirect_uris"`
	// PostLogoutRedirectURIs are the sign-out redirect URIs, matched exactly.
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// GrantTypes the client may use. Default: all three for a confidential
	// client, authorization_code and refresh_token for a public one.
	GrantTypes []string `yaml:"grant_types"`
	// Scopes are the custom scopes the client may ask for. Empty: all of the
	// authorization server's custom scopes.
	Scopes []string `yaml:"scopes"`
}

// User is a person who can log in.
type User struct {
	// ID is Okta's user id ("uid", and "sub" of ID tokens). Default: derived
	// from the username.
	ID string `yaml:"id"`
	// Username is the login, and the "sub" of access tokens as at Okta. Required.
	Username string `yaml:"username"`
	// Password is compared in constant time. Required.
	Password string `yaml:"password"`
	// Name is the "name" claim. Default: the username.
	Name string `yaml:"name"`
	// Email is the "email" claim. Default: the username when it contains "@".
	Email string `yaml:"email"`
	// Groups are the "groups" claim.
	Groups []string `yaml:"groups"`
}

func (c *Client) public() bool { return c.Secret == "" }

func (c *Client) allows(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// ParseConfig reads a YAML configuration. Unknown fields are an error, so a
// misspelt setting is not silently ignored. The Issuer is not part of the file.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("failed to parse development issuer configuration: %w", err)
	}
	return cfg, nil
}

// LoadConfig reads the YAML configuration file at path; see ParseConfig.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("failed to read development issuer configuration: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Defaults are the inputs of DefaultConfig. Empty credentials are generated.
type Defaults struct {
	// ClientID and ClientSecret of the one confidential client; the command
	// takes them from OKTA_CLIENT_ID and OKTA_CLIENT_SECRET.
	ClientID, ClientSecret string
	// Username and Password of the one user; the command takes them from
	// APIGUARD_DEV_USER and APIGUARD_DEV_PASSWORD.
	Username, Password string
	// BaseURLs are the URLs of the application using the issuer, e.g.
	// "http://localhost:5000". Each gives a /login/callback redirect URI and a
	// /logout/callback post-logout redirect URI. Default: http://localhost:5000
	// and http://127.0.0.1:5000, the tutorial's.
	BaseURLs []string
	// Rand is the source of generated credentials. Default crypto/rand.
	Rand io.Reader
}

// Generated reports which credentials DefaultConfig made up, so a command
// can print those (and only those) for the user.
type Generated struct {
	ClientID, ClientSecret, Username, Password bool
}

// DefaultConfig returns the configuration used when no file is given: one
// confidential client allowed every grant and the custom scopes "api:read"
// (granted by default) and "api:write", and one user in the groups Everyone
// and Engineering. The Issuer field is left for the caller to set.
func DefaultConfig(d Defaults) (Config, Generated, error) {
	r := d.Rand
	if r == nil {
		r = rand.Reader
	}
	var gen Generated
	fill := func(v *string, flag *bool, prefix string, n int) error {
		if *v != "" {
			return nil
		}
		s, err := randomString(r, n)
		if err != nil {
			return fmt.Errorf("failed to generate development credentials: %w", err)
		}
		*v, *flag = prefix+s, true
		return nil
	}
	if err := fill(&d.ClientID, &gen.ClientID, "0oa", 12); err != nil {
		return Config{}, gen, err
	}
	if err := fill(&d.ClientSecret, &gen.ClientSecret, "", 30); err != nil {
		return Config{}, gen, err
	}
	if d.Username == "" {
		d.Username, gen.Username = "dev@example.com", true
	}
	if err := fill(&d.Password, &gen.Password, "", 12); err != nil {
		return Config{}, gen, err
	}
	bases := d.BaseURLs
	if len(bases) == 0 {
		bases = []string{"http://localhost:5000", "http://127.0.0.1:5000"}
	}
	client := Client{
		ID:         d.ClientID,
		Secret:     d.ClientSecret,
		Name:       "apiguard development client",
		GrantTypes: []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken},
		Scopes:     []string{"api:read", "api:write"},
	}
	for _, b := range bases {
		b = strings.TrimRight(b, "/")
		if !slices.Contains(client.RedirectURIs, b+"/login/callback") {
			client.RedirectURIs = append(client.RedirectURIs, b+"/login/callback")
			client.PostLogoutRedirectURIs = append(client.PostLogoutRedirectURIs, b+"/logout/callback")
		}
	}
	cfg := Config{
		Scopes: []Scope{
			{Name: "api:read", Description: "Read the API's data.", Default: true},
			{Name: "api:write", Description: "Change the API's data."},
		},
		Clients: []Client{client},
		Users: []User{{
			Username: d.Username,
			Password: d.Password,
			Name:     displayName(d.Username),
			Groups:   []string{"Everyone", "Engineering"},
		}},
	}
	return cfg, gen, nil
}

// displayName is the "name" of the default user: the part of an email
// address before the @ (ada@example.com is "ada"), or the whole username.
func displayName(username string) string {
	if local, _, ok := strings.Cut(username, "@"); ok && local != "" {
		return local
	}
	return username
}

// withDefaults validates cfg and returns a copy with every default applied.
func (cfg Config) withDefaults() (Config, error) {
	u, err := urlcheck.Base(cfg.Issuer)
	switch {
	case cfg.Issuer == "":
		return cfg, errors.New("devissuer: Issuer is required")
	case err != nil:
		// urlcheck's errors do not repeat the URL, which may hold a password.
		return cfg, fmt.Errorf("devissuer: Issuer: %w; want an http(s) URL with a host, no query and no trailing slash", err)
	case strings.HasSuffix(cfg.Issuer, "/"):
		return cfg, fmt.Errorf("devissuer: Issuer %q must be an http(s) URL with a host, no query and no trailing slash", cfg.Issuer)
	case strings.Trim(u.Path, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") != "" || u.RawPath != "":
		return cfg, fmt.Errorf("devissuer: Issuer %q: the path may hold only letters, digits, '/' and -._~", cfg.Issuer)
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	for _, d := range []*time.Duration{&cfg.AccessTokenTTL, &cfg.IDTokenTTL, &cfg.RefreshTokenTTL, &cfg.KeyGrace, &cfg.KeysMaxAge, &cfg.RotateEvery} {
		if *d < 0 {
			return cfg, errors.New("devissuer: durations must not be negative")
		}
	}
	setDefault(&cfg.AccessTokenTTL, DefaultAccessTokenTTL)
	setDefault(&cfg.IDTokenTTL, DefaultIDTokenTTL)
	setDefault(&cfg.RefreshTokenTTL, DefaultRefreshTokenTTL)
	setDefault(&cfg.KeyGrace, max(cfg.AccessTokenTTL, cfg.IDTokenTTL))
	setDefault(&cfg.KeysMaxAge, DefaultKeysMaxAge)
	if cfg.RotateEvery > 0 {
		cfg.KeysMaxAge = min(cfg.KeysMaxAge, cfg.RotateEvery/2)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	cfg.Scopes = slices.Clone(cfg.Scopes)
	seen := map[string]bool{}
	for _, s := range cfg.Scopes {
		switch {
		case !validScopeToken(s.Name):
			return cfg, fmt.Errorf("devissuer: scope %q is not a valid scope name", s.Name)
		case IsOIDCScope(s.Name):
			return cfg, fmt.Errorf("devissuer: scope %q is built in and must not be configured", s.Name)
		case seen[s.Name]:
			return cfg, fmt.Errorf("devissuer: scope %q is configured twice", s.Name)
		}
		seen[s.Name] = true
	}

	if len(cfg.Clients) == 0 {
		return cfg, errors.New("devissuer: at least one client is required")
	}
	cfg.Clients = slices.Clone(cfg.Clients)
	ids := map[string]bool{}
	for i := range cfg.Clients {
		c := &cfg.Clients[i]
		if c.ID == "" {
			return cfg, fmt.Errorf("devissuer: client %d has no id", i+1)
		}
		if ids[c.ID] {
			return cfg, fmt.Errorf("devissuer: client %q is configured twice", c.ID)
		}
		ids[c.ID] = true
		if len(c.GrantTypes) == 0 {
			c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
			if !c.public() {
				c.GrantTypes = append(c.GrantTypes, GrantClientCredentials)
			}
		}
		for _, g := range c.GrantTypes {
			if g != GrantClientCredentials && g != GrantAuthorizationCode && g != GrantRefreshToken {
				return cfg, fmt.Errorf("devissuer: client %q: unknown grant type %q", c.ID, g)
			}
		}
		if c.public() && c.allows(GrantClientCredentials) {
			return cfg, fmt.Errorf("devissuer: client %q has no secret and cannot use client_credentials", c.ID)
		}
		if len(c.Scopes) == 0 {
			for _, s := range cfg.Scopes {
				c.Scopes = append(c.Scopes, s.Name)
			}
		}
		for _, s := range c.Scopes {
			if !seen[s] {
				return cfg, fmt.Errorf("devissuer: client %q: scope %q is not a configured custom scope", c.ID, s)
			}
		}
		for _, list := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs} {
			for _, r := range list {
				if ru, err := url.Parse(r); err != nil || !ru.IsAbs() || ru.Fragment != "" {
					return cfg, fmt.Errorf("devissuer: client %q: redirect URI %q must be absolute with no fragment", c.ID, r)
				}
			}
		}
	}

	cfg.Users = slices.Clone(cfg.Users)
	names := map[string]bool{}
	for i := range cfg.Users {
		u := &cfg.Users[i]
		if u.Username == "" || u.Password == "" {
			return cfg, fmt.Errorf("devissuer: user %d needs a username and a password", i+1)
		}
		if names[u.Username] {
			return cfg, fmt.Errorf("devissuer: user %q is configured twice", u.Username)
		}
		names[u.Username] = true
		if u.ID == "" {
			sum := sha256.Sum256([]byte(u.Username))
			u.ID = "00u" + base64.RawURLEncoding.EncodeToString(sum[:])[:17]
		}
		if u.Name == "" {
			u.Name = u.Username
		}
		if u.Email == "" && strings.Contains(u.Username, "@") {
			u.Email = u.Username
		}
	}
	return cfg, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3.
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// randomString returns n random bytes, base64url-encoded.
func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
