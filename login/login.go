package login

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/apiguard/apiguard"
	"github.com/apiguard/apiguard/internal/defaults"
	"github.com/apiguard/apiguard/internal/urlcheck"
	"github.com/apiguard/apiguard/session"
)

// Defaults for Config.
const (
	// DefaultRefreshBefore is how long before its expiry an access token is
	// refreshed.
	DefaultRefreshBefore = 2 * time.Minute
	// DefaultReturnTo is where the browser goes after login when /login had
	// no return_to.
	DefaultReturnTo = "/profile"
)

const (
	// loginTTL is how long a started login may take to come back.
	loginTTL = 10 * time.Minute
	// maxPending bounds the logins one browser may have in flight (tabs).
	maxPending = 5
	// touchEvery is how often a session in use is saved to restart its idle
	// timeout, at most.
	touchEvery = time.Minute
	// maxFormBytes caps the logout form.
	maxFormBytes = 64 << 10
)

// Config configures a Service. Issuer, ClientID and PublicURL are required.
type Config struct {
	// Issuer is the OpenID provider's issuer URL, exactly as in its tokens,
	// e.g. https://example.okta.com/oauth2/default. Its discovery document
	// gives the endpoints.
	Issuer string
	// ClientID and ClientSecret identify this application at the issuer.
	// With no secret the client is public and relies on PKCE alone.
	ClientID, ClientSecret string
	// PublicURL is the URL users reach the service at, e.g.
	// https://api.example.com (a load balancer in front of many
	// instances). The redirect URIs are PublicURL + "/login/callback" and
	// PublicURL + "/logout/callback". https makes the session cookie Secure
	// and __Host- prefixed. http is accepted on loopback hosts only, unless
	// InsecureAllowHTTP is set.
	PublicURL string
	// Scopes are requested at login. Default: openid profile email
	// offline_access (offline_access brings the refresh token). Add
	// "groups" and API scopes as the issuer allows.
	Scopes []string
	// Store keeps sessions. Default: an in-memory store (one instance).
	// Use a session.RedisStore to share sessions between instances.
	Store session.Store
	// HTTPClient talks to the issuer. Default: a client with a 10s timeout.
	HTTPClient *http.Client
	// AccessVerifier verifies access tokens, for Claims and for the scopes
	// shown on /profile. Optional; without it Claims fails and the profile
	// shows the scopes the token response reported.
	AccessVerifier *apiguard.Verifier
	// Logger receives one line per failure; never a token. Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// IdleTimeout and AbsoluteTimeout end sessions; defaults
	// session.DefaultIdleTimeout and session.DefaultAbsoluteTimeout.
	IdleTimeout, AbsoluteTimeout time.Duration
	// RefreshBefore is how long before expiry an access token is
	// refreshed; default DefaultRefreshBefore.
	RefreshBefore time.Duration
	// InsecureAllowHTTP allows an http:// PublicURL or issuer endpoints on
	// hosts that are not loopback. Never set it in production.
	InsecureAllowHTTP bool
}

var (
	// ErrNotLoggedIn is returned by Claims when the request has no session
	// with a logged-in user (no cookie, expired, logged out, or the refresh
	// token was revoked). Map it to 401.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrProvider is wrapped when the OpenID provider cannot be reached or
	// answers in a way that cannot be used. Map it to 502 or 503.
	ErrProvider = errors.New("identity provider failed")
)

// Service is the browser login. Create it with New, mount it with Register.
type Service struct {
	sessions      *session.Manager
	disc          *discovery
	idv           *apiguard.Verifier
	access        *apiguard.Verifier
	client        *http.Client
	log           *slog.Logger
	now           func() time.Time
	clientID      string
	clientSecret  string
	scopes        []string
	refreshBefore time.Duration

	base        string // PublicURL's path, no trailing slash
	callbackURL string // PublicURL + /login/callback
	loggedOut   string // PublicURL + /logout/callback
	cop         *http.CrossOriginProtection
	csp         string

	refreshes singleflight.Group
	recentMu  sync.Mutex
	recent    map[string]recentRefresh // by refresh token hash
}

// New validates cfg and returns a Service. It does not contact the issuer:
// discovery happens at the first login, so start-up survives an outage.
func New(cfg Config) (*Service, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("failed to configure login: no issuer")
	}
	if err := checkEndpoint(cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("failed to configure login: issuer: %w", err)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("failed to configure login: no client id")
	}
	pub, err := parsePublicURL(cfg.PublicURL, cfg.InsecureAllowHTTP)
	if err != nil {
		return nil, fmt.Errorf("failed to configure login: public URL: %w", err)
	}
	s := &Service{
		access:        cfg.AccessVerifier,
		client:        defaults.HTTPClient(cfg.HTTPClient),
		log:           defaults.Logger(cfg.Logger),
		now:           cfg.Now,
		clientID:      cfg.ClientID,
		clientSecret:  cfg.ClientSecret,
		scopes:        cfg.Scopes,
		refreshBefore: cfg.RefreshBefore,
		base:          strings.TrimSuffix(pub.Path, "/"),
		recent:        make(map[string]recentRefresh),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(s.scopes) == 0 {
		s.scopes = []string{"openid", "profile", "email", "offline_access"}
	}
	if !contains(s.scopes, "openid") {
		return nil, errors.New("failed to configure login: scopes must include openid")
	}
	if s.refreshBefore <= 0 {
		s.refreshBefore = DefaultRefreshBefore
	}
	origin := pub.Scheme + "://" + pub.Host
	s.callbackURL = origin + s.base + "/login/callback"
	s.loggedOut = origin + s.base + "/logout/callback"

	store := cfg.Store
	if store == nil {
		store = session.NewMemoryStore(session.MemoryConfig{Now: s.now})
	}
	s.sessions, err = session.New(session.Config{
		Store: store, Secure: pub.Scheme == "https", Now: s.now,
		IdleTimeout: cfg.IdleTimeout, AbsoluteTimeout: cfg.AbsoluteTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to configure login: %w", err)
	}
	s.idv, err = apiguard.New(apiguard.Config{
		Issuer: cfg.Issuer, Audience: cfg.ClientID, IDToken: true,
		HTTPClient: s.client, Now: s.now, Logger: s.log, InsecureAllowHTTP: cfg.InsecureAllowHTTP,
	})
	if err != nil {
		return nil, fmt.Errorf("failed to configure login: ID token verifier: %w", err)
	}
	s.disc = &discovery{issuer: cfg.Issuer, client: s.client, insecure: cfg.InsecureAllowHTTP}
	s.cop = http.NewCrossOriginProtection()
	if err := s.cop.AddTrustedOrigin(origin); err != nil {
		return nil, fmt.Errorf("failed to configure login: %w", err)
	}
	iu, _ := url.Parse(cfg.Issuer)
	s.csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'; form-action 'self' " +
		iu.Scheme + "://" + iu.Host
	return s, nil
}

func parsePublicURL(raw string, insecure bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("not set")
	}
	u, err := urlcheck.Base(raw)
	if err != nil {
		// Not echoed: it may hold a password.
		return nil, fmt.Errorf("%w; want scheme://host[:port][/path] with no user, query or fragment", err)
	}
	if err := checkEndpoint(raw, insecure); err != nil {
		return nil, err
	}
	return u, nil
}

// Register adds the login routes to mux: GET /login, GET /login/callback,
// GET /profile, GET and POST /logout, and GET /logout/callback.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /login", s.handleLogin)
	mux.HandleFunc("GET /login/callback", s.handleCallback)
	mux.HandleFunc("GET /profile", s.handleProfile)
	mux.HandleFunc("GET /logout", s.handleLogoutPage)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("GET /logout/callback", s.handleLoggedOut)
}

// RedirectURL returns the sign-in redirect URI to register at the issuer.
func (s *Service) RedirectURL() string { return s.callbackURL }

// PostLogoutRedirectURL returns the sign-out redirect URI to register at
// the issuer.
func (s *Service) PostLogoutRedirectURL() string { return s.loggedOut }

// path returns p under PublicURL's path.
func (s *Service) path(p string) string { return s.base + p }

// data is what the login keeps in a session.
type data struct {
	Pending []pending `json:"pending,omitempty"`
	User    *user     `json:"user,omitempty"`
	Tokens  *tokens   `json:"tokens,omitempty"`
}

// pending is a login in flight.
type pending struct {
	State    string    `json:"state"`
	Verifier string    `json:"verifier"`
	Nonce    string    `json:"nonce"`
	ReturnTo string    `json:"return_to"`
	Created  time.Time `json:"created"`
}

type user struct {
	Subject string   `json:"sub"`
	Name    string   `json:"name,omitempty"`
	Email   string   `json:"email,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

type tokens struct {
	Access  string    `json:"access"`
	Refresh string    `json:"refresh,omitempty"`
	ID      string    `json:"id,omitempty"`
	Expiry  time.Time `json:"expiry,omitzero"`
	Scopes  []string  `json:"scopes,omitempty"`
}

func decode(b []byte) *data {
	d := &data{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, d); err != nil {
			return &data{}
		}
	}
	return d
}

func (d *data) encode() []byte {
	b, _ := json.Marshal(d) // plain structs of strings and times
	return b
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// oauthConfig returns the OAuth 2.0 client for the discovered endpoints.
func (s *Service) oauthConfig(p *provider) *oauth2.Config {
	style := oauth2.AuthStyleInHeader
	if s.clientSecret == "" {
		style = oauth2.AuthStyleInParams
	}
	return &oauth2.Config{
		ClientID:     s.clientID,
		ClientSecret: s.clientSecret,
		Endpoint:     oauth2.Endpoint{AuthURL: p.AuthorizationURL, TokenURL: p.TokenURL, AuthStyle: style},
		RedirectURL:  s.callbackURL,
		Scopes:       s.scopes,
	}
}
